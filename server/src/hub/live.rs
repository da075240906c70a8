//! Which WebSocket connections each user has open, and through which session, so that a
//! session ending (sign-out, revocation, expiry, a password change) or an administrator's
//! decision (disabling an account, revoking a certificate, removing someone from a room)
//! reaches live sockets at once instead of at their next reconnect.

use super::conn::{ConnId, Wire};
use super::outbox::Outbox;
use crate::db::sessions::SessionId;
use renraku_sync::{DocId, RoomId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a connection is told to do from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Close the socket with this reason: its session ended, the account was disabled, a
    /// maintenance window opened.
    Disconnect { reason: &'static str },
    /// Stop serving one document: the user was removed from the room.
    CloseDoc(DocId),
    /// Send this encoded frame (`/ws` only): news for the user, such as a new post in one
    /// of their rooms (`activity.rs`).
    Frame(axum::body::Bytes),
}

/// News for users' `/ws` sockets: an encoded frame, and the room it is about, if any. A
/// socket that has that room open is not told: the update itself reached it, and its
/// client reads the news from it (`renraku_sync::ClientSession`). Most of a busy room's
/// news went to such sockets, each one woken, written to and read for nothing.
#[derive(Clone, Debug)]
pub struct News {
    pub about: Option<RoomId>,
    pub frame: axum::body::Bytes,
}

/// The rooms a connection has open, kept by the connection and read by whoever tells news.
#[derive(Clone, Default)]
pub struct OpenRooms(Arc<Mutex<Vec<RoomId>>>);

impl OpenRooms {
    pub(super) fn opened(&self, room: RoomId) {
        let mut rooms = self.0.lock().expect("open rooms lock");
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }

    pub(super) fn closed(&self, room: RoomId) {
        self.0
            .lock()
            .expect("open rooms lock")
            .retain(|r| *r != room);
    }

    pub(super) fn clear(&self) {
        self.0.lock().expect("open rooms lock").clear();
    }

    fn has(&self, room: RoomId) -> bool {
        self.0.lock().expect("open rooms lock").contains(&room)
    }
}

/// Whether a connection may still be served. Cleared (before the connection is told to
/// close) by whoever ends it: from then on nothing it sends is stored or delivered, and
/// nothing more is sent to it, even before its task has seen the order to close.
#[derive(Clone, Debug)]
pub struct Alive(Arc<AtomicBool>);

impl Alive {
    pub(super) fn new() -> Alive {
        Alive(Arc::new(AtomicBool::new(true)))
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(super) fn end(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

struct Entry {
    conn: ConnId,
    session: SessionId,
    /// Orders go ahead of the frames waiting in the connection's outbox.
    tx: Outbox,
    alive: Alive,
    /// Whether it speaks frames (`/ws`), so is told news (`Control::Frame`). A `/yjs`
    /// socket would only wake to drop them.
    hears_news: bool,
    rooms: OpenRooms,
}

/// The live connections of every user on this node.
#[derive(Default)]
pub struct LiveConnections {
    /// A user has one socket or a few (a phone, a desk): a vector each, not a map, which
    /// would keep room for several entries for every connected user.
    by_user: Mutex<HashMap<UserId, Vec<Entry>>>,
    /// Connections that hear news: while there is none, news need not even be prepared.
    hearing: AtomicUsize,
}

impl LiveConnections {
    /// Registers a connection of `user` through `session`, told its orders through its
    /// `outbox`, with the rooms it has open; it stays listed until
    /// [`LiveConnections::unregister`]. Returns its flag.
    pub fn register(
        &self,
        user: UserId,
        session: SessionId,
        conn: ConnId,
        wire: Wire,
        outbox: Outbox,
        rooms: OpenRooms,
    ) -> Alive {
        let alive = Alive::new();
        let hears_news = wire == Wire::Frames;
        let entry = Entry {
            conn,
            session,
            tx: outbox,
            alive: alive.clone(),
            hears_news,
            rooms,
        };
        let mut map = self.by_user.lock().expect("live lock");
        let conns = map.entry(user).or_default();
        if let Some(at) = conns.iter().position(|e| e.conn == conn) {
            let old = std::mem::replace(&mut conns[at], entry);
            self.forget(&old);
        } else {
            // Room for exactly this one: a first push would make room for four.
            conns.reserve_exact(1);
            conns.push(entry);
        }
        if hears_news {
            self.hearing.fetch_add(1, Ordering::Relaxed);
        }
        alive
    }

    pub fn unregister(&self, user: UserId, conn: ConnId) {
        let mut map = self.by_user.lock().expect("live lock");
        if let Some(conns) = map.get_mut(&user) {
            if let Some(at) = conns.iter().position(|e| e.conn == conn) {
                let old = conns.swap_remove(at);
                self.forget(&old);
            }
            if conns.is_empty() {
                map.remove(&user);
            }
        }
    }

    /// Called under the lock for an entry leaving the map.
    fn forget(&self, entry: &Entry) {
        if entry.hears_news {
            self.hearing.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sends `control` to every connection of `user`; returns how many were reached.
    pub fn send(&self, user: UserId, control: &Control) -> usize {
        let map = self.by_user.lock().expect("live lock");
        map.get(&user).map_or(0, |conns| {
            conns
                .iter()
                .filter(|entry| {
                    if matches!(control, Control::Disconnect { .. }) {
                        entry.alive.end();
                    }
                    entry.tx.order(control.clone())
                })
                .count()
        })
    }

    /// Tells `news` to every connection of `user` that hears news and has not opened the
    /// room it is about; returns how many were told.
    pub fn tell(&self, user: UserId, news: &News) -> usize {
        let map = self.by_user.lock().expect("live lock");
        map.get(&user).map_or(0, |conns| {
            conns
                .iter()
                .filter(|entry| entry.hears_news)
                .filter(|entry| news.about.is_none_or(|room| !entry.rooms.has(room)))
                .filter(|entry| entry.tx.order(Control::Frame(news.frame.clone())))
                .count()
        })
    }

    /// Ends every connection opened through `session` that is not ending already, with
    /// `reason` in the close frame (the first reason a connection is given is the one it
    /// sends); returns how many were told.
    pub fn end_session(&self, session: &SessionId, reason: &'static str) -> usize {
        let map = self.by_user.lock().expect("live lock");
        let control = Control::Disconnect { reason };
        map.values()
            .flatten()
            .filter(|entry| entry.session == *session && entry.alive.get())
            .filter(|entry| {
                entry.alive.end();
                entry.tx.order(control.clone())
            })
            .count()
    }

    /// Every session with a live connection on this node.
    pub fn sessions(&self) -> Vec<SessionId> {
        let map = self.by_user.lock().expect("live lock");
        let sessions: HashSet<&SessionId> =
            map.values().flatten().map(|entry| &entry.session).collect();
        sessions.into_iter().cloned().collect()
    }

    /// Whether any connection on this node hears news (`Control::Frame`).
    pub fn anyone_hears_news(&self) -> bool {
        self.hearing.load(Ordering::Relaxed) > 0
    }

    /// Every user with a live connection on this node.
    pub fn users(&self) -> Vec<UserId> {
        let map = self.by_user.lock().expect("live lock");
        map.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::outbox::{outbox, Next, OutboxRx};
    use super::*;

    fn register(live: &LiveConnections, user: UserId, s: &SessionId, c: u64) -> (Alive, OutboxRx) {
        let (tx, rx) = outbox(1 << 20);
        (
            live.register(
                user,
                s.clone(),
                ConnId(c),
                Wire::Frames,
                tx,
                OpenRooms::default(),
            ),
            rx,
        )
    }

    #[test]
    fn ending_a_session_reaches_its_connections_only_and_marks_them_dead_first() {
        let live = LiveConnections::default();
        let (one, two) = (SessionId::generate(), SessionId::generate());
        let user = UserId::new(1);
        let (a, mut a_rx) = register(&live, user, &one, 1);
        let (b, _b_rx) = register(&live, user, &one, 2);
        let (c, mut c_rx) = register(&live, user, &two, 3);
        let mut sessions = live.sessions();
        sessions.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut expected = vec![one.clone(), two.clone()];
        expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(sessions, expected);

        assert_eq!(live.end_session(&one, "signed_out"), 2);
        assert!(!a.get() && !b.get());
        assert!(c.get(), "another session of the same user lives on");
        assert!(matches!(
            a_rx.try_next(),
            Some(Next::Control(Control::Disconnect {
                reason: "signed_out"
            }))
        ));
        assert!(c_rx.try_next().is_none());
        // Told once: a later end (the sweeper finding the row gone, say) changes no reason.
        assert_eq!(live.end_session(&one, "session_ended"), 0);
        assert!(a_rx.try_next().is_none());
        live.unregister(user, ConnId(1));
        live.unregister(user, ConnId(2));
        assert_eq!(live.sessions(), vec![two]);
    }

    #[test]
    fn news_reaches_frame_sockets_only_and_is_not_prepared_for_nobody() {
        let live = LiveConnections::default();
        let (session, user) = (SessionId::generate(), UserId::new(1));
        let (tx, mut yjs_rx) = outbox(1 << 20);
        live.register(
            user,
            session.clone(),
            ConnId(1),
            Wire::YWebsocket,
            tx,
            OpenRooms::default(),
        );
        assert!(!live.anyone_hears_news(), "a /yjs socket hears no news");
        let (_alive, mut ws_rx) = register(&live, user, &session, 2);
        assert!(live.anyone_hears_news());
        let news = News {
            about: None,
            frame: axum::body::Bytes::from_static(b"news"),
        };
        assert_eq!(live.tell(user, &news), 1);
        assert!(matches!(
            ws_rx.try_next(),
            Some(Next::Control(Control::Frame(_)))
        ));
        assert!(
            yjs_rx.try_next().is_none(),
            "the /yjs socket is not woken for it"
        );
        // Orders still reach both.
        assert_eq!(live.send(user, &Control::Disconnect { reason: "x" }), 2);
        live.unregister(user, ConnId(2));
        assert!(!live.anyone_hears_news());
        live.unregister(user, ConnId(1));
        assert!(live.users().is_empty());
    }

    #[test]
    fn news_of_a_room_skips_the_connections_that_have_it_open() {
        let live = LiveConnections::default();
        let (session, user) = (SessionId::generate(), UserId::new(1));
        let (room, other) = (RoomId::new(7), RoomId::new(8));
        let (phone_rooms, desk_rooms) = (OpenRooms::default(), OpenRooms::default());
        let (tx, mut phone) = outbox(1 << 20);
        live.register(
            user,
            session.clone(),
            ConnId(1),
            Wire::Frames,
            tx,
            phone_rooms.clone(),
        );
        let (tx, mut desk) = outbox(1 << 20);
        live.register(
            user,
            session,
            ConnId(2),
            Wire::Frames,
            tx,
            desk_rooms.clone(),
        );
        phone_rooms.opened(room);
        desk_rooms.opened(other);
        let news = |about| News {
            about: Some(about),
            frame: axum::body::Bytes::from_static(b"news"),
        };
        assert_eq!(live.tell(user, &news(room)), 1, "the desk only");
        assert!(phone.try_next().is_none());
        assert!(matches!(
            desk.try_next(),
            Some(Next::Control(Control::Frame(_)))
        ));
        // Closed again: told again.
        phone_rooms.closed(room);
        assert_eq!(live.tell(user, &news(room)), 2);
        assert!(phone.try_next().is_some() && desk.try_next().is_some());
    }
}
