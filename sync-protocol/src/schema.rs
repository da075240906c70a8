//! The shape of a room document, shared by the typed API (`room.rs`) and the validator.
//!
//! Every value lives directly under one of the root maps, as a plain (JSON-like) value: no
//! nested shared types. That keeps each write attributable to one key whose owner is known,
//! which is what lets the server validate an update from its bytes alone (see `validate.rs`),
//! and it avoids the lost-write race of two offline clients each creating the same nested map.

use crate::ids::{PostId, UserId};
use yrs::Any;

/// Root map names. Do not rename: they are the stored format and the Yjs clients' contract.
pub const POSTS: &str = "posts";
pub const REACTIONS: &str = "reactions";
pub const PINS: &str = "pins";
pub const READ: &str = "read";
pub const ACKS: &str = "acks";

/// The root maps of a room document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// post id → post value; written only by the post's author.
    Posts,
    /// `"{post id}/{user id}"` → reaction kind; written only by that user.
    Reactions,
    /// post id → `{by, at}`; any member may pin or unpin for the whole team.
    Pins,
    /// user id → `{post, at}`: how far that user has read; written only by that user.
    Read,
    /// `"{post id}/{user id}"` → `{at}`: that user acknowledged a post that asked them to
    /// (要確認); written only by that user, and only if the post's request names them or the
    /// whole team.
    Acks,
}

impl Root {
    pub const ALL: [Root; 5] = [
        Root::Posts,
        Root::Reactions,
        Root::Pins,
        Root::Read,
        Root::Acks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Root::Posts => POSTS,
            Root::Reactions => REACTIONS,
            Root::Pins => PINS,
            Root::Read => READ,
            Root::Acks => ACKS,
        }
    }

    pub fn from_name(name: &str) -> Option<Root> {
        Root::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Key of one user's reaction to one post.
pub fn reaction_key(post: &PostId, user: UserId) -> String {
    format!("{post}/{user}")
}

/// Splits a reaction key into its post and user.
pub fn parse_reaction_key(key: &str) -> Option<(PostId, UserId)> {
    let (post, user) = key.split_once('/')?;
    Some((PostId::parse(post)?, user.parse().ok()?))
}

/// Key of one user's acknowledgement of one post (the same shape as a reaction's).
pub fn ack_key(post: &PostId, user: UserId) -> String {
    reaction_key(post, user)
}

/// Reads a user id that a client may have written as a string (our clients) or a number.
pub fn any_user_id(value: &Any) -> Option<UserId> {
    match value {
        Any::String(s) => s.parse().ok(),
        Any::Number(n) => n.as_i64().map(UserId::new),
        _ => None,
    }
}

pub fn any_i64(value: &Any) -> Option<i64> {
    match value {
        Any::Number(n) => n.as_i64(),
        _ => None,
    }
}

pub fn any_str(value: &Any) -> Option<&str> {
    match value {
        Any::String(s) => Some(s),
        _ => None,
    }
}

/// A field of a map value, if the value is a map.
pub fn field<'a>(value: &'a Any, name: &str) -> Option<&'a Any> {
    match value {
        Any::Map(m) => m.get(name),
        _ => None,
    }
}
