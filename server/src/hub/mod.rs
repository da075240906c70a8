//! The realtime sync hub: `/ws` and `/yjs/{room}` connections, one task per loaded document.

mod activity;
mod caps;
mod conn;
mod held_projection;
mod limits;
mod live;
pub mod maintenance;
mod outbox;
mod registry;
mod room;
mod socket;
mod stored;
mod writer;

pub use limits::{ConnCaps, ConnLimits};
pub use registry::{Hub, HubConfig};

use crate::AppState;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws", get(conn::ws_handler))
        .route("/yjs/{room}", get(conn::yjs_handler))
}
