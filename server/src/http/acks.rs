//! The 「確認待ち」 list: acknowledgement requests (要確認) waiting for me, and mine still
//! waiting for others. The acknowledgements themselves are writes in the room documents.

use crate::auth::CurrentUser;
use crate::error::Result;
use crate::AppState;
use axum::extract::State;
use axum::Json;
pub use renraku_contract::AckInbox;

/// Requests waiting for me (overdue first) and my requests still waiting for others, in the
/// rooms I am a member of.
#[utoipa::path(get, path = "/api/acks", tag = "rooms",
    responses((status = 200, body = AckInbox),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn inbox(State(state): State<AppState>, user: CurrentUser) -> Result<Json<AckInbox>> {
    let now = state.clock.now_ms();
    Ok(Json(state.db.ack_inbox(user.id, now).await?))
}
