//! The realtime sync hub: `/ws` and `/yjs/{room}` connections, one task per loaded document.

mod caps;
mod conn;
mod hub;
mod limits;
mod live;
pub mod maintenance;
mod outbox;
mod room;
mod writer;

pub use hub::{Hub, HubConfig};
pub use limits::{ConnCaps, ConnLimits};

use crate::AppState;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws", get(conn::ws_handler))
        .route("/yjs/{room}", get(conn::yjs_handler))
}
