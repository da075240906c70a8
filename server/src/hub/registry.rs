//! The hub: which documents are loaded, and the room task for each.

use super::room::{Room, RoomHandle};
use super::writer::Writer;
use crate::db::audit::AuditEntry;
use crate::db::sessions::SessionId;
use crate::db::Db;
use crate::domain::audit::AuditAction;
use renraku_sync::{DocId, RoomId, SessionEnd, UserId, Violation};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::error;

/// Commands queued for one room before senders wait.
const ROOM_QUEUE: usize = 4096;

/// Tunables of the sync hub.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// How long a room with no connections stays loaded.
    pub evict_after: Duration,
    /// Log rows after which a room is compacted into its snapshot.
    pub compact_after: usize,
    /// WebSockets per user and in all.
    pub caps: super::ConnCaps,
}

#[derive(Clone)]
pub struct Hub(Arc<HubInner>);

pub struct HubInner {
    pub(super) db: Db,
    pub(super) writer: Writer,
    pub(super) config: HubConfig,
    pub(super) rooms: Mutex<HashMap<DocId, RoomHandle>>,
    /// Open sockets per user, so admin decisions reach them at once.
    pub(super) live: super::live::LiveConnections,
    /// Open sockets counted against the caps.
    pub(super) caps: super::caps::Caps,
}

impl Deref for Hub {
    type Target = HubInner;
    fn deref(&self) -> &HubInner {
        &self.0
    }
}

impl Hub {
    pub fn new(db: Db, config: HubConfig) -> Hub {
        let (activity, news) = mpsc::channel(super::activity::QUEUE);
        let hub = Hub(Arc::new(HubInner {
            writer: Writer::spawn(db.clone(), activity),
            db,
            rooms: Mutex::new(HashMap::new()),
            live: Default::default(),
            caps: super::caps::Caps::new(config.caps),
            config,
        }));
        // Holds the hub weakly: it ends with the writer, which ends with the hub.
        tokio::spawn(super::activity::fan_out(Arc::downgrade(&hub.0), news));
        hub
    }

    /// WebSocket connections open on this node.
    pub fn open_connections(&self) -> usize {
        self.caps.total()
    }

    /// The room task of `doc`, started (and loaded from storage) if it is not running.
    pub fn room(&self, doc: DocId) -> RoomHandle {
        let mut rooms = self.rooms.lock().expect("hub lock");
        if let Some(room) = rooms.get(&doc) {
            return room.clone();
        }
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        let handle = RoomHandle { tx };
        rooms.insert(doc, handle.clone());
        let hub = self.clone();
        tokio::spawn(async move {
            match Room::load(doc, hub.db.clone(), hub.clone()).await {
                Ok(room) => room.run(rx).await,
                Err(e) => {
                    error!(doc = %doc, error = %e, "loading failed");
                    // Closing the queue fails every waiting sender; the next open retries.
                    drop(rx);
                    let mut rooms = hub.rooms.lock().expect("hub lock");
                    if rooms.get(&doc).is_some_and(|h| h.tx.is_closed()) {
                        rooms.remove(&doc);
                    }
                }
            }
        });
        handle
    }

    /// Drops a dead room handle so the next `room` call starts a fresh task.
    pub fn forget(&self, doc: DocId, dead: &RoomHandle) {
        let mut rooms = self.rooms.lock().expect("hub lock");
        if rooms.get(&doc).is_some_and(|h| h.tx.same_channel(&dead.tx)) {
            rooms.remove(&doc);
        }
    }

    /// Closes every open WebSocket of `user` on this node (account disabled, password reset,
    /// a client certificate revoked). Returns how many sockets were told to close; from now
    /// on nothing they send is stored or delivered, and each closes as soon as its task next
    /// runs.
    pub fn disconnect_user(&self, user: UserId, why: SessionEnd) -> usize {
        self.disconnect_user_for(user, why.as_str())
    }

    /// [`Hub::disconnect_user`] with the reason the socket's close frame carries.
    pub fn disconnect_user_for(&self, user: UserId, reason: &'static str) -> usize {
        self.live
            .send(user, &super::live::Control::Disconnect { reason })
    }

    /// Closes every open WebSocket of one session on this node (`/ws` and `/yjs/{room}`
    /// alike), like [`Hub::disconnect_user`].
    pub fn end_session(&self, session: &SessionId, why: SessionEnd) -> usize {
        self.live.end_session(session, why.as_str())
    }

    /// Every session with an open WebSocket on this node.
    pub fn connected_sessions(&self) -> Vec<SessionId> {
        self.live.sessions()
    }

    /// Stops serving `room` to `user`'s open connections (removed from the room). `/ws`
    /// connections get a `Denied` frame for the room and stay open; a `/yjs/{room}` socket
    /// of that room is closed.
    pub fn close_room_for(&self, user: UserId, room: RoomId) -> usize {
        self.live
            .send(user, &super::live::Control::CloseDoc(DocId::Room(room)))
    }

    /// Sends `frame` to every open `/ws` socket of each of `users` on this node (news such
    /// as a register's safety mark); returns how many sockets were reached.
    pub fn tell(
        &self,
        users: impl IntoIterator<Item = UserId>,
        frame: &renraku_sync::Frame,
    ) -> usize {
        let control = super::live::Control::Frame(axum::body::Bytes::from(frame.encode()));
        users
            .into_iter()
            .map(|user| self.live.send(user, &control))
            .sum()
    }

    /// Every user with an open WebSocket on this node.
    pub fn connected_users(&self) -> Vec<UserId> {
        self.live.users()
    }

    /// Number of documents loaded.
    pub fn loaded(&self) -> usize {
        self.rooms.lock().expect("hub lock").len()
    }

    /// Writes an audit entry through the group-committing writer.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), String> {
        self.writer.audit(entry).await
    }

    pub async fn may_open(&self, user: UserId, room: RoomId) -> anyhow::Result<bool> {
        Ok(self.db.is_member(room, user).await?)
    }

    /// Records a refused update in the audit log. Awaited before the sender hears of the
    /// refusal, so that an `invalid` frame always has its audit entry.
    pub async fn audit_refusal(&self, user: UserId, doc: DocId, violation: &Violation) {
        let mut entry = AuditEntry::new(AuditAction::UpdateRefused, doc.storage_key())
            .detail(violation.to_string());
        entry.user = Some(user);
        if let Err(e) = self.writer.audit(entry).await {
            error!(error = %e, "audit write failed");
        }
    }
}
