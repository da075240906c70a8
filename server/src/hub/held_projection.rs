//! The projection the writer holds between an acknowledged commit and its own write
//! ([`crate::db::Backend::projects_after_commit`]): each room's touched posts, read markers
//! and acknowledgements as they last stood — a post written twice in the meantime is
//! written once, as it stands — and how far each room's log it covers.

use crate::db::posts::Projection;
use renraku_sync::{Post, PostId, ReadMarker, RoomId, UserId};
use std::collections::HashMap;

/// Entries held at most before the writer writes them without waiting for its tick: a busy
/// server writes the projection in pieces this small, because the writer takes no commit
/// while it writes one (4,096 doubled the p99 at 1,000–2,000 updates/s: bench/HISTORY.md).
pub const HOLD_AT_MOST: usize = 64;

#[derive(Default)]
pub struct HeldProjection {
    rooms: HashMap<RoomId, HeldRoom>,
    entries: usize,
}

struct HeldRoom {
    doc: String,
    upto: i64,
    /// In the order first written (the order their rows are inserted in), each as it last
    /// stood.
    posts: Vec<(PostId, Option<Post>)>,
    post_at: HashMap<PostId, usize>,
    reads: HashMap<UserId, Option<ReadMarker>>,
    acks: HashMap<(PostId, UserId), Option<i64>>,
}

impl HeldProjection {
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Whether so much is held that it should be written now.
    pub fn is_full(&self) -> bool {
        self.entries >= HOLD_AT_MOST
    }

    /// Holds what a committed share of `doc` wrote, its log now stored up to `upto`.
    pub fn hold(&mut self, doc: &str, upto: i64, projection: Projection) {
        let room = self
            .rooms
            .entry(projection.room)
            .or_insert_with(|| HeldRoom {
                doc: doc.to_owned(),
                upto,
                posts: Vec::new(),
                post_at: HashMap::new(),
                reads: HashMap::new(),
                acks: HashMap::new(),
            });
        room.upto = room.upto.max(upto);
        for (id, post) in projection.posts {
            match room.post_at.get(&id) {
                Some(&at) => room.posts[at].1 = post,
                None => {
                    room.post_at.insert(id.clone(), room.posts.len());
                    room.posts.push((id, post));
                    self.entries += 1;
                }
            }
        }
        for (user, marker) in projection.reads {
            if room.reads.insert(user, marker).is_none() {
                self.entries += 1;
            }
        }
        for (post, user, at) in projection.acks {
            if room.acks.insert((post, user), at).is_none() {
                self.entries += 1;
            }
        }
    }

    /// Everything held, as one projection per room and each room document's mark; leaves
    /// nothing held.
    pub fn take(&mut self) -> (Vec<Projection>, Vec<(String, i64)>) {
        self.entries = 0;
        let mut projections = Vec::with_capacity(self.rooms.len());
        let mut marks = Vec::with_capacity(self.rooms.len());
        for (room, held) in self.rooms.drain() {
            marks.push((held.doc, held.upto));
            projections.push(Projection {
                room,
                posts: held.posts,
                reads: held.reads.into_iter().collect(),
                acks: held
                    .acks
                    .into_iter()
                    .map(|((post, user), at)| (post, user, at))
                    .collect(),
            });
        }
        (projections, marks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &PostId, text: &str) -> Post {
        Post {
            id: id.clone(),
            author: UserId::new(1),
            created_at: 1,
            text: text.into(),
            parent: None,
            attachments: vec![],
            edited_at: None,
            deleted: false,
            ack: None,
            urgent: false,
        }
    }

    #[test]
    fn a_post_written_twice_while_held_is_written_once_as_it_last_stood() {
        let room = RoomId::new(7);
        let a = PostId::parse("01HZZZZZZZZZZZZZZZZZZZZZZA").unwrap();
        let b = PostId::parse("01HZZZZZZZZZZZZZZZZZZZZZZB").unwrap();
        let mut held = HeldProjection::default();
        let batch = |posts| Projection {
            room,
            posts,
            reads: vec![],
            acks: vec![],
        };
        held.hold(
            "room/7",
            3,
            batch(vec![(a.clone(), Some(post(&a, "first")))]),
        );
        held.hold(
            "room/7",
            5,
            batch(vec![(b.clone(), Some(post(&b, "other")))]),
        );
        held.hold(
            "room/7",
            4,
            batch(vec![(a.clone(), Some(post(&a, "edited")))]),
        );
        let (projections, marks) = held.take();
        assert_eq!(marks, [("room/7".to_owned(), 5)], "the highest seq held");
        let texts: Vec<_> = projections[0]
            .posts
            .iter()
            .map(|(id, p)| (id.clone(), p.as_ref().map(|p| p.text.clone())))
            .collect();
        assert_eq!(
            texts,
            [(a, Some("edited".into())), (b, Some("other".into()))],
            "first-written order, last text"
        );
        assert!(held.is_empty());
    }
}
