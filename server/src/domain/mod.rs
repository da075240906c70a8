//! The domain rules, in one place, free of HTTP and SQL: every entry point (the API, the
//! admin API, the sync socket, `renraku import`, the CLI) asks these, so a value or a
//! membership refused through one is refused through all of them.
//!
//! - [`tenancy`]: who may be a member of, and write in, a room;
//! - [`text`]: names, titles and free text (bounded, no control characters);
//! - [`patient`]: a patient's fields;
//! - [`register`]: the 要援護者名簿: who sees which entry, who changes what, an entry's fields;
//! - [`parking`]: the 駐車場: who sees and books what, availability, a booking's fields;
//! - [`audit`]: the catalogue of audit actions.

pub mod audit;
pub mod parking;
pub mod patient;
pub mod register;
pub mod tenancy;
pub mod text;
