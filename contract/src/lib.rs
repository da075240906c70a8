//! Renraku's HTTP API contract: every request and response body of `/api`, and the enums in
//! them, as the server sends and reads them. The server serves exactly these types (and
//! derives its OpenAPI document from them with the `openapi` feature), the web app reads and
//! sends them, and the tests' typed client (`renraku_tests::api`) uses them — so a field
//! renamed here is renamed for all three, and `contract/openapi.json` shows the change.
//!
//! Ids are `renraku_sync`'s typed ids (JSON integers); every enum is a snake_case string.
//! No I/O, no server dependencies: this crate builds for the wasm app too.

mod account;
mod acks;
mod admin;
#[macro_use]
mod enums;
mod error;
pub mod jst;
mod parking;
mod register;
mod rooms;
mod search;
mod templates;
mod tiles;

pub use account::*;
pub use acks::*;
pub use admin::*;
pub use enums::*;
pub use error::*;
pub use parking::*;
pub use register::*;
pub use rooms::*;
pub use search::*;
pub use templates::*;
pub use tiles::*;

pub use renraku_sync::{
    MunicipalityId, OrganizationId, PatientId, RoomId, RoomKind, TemplateId, UserId,
};
