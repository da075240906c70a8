//! Renraku's shared core: typed ids, the room document schema over yrs, the wire frames and
//! the validation rules the server applies to every update. Sans-IO: no tokio, no sqlx, so
//! the same code runs in the server and, compiled to wasm, in the app.

pub mod ack;
pub mod client;
pub mod clock;
pub mod conn_refusal;
pub mod error;
pub mod frame;
pub mod ids;
pub mod personal;
pub mod room;
pub mod schema;
pub mod search;
pub mod server_doc;
pub mod session_end;
pub mod update;
pub mod validate;

pub use ack::{Ack, AckRequest, AckStatus};
pub use client::{ClientSession, Effect, MemoryOutbox, Outbox, OutboxEntry};
pub use conn_refusal::ConnRefusal;
pub use error::{Error, Result};
pub use frame::{DocId, Frame};
pub use ids::*;
pub use personal::PersonalDoc;
pub use room::{PinnedPost, Post, Reaction, ReactionCount, ReadMarker, RoomDoc, Thread};
pub use server_doc::{Checked, ServerDoc};
pub use session_end::SessionEnd;
pub use validate::{validate, Accepted, PersonalPolicy, Policy, RoomPolicy, SlotIndex, Violation};

/// Re-exported so users of the schema agree on one yrs.
pub use yrs;
