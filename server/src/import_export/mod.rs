//! `renraku import` / `renraku export`: the whole data set — municipalities, agreements,
//! organizations, users, patients, rooms with members, posts (threads), reactions and pins —
//! in one documented JSON format (docs/import-format.md).
//!
//! - [`parse`] is a pure function from bytes to a checked [`Dataset`]: syntax, types and
//!   cross-references are all checked before the database is touched, and the first bad row
//!   is named by its JSON path (and line, for syntax errors).
//! - [`import`] first checks the data set against the database (`placement`: the tenancy
//!   rule for every member and author, records staying in their municipality), then writes
//!   it in ONE transaction: all or nothing. Records carry stable
//!   external ids (kept in `external_ids`), so running the same import again updates in place
//!   and duplicates nothing; posts keep their ULIDs, so the room documents get only what is
//!   new.
//! - [`export`] writes the same format, reusing the external ids a record was imported with.
//!
//! The rules (format, placement) are here; reading and writing the database is in
//! `db::transfer`.

pub(crate) mod format;
pub(crate) mod placement;

pub use crate::db::import_export::{export, import, ImportReport};
pub use format::{parse, Dataset, ImportError, FORMAT};
