//! The 「確認待ち」 list of the home screen: acknowledgement requests (要確認) waiting for
//! the user, and the user's own requests still waiting for others.

use renraku_sync::{RoomId, RoomKind, UserId};
use serde::{Deserialize, Serialize};

/// One open request, as the home screen lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckItem {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
    pub room_kind: RoomKind,
    /// The room as the home screen names it: the patient's name in a patient room, else the
    /// room's title.
    pub room_title: String,
    /// The post's id (a ULID).
    pub post: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub author: UserId,
    pub author_name: String,
    /// The start of the post's text.
    pub excerpt: String,
    /// When the post was written (unix ms, the writer's clock).
    pub created_at: i64,
    /// The deadline (unix ms), if any.
    pub due_at: Option<i64>,
    /// 至急.
    pub urgent: bool,
    /// People asked who have acknowledged.
    pub acked: i64,
    /// People asked.
    pub asked: i64,
}

/// `GET /api/acks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckInbox {
    /// Requests asking me that I have not acknowledged: overdue first, then urgent, then by
    /// deadline, then the newest.
    pub waiting_for_me: Vec<AckItem>,
    /// My requests that someone has not acknowledged yet.
    pub mine: Vec<AckItem>,
}
