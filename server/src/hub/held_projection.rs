//! The projection the writer holds between an acknowledged commit and its own write
//! ([`crate::db::Backend::projects_after_commit`]): each room's touched posts, read markers
//! and acknowledgements as they last stood — a post written twice in the meantime is
//! written once, as it stands — and how far each room's log it covers.

use crate::db::posts::Projection;
use renraku_sync::{Post, PostId, ReadMarker, RoomId, UserId};
use std::collections::{HashMap, VecDeque};

/// Entries a piece of the projection holds at least (whole rooms, so it may hold more): the
/// writer takes no commit while it writes one, and writing hundreds of posts at once doubled
/// the p99 at 1,000–2,000 updates/s (bench/HISTORY.md).
pub const PIECE: usize = 128;

/// Entries held at most: past this, what is held is written without waiting for the tick
/// (a bound on memory; a tick's worth at 4,000 updates/s is ~800).
pub const HOLD_AT_MOST: usize = 8_192;

#[derive(Default)]
pub struct HeldProjection {
    rooms: HashMap<RoomId, HeldRoom>,
    /// The rooms held, in the order they were first held since last written: a piece
    /// ([`HeldProjection::take_piece`]) takes the longest-waiting first, so no room's
    /// projection trails for long however busy the others are.
    order: VecDeque<RoomId>,
    /// How many of the rooms first in `order` are due to be written, piece by piece: those
    /// held when the writer's tick last came ([`HeldProjection::tick`]).
    due: usize,
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

    /// Whether a piece is due: rooms held at the last tick are still to be written, or so
    /// much is held that it should be written now.
    pub fn piece_due(&self) -> bool {
        self.due > 0 || self.entries >= HOLD_AT_MOST
    }

    /// The writer's tick: every room held now is due, to be written piece by piece; rooms
    /// held from now on wait for the next tick. A room's posts are written together, one
    /// write a tick however many commits carried them: each write of a room touches its own
    /// pages of the posts' indexes, so writing after every commit wrote the same pages over.
    pub fn tick(&mut self) {
        self.due = self.order.len();
    }

    /// Holds what a committed share of `doc` wrote, its log now stored up to `upto`.
    pub fn hold(&mut self, doc: &str, upto: i64, projection: Projection) {
        let order = &mut self.order;
        let room = self.rooms.entry(projection.room).or_insert_with(|| {
            order.push_back(projection.room);
            HeldRoom {
                doc: doc.to_owned(),
                upto,
                posts: Vec::new(),
                post_at: HashMap::new(),
                reads: HashMap::new(),
                acks: HashMap::new(),
            }
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
        self.take_rooms(usize::MAX)
    }

    /// A piece of what is held: whole rooms, those held longest first, until at least
    /// [`PIECE`] entries (or everything, if less is held). The writer takes no
    /// commit while it writes one, so a busy server writes the projection in pieces this
    /// small between its commits rather than all it holds at once.
    pub fn take_piece(&mut self) -> (Vec<Projection>, Vec<(String, i64)>) {
        self.take_rooms(PIECE)
    }

    fn take_rooms(&mut self, at_least: usize) -> (Vec<Projection>, Vec<(String, i64)>) {
        let mut projections = Vec::new();
        let mut marks = Vec::new();
        let mut taken = 0;
        while taken < at_least {
            let Some(room) = self.order.pop_front() else {
                break;
            };
            let Some(held) = self.rooms.remove(&room) else {
                continue;
            };
            self.due = self.due.saturating_sub(1);
            taken += held.posts.len() + held.reads.len() + held.acks.len();
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
        self.entries = self.entries.saturating_sub(taken);
        if self.rooms.is_empty() {
            self.due = 0;
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

    /// Rooms are written one tick's worth at a time, piece by piece, those held longest
    /// first; a room held after the tick waits for the next one, unless so much is held that
    /// it must be written anyway.
    #[test]
    fn a_tick_makes_what_is_held_due_in_pieces_oldest_rooms_first() {
        let mut held = HeldProjection::default();
        let hold = |held: &mut HeldProjection, room: i64, posts: usize| {
            let posts = (0..posts)
                .map(|i| {
                    let id =
                        PostId::parse(&format!("01HZZZZZZZZZZZZZZZZZ{room:03}{i:03}")).unwrap();
                    let post = post(&id, "x");
                    (id, Some(post))
                })
                .collect();
            let projection = Projection {
                room: RoomId::new(room),
                posts,
                reads: vec![],
                acks: vec![],
            };
            held.hold(&format!("room/{room}"), 1, projection);
        };
        for room in 1..=4 {
            hold(&mut held, room, PIECE / 2);
        }
        assert!(!held.piece_due(), "held, but no tick yet");
        held.tick();
        // Held after the tick: waits for the next.
        hold(&mut held, 5, 1);
        let rooms = |marks: Vec<(String, i64)>| -> Vec<String> {
            marks.into_iter().map(|(doc, _)| doc).collect()
        };
        assert!(held.piece_due());
        assert_eq!(rooms(held.take_piece().1), ["room/1", "room/2"]);
        assert!(held.piece_due());
        assert_eq!(rooms(held.take_piece().1), ["room/3", "room/4"]);
        assert!(!held.piece_due(), "room/5 came after the tick");
        assert!(!held.is_empty());
        // So much held that it is written without waiting for the tick.
        for room in 6..6 + (HOLD_AT_MOST / PIECE) as i64 * 2 {
            hold(&mut held, room, PIECE / 2);
        }
        assert!(held.piece_due());
        assert_eq!(rooms(held.take_piece().1), ["room/5", "room/6", "room/7"]);
        // Everything, when a reader waits.
        held.take();
        assert!(held.is_empty() && !held.piece_due());
    }
}
