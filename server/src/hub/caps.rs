//! How many WebSockets are open, per user and in all, against the caps in [`ConnCaps`].
//!
//! A slot is taken before the handshake completes and given back when the connection's
//! task ends (the slot is dropped with it), so no race lets a user past the cap.

use super::limits::ConnCaps;
use renraku_sync::{ConnRefusal, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapReached {
    /// The user holds `limit` connections already.
    User { limit: usize },
    /// The server holds `limit` connections already.
    Server { limit: usize },
}

impl CapReached {
    /// What the client is told: the close frame of [`renraku_sync::ConnRefusal`], which the
    /// app parses to say what to do.
    pub fn refusal(self) -> ConnRefusal {
        match self {
            CapReached::User { limit } => ConnRefusal::TooManyConnections { limit },
            CapReached::Server { .. } => ConnRefusal::ServerBusy,
        }
    }
}

#[derive(Default)]
struct Counts {
    by_user: HashMap<UserId, usize>,
    total: usize,
}

pub struct Caps {
    caps: ConnCaps,
    counts: Arc<Mutex<Counts>>,
}

/// One admitted connection; dropping it frees the place.
pub struct Slot {
    user: UserId,
    counts: Arc<Mutex<Counts>>,
}

impl Caps {
    pub fn new(caps: ConnCaps) -> Self {
        Self {
            caps,
            counts: Default::default(),
        }
    }

    pub fn admit(&self, user: UserId) -> Result<Slot, CapReached> {
        let mut counts = self.counts.lock().expect("caps lock");
        if counts.total >= self.caps.total {
            return Err(CapReached::Server {
                limit: self.caps.total,
            });
        }
        let mine = counts.by_user.entry(user).or_default();
        if *mine >= self.caps.per_user {
            return Err(CapReached::User {
                limit: self.caps.per_user,
            });
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot {
            user,
            counts: self.counts.clone(),
        })
    }

    /// Open connections on this server.
    pub fn total(&self) -> usize {
        self.counts.lock().expect("caps lock").total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("caps lock");
        counts.total -= 1;
        if let Some(n) = counts.by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_and_total_caps_hold_and_free_on_drop() {
        let caps = Caps::new(ConnCaps {
            per_user: 2,
            total: 3,
        });
        let (a, b, c) = (UserId::new(1), UserId::new(2), UserId::new(3));
        let a1 = caps.admit(a).unwrap();
        let _a2 = caps.admit(a).unwrap();
        assert_eq!(caps.admit(a).err(), Some(CapReached::User { limit: 2 }));
        let _b1 = caps.admit(b).unwrap();
        assert_eq!(caps.admit(c).err(), Some(CapReached::Server { limit: 3 }));
        drop(a1);
        assert_eq!(caps.total(), 2);
        let _c1 = caps.admit(c).unwrap();
        assert_eq!(caps.admit(a).err(), Some(CapReached::Server { limit: 3 }));
    }
}
