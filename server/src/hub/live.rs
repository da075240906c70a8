//! Which WebSocket connections each user has open, and through which session, so that a
//! session ending (sign-out, revocation, expiry, a password change) or an administrator's
//! decision (disabling an account, revoking a certificate, removing someone from a room)
//! reaches live sockets at once instead of at their next reconnect.

use super::conn::ConnId;
use crate::db::sessions::SessionId;
use renraku_sync::{DocId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

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

pub type ControlTx = mpsc::UnboundedSender<Control>;
pub type ControlRx = mpsc::UnboundedReceiver<Control>;

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

/// A connection as registered: its orders, and its flag.
pub struct Registration {
    pub control: ControlRx,
    pub alive: Alive,
}

struct Entry {
    session: SessionId,
    tx: ControlTx,
    alive: Alive,
}

/// The live connections of every user on this node.
#[derive(Default)]
pub struct LiveConnections {
    by_user: Mutex<HashMap<UserId, HashMap<ConnId, Entry>>>,
}

impl LiveConnections {
    /// Registers a connection of `user` through `session`; it stays listed until
    /// [`LiveConnections::unregister`].
    pub fn register(&self, user: UserId, session: SessionId, conn: ConnId) -> Registration {
        let (tx, control) = mpsc::unbounded_channel();
        let alive = Alive::new();
        let entry = Entry {
            session,
            tx,
            alive: alive.clone(),
        };
        let mut map = self.by_user.lock().expect("live lock");
        map.entry(user).or_default().insert(conn, entry);
        Registration { control, alive }
    }

    pub fn unregister(&self, user: UserId, conn: ConnId) {
        let mut map = self.by_user.lock().expect("live lock");
        if let Some(conns) = map.get_mut(&user) {
            conns.remove(&conn);
            if conns.is_empty() {
                map.remove(&user);
            }
        }
    }

    /// Sends `control` to every connection of `user`; returns how many were reached.
    pub fn send(&self, user: UserId, control: &Control) -> usize {
        let map = self.by_user.lock().expect("live lock");
        map.get(&user).map_or(0, |conns| {
            conns
                .values()
                .filter(|entry| {
                    if matches!(control, Control::Disconnect { .. }) {
                        entry.alive.end();
                    }
                    entry.tx.send(control.clone()).is_ok()
                })
                .count()
        })
    }

    /// Ends every connection opened through `session`, with `reason` in the close frame;
    /// returns how many there were.
    pub fn end_session(&self, session: &SessionId, reason: &'static str) -> usize {
        let map = self.by_user.lock().expect("live lock");
        let control = Control::Disconnect { reason };
        map.values()
            .flat_map(HashMap::values)
            .filter(|entry| entry.session == *session)
            .filter(|entry| {
                entry.alive.end();
                entry.tx.send(control.clone()).is_ok()
            })
            .count()
    }

    /// Every session with a live connection on this node.
    pub fn sessions(&self) -> Vec<SessionId> {
        let map = self.by_user.lock().expect("live lock");
        let sessions: HashSet<&SessionId> = map
            .values()
            .flat_map(HashMap::values)
            .map(|entry| &entry.session)
            .collect();
        sessions.into_iter().cloned().collect()
    }

    /// Whether no user has a live connection on this node.
    pub fn is_empty(&self) -> bool {
        self.by_user.lock().expect("live lock").is_empty()
    }

    /// Every user with a live connection on this node.
    pub fn users(&self) -> Vec<UserId> {
        let map = self.by_user.lock().expect("live lock");
        map.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_session_reaches_its_connections_only_and_marks_them_dead_first() {
        let live = LiveConnections::default();
        let (one, two) = (SessionId::generate(), SessionId::generate());
        let user = UserId::new(1);
        let mut a = live.register(user, one.clone(), ConnId(1));
        let b = live.register(user, one.clone(), ConnId(2));
        let mut c = live.register(user, two.clone(), ConnId(3));
        let mut sessions = live.sessions();
        sessions.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut expected = vec![one.clone(), two.clone()];
        expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(sessions, expected);

        assert_eq!(live.end_session(&one, "signed_out"), 2);
        assert!(!a.alive.get() && !b.alive.get());
        assert!(c.alive.get(), "another session of the same user lives on");
        assert_eq!(
            a.control.try_recv().ok(),
            Some(Control::Disconnect {
                reason: "signed_out"
            })
        );
        assert!(c.control.try_recv().is_err());
        live.unregister(user, ConnId(1));
        live.unregister(user, ConnId(2));
        assert_eq!(live.sessions(), vec![two]);
    }
}
