//! Search over the posts of the rooms one is a member of (`GET /api/search`). What matches
//! is `renraku_sync::search`'s rule, on the server and on the device alike.

use renraku_sync::{RoomId, RoomKind, UserId};
use serde::{Deserialize, Serialize};

/// One post found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
    pub room_kind: RoomKind,
    /// The patient's name in a patient room, else the room's title.
    pub room_title: String,
    /// The post's id (a ULID): the room opens at it.
    pub post: String,
    /// The thread the post replies to, if it is a reply.
    pub parent: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub author: UserId,
    pub author_name: String,
    /// When it was written (unix ms, the writer's clock).
    pub created_at: i64,
    /// The post's text.
    pub text: String,
    /// Where the terms occur in `text`: `[start, end)` in characters (Unicode scalar values).
    pub highlights: Vec<[usize; 2]>,
    /// The names of the post's files (uploaded so far): a post is also found by them.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// `GET /api/search`: the newest matches first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// More posts match than were returned: narrow the search (or page with `before`).
    pub more: bool,
}
