//! `PersonalDoc`: one per user, so that pinned rooms and read positions follow the user across
//! devices and sync offline like any room.

use crate::ids::{PostId, RoomId};
use crate::schema::{any_i64, any_str, field, Root};
use std::collections::HashMap;
use yrs::{Any, ClientID, Doc, Map, MapRef, Options, Out, Transact};

pub struct PersonalDoc {
    doc: Doc,
    pins: MapRef,
    read: MapRef,
}

impl PersonalDoc {
    pub fn new(client_id: u64) -> Self {
        let doc = Doc::with_options(Options {
            client_id: ClientID::new(client_id & ((1 << 53) - 1)),
            ..Options::default()
        });
        let pins = doc.get_or_insert_map(Root::Pins.name());
        let read = doc.get_or_insert_map(Root::Read.name());
        Self { doc, pins, read }
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    fn write(&self, map: &MapRef, key: &str, value: Option<Any>) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        match value {
            Some(v) => {
                map.insert(&mut txn, key, v);
            }
            None => {
                map.remove(&mut txn, key);
            }
        }
        txn.encode_update_v1()
    }

    pub fn pin_room(&self, room: RoomId, now_ms: i64) -> Vec<u8> {
        let value = Any::from(HashMap::from([("at".to_owned(), Any::from(now_ms))]));
        self.write(&self.pins, &room.to_string(), Some(value))
    }

    pub fn unpin_room(&self, room: RoomId) -> Vec<u8> {
        self.write(&self.pins, &room.to_string(), None)
    }

    pub fn mark_room_read(&self, room: RoomId, post: &PostId, now_ms: i64) -> Vec<u8> {
        let value = Any::from(HashMap::from([
            ("post".to_owned(), Any::from(post.as_str())),
            ("at".to_owned(), Any::from(now_ms)),
        ]));
        self.write(&self.read, &room.to_string(), Some(value))
    }

    /// Pinned rooms, the most recently pinned first.
    pub fn pinned_rooms(&self) -> Vec<(RoomId, i64)> {
        let txn = self.doc.transact();
        let mut pins: Vec<(RoomId, i64)> = self
            .pins
            .iter(&txn)
            .filter_map(|(k, v)| {
                let Out::Any(v) = v else { return None };
                Some((k.parse().ok()?, any_i64(field(&v, "at")?)?))
            })
            .collect();
        pins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        pins
    }

    /// The last post read in `room`.
    pub fn last_read(&self, room: RoomId) -> Option<PostId> {
        let txn = self.doc.transact();
        match self.read.get(&txn, &room.to_string())? {
            Out::Any(v) => PostId::parse(any_str(field(&v, "post")?)?),
            _ => None,
        }
    }
}
