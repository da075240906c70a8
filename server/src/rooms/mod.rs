//! The realtime sync hub: `/ws` and `/yjs/{room}` connections, one task per loaded document.

mod conn;
mod hub;
mod limits;
mod live;
pub mod maintenance;
mod room;
mod writer;

pub use hub::{Hub, HubConfig};
pub use limits::ConnLimits;

use crate::AppState;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws", get(conn::ws_handler))
        .route("/yjs/{room}", get(conn::yjs_handler))
}
