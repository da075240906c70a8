//! Acknowledgement requests (要確認) and urgent posts (至急): the part of a post value that
//! asks named members — or the whole care team — to acknowledge it, optionally by a
//! deadline, and the acknowledgements themselves (the `acks` root, one key per post and user,
//! written by that user alone; see `validate.rs`).

use crate::ids::{PostId, UserId};
use crate::schema::{any_i64, any_user_id, field};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use yrs::Any;

/// Most members one post may name. A care team is a handful of people; a room of hundreds
/// asks the whole team instead.
pub const MAX_ACK_RECIPIENTS: usize = 100;

/// Who a post asks to acknowledge it, and by when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    /// The whole care team (every member but the author) — then `to` is empty.
    pub everyone: bool,
    /// The members asked, by id, in id order, without the author.
    pub to: Vec<UserId>,
    /// The deadline (Unix ms), if any.
    pub due: Option<i64>,
}

impl AckRequest {
    /// Whether `user` is asked (the author never is).
    pub fn asks(&self, user: UserId, author: UserId) -> bool {
        user != author && (self.everyone || self.to.contains(&user))
    }

    /// The people asked, given the room's members (for a whole-team request).
    pub fn recipients(
        &self,
        author: UserId,
        members: impl IntoIterator<Item = UserId>,
    ) -> Vec<UserId> {
        let mut out: Vec<UserId> = if self.everyone {
            members.into_iter().filter(|u| *u != author).collect()
        } else {
            self.to.iter().copied().filter(|u| *u != author).collect()
        };
        out.sort();
        out.dedup();
        out
    }
}

/// One acknowledgement: who, and when (their device's idea of the server's time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub user: UserId,
    pub at: i64,
}

/// A request's standing: who was asked, who acknowledged (and when), who has not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckStatus {
    pub post: PostId,
    pub request: AckRequest,
    /// Acknowledgements by people asked, oldest first.
    pub acked: Vec<Ack>,
    /// People asked who have not acknowledged, in id order.
    pub missing: Vec<UserId>,
}

impl AckStatus {
    /// Everyone asked has acknowledged (and someone was asked).
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && !self.acked.is_empty()
    }

    /// Past the deadline with people missing.
    pub fn overdue(&self, now_ms: i64) -> bool {
        !self.missing.is_empty() && self.request.due.is_some_and(|d| d <= now_ms)
    }
}

pub(crate) fn request_to_any(request: &AckRequest) -> Any {
    Any::from(HashMap::from([
        ("all".to_owned(), Any::from(request.everyone)),
        (
            "to".to_owned(),
            Any::from(
                request
                    .to
                    .iter()
                    .map(|u| Any::from(u.to_string()))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "due".to_owned(),
            request.due.map(Any::from).unwrap_or(Any::Null),
        ),
    ]))
}

/// Reads the `ack` field of a post value: `Some(None)` when absent, `None` when malformed
/// (the server refuses such a post).
pub(crate) fn request_from_any(value: Option<&Any>) -> Option<Option<AckRequest>> {
    let value = match value {
        None | Some(Any::Null) | Some(Any::Undefined) => return Some(None),
        Some(v @ Any::Map(_)) => v,
        Some(_) => return None,
    };
    let everyone = match field(value, "all") {
        None | Some(Any::Null) | Some(Any::Undefined) => false,
        Some(Any::Bool(b)) => *b,
        Some(_) => return None,
    };
    let mut to = match field(value, "to") {
        None | Some(Any::Null) | Some(Any::Undefined) => vec![],
        Some(Any::Array(items)) => {
            if items.len() > MAX_ACK_RECIPIENTS {
                return None;
            }
            items.iter().map(any_user_id).collect::<Option<Vec<_>>>()?
        }
        Some(_) => return None,
    };
    to.sort();
    to.dedup();
    let due = match field(value, "due") {
        None | Some(Any::Null) | Some(Any::Undefined) => None,
        Some(v) => Some(any_i64(v)?),
    };
    // A request asks someone: the whole team or named members, not both, not nobody.
    if everyone != to.is_empty() {
        return None;
    }
    Some(Some(AckRequest { everyone, to, due }))
}

/// Reads an acknowledgement value (`{at}`).
pub(crate) fn ack_at(value: &Any) -> Option<i64> {
    field(value, "at").and_then(any_i64)
}

pub(crate) fn ack_to_any(at: i64) -> Any {
    Any::from(HashMap::from([("at".to_owned(), Any::from(at))]))
}
