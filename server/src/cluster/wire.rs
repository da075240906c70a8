//! What nodes tell each other over NATS, and under which subjects. Postcard, like the
//! frames the app speaks: small, and both ends are this same binary.

use crate::db::sessions::SessionId;
use renraku_sync::{DocId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Updates a node stored for one document, under consecutive seqs from `first_seq`: already
/// committed to the shared database when this is sent, so a node that misses it can read
/// the same rows there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomNews {
    pub doc: DocId,
    pub first_seq: i64,
    pub updates: Vec<ByteBuf>,
}

impl RoomNews {
    /// The seq of the last update.
    pub fn last_seq(&self) -> i64 {
        self.first_seq + self.updates.len() as i64 - 1
    }
}

/// Presence in a document (y-protocols awareness), already checked and stamped with its
/// sender by the node it came in on. Stored nowhere: a lost one is renewed within seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub doc: DocId,
    pub message: ByteBuf,
}

/// A decision that reaches open sockets, whichever node holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Order {
    /// Close every socket of a user (account disabled, password reset, maintenance).
    DisconnectUser { user: UserId, reason: String },
    /// Close every socket of one session.
    EndSession { session: SessionId, reason: String },
    /// Stop serving a document to a user (removed from the room).
    CloseDoc { user: UserId, doc: DocId },
    /// Send an encoded frame to every `/ws` socket of these users (room activity, register
    /// news), but those that have the room it is `about` open.
    Tell {
        users: Vec<UserId>,
        about: Option<RoomId>,
        frame: ByteBuf,
    },
}

/// Subjects under a deployment's prefix: `<p>.doc.<kind>.<id>` for stored updates,
/// `<p>.presence.<kind>.<id>` for presence, `<p>.order` for decisions.
#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

/// What a message on one of our subjects is.
#[derive(Debug, PartialEq)]
pub enum Received {
    News(RoomNews),
    Presence(Presence),
    Order(Order),
}

impl Subjects {
    pub fn new(prefix: &str) -> Subjects {
        Subjects {
            prefix: prefix.trim_end_matches('.').to_owned(),
        }
    }

    /// Everything of this deployment, for the one subscription each node holds.
    pub fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }

    pub fn news(&self, doc: DocId) -> String {
        format!(
            "{}.doc.{}",
            self.prefix,
            doc.storage_key().replace('/', ".")
        )
    }

    pub fn presence(&self, doc: DocId) -> String {
        format!(
            "{}.presence.{}",
            self.prefix,
            doc.storage_key().replace('/', ".")
        )
    }

    pub fn order(&self) -> String {
        format!("{}.order", self.prefix)
    }

    /// Reads a message by its subject; `None` for a subject or payload not ours.
    pub fn read(&self, subject: &str, payload: &[u8]) -> Option<Received> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let kind = rest.split('.').next()?;
        match kind {
            "doc" => postcard::from_bytes(payload).ok().map(Received::News),
            "presence" => postcard::from_bytes(payload).ok().map(Received::Presence),
            "order" => postcard::from_bytes(payload).ok().map(Received::Order),
            _ => None,
        }
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("cluster messages always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use renraku_sync::RoomId;

    #[test]
    fn messages_read_back_under_their_subjects_and_only_ours() {
        let subjects = Subjects::new("renraku");
        let doc = DocId::Room(RoomId::new(12));
        let news = RoomNews {
            doc,
            first_seq: 41,
            updates: vec![ByteBuf::from(vec![1, 2]), ByteBuf::from(vec![3])],
        };
        assert_eq!(news.last_seq(), 42);
        assert_eq!(subjects.news(doc), "renraku.doc.room.12");
        assert_eq!(
            subjects.read(&subjects.news(doc), &encode(&news)),
            Some(Received::News(news.clone()))
        );
        let order = Order::DisconnectUser {
            user: UserId::new(5),
            reason: "account_disabled".into(),
        };
        assert_eq!(
            subjects.read(&subjects.order(), &encode(&order)),
            Some(Received::Order(order))
        );
        // Another deployment's prefix, or bytes that are not a message, are not ours.
        let other = Subjects::new("staging");
        assert_eq!(other.read(&subjects.news(doc), &encode(&news)), None);
        assert_eq!(subjects.read(&subjects.order(), &[0xff, 0xff, 0xff]), None);
    }
}
