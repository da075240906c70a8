//! Which WebSocket connections each user has open, so that an administrator's decision
//! (disabling an account, revoking a session or certificate, removing someone from a room)
//! reaches live sockets at once instead of at their next reconnect.

use super::conn::ConnId;
use renraku_sync::{DocId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// What a connection is told to do from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Close the socket: the account was disabled or its sessions revoked.
    Disconnect { reason: &'static str },
    /// Stop serving one document: the user was removed from the room.
    CloseDoc(DocId),
}

pub type ControlTx = mpsc::UnboundedSender<Control>;
pub type ControlRx = mpsc::UnboundedReceiver<Control>;

/// The live connections of every user on this node.
#[derive(Default)]
pub struct LiveConnections {
    by_user: Mutex<HashMap<UserId, HashMap<ConnId, ControlTx>>>,
}

impl LiveConnections {
    /// Registers a connection; it stays listed until [`LiveConnections::unregister`].
    pub fn register(&self, user: UserId, conn: ConnId) -> ControlRx {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut map = self.by_user.lock().expect("live lock");
        map.entry(user).or_default().insert(conn, tx);
        rx
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
                .filter(|tx| tx.send(control.clone()).is_ok())
                .count()
        })
    }

    /// Every user with a live connection on this node.
    pub fn users(&self) -> Vec<UserId> {
        let map = self.by_user.lock().expect("live lock");
        map.keys().copied().collect()
    }

    /// Number of live connections of `user` on this node.
    pub fn count(&self, user: UserId) -> usize {
        let map = self.by_user.lock().expect("live lock");
        map.get(&user).map_or(0, HashMap::len)
    }
}
