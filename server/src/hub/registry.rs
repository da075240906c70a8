//! The hub: which documents are loaded, and the room task for each.

use super::room::{Room, RoomCmd, RoomHandle};
use super::writer::Writer;
use crate::cluster::{Cluster, Order, Presence, RoomNews};
use crate::db::audit::AuditEntry;
use crate::db::sessions::{SessionId, Touch};
use crate::db::Db;
use crate::domain::audit::AuditAction;
use renraku_sync::{DocId, RoomId, SessionEnd, UserId, Violation};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};
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
    /// How often the writer moves new posts into the search index.
    pub search_index_every: Duration,
    /// How often the writer writes the posts projection it holds (where it follows the log).
    pub project_every: Duration,
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
    /// The other nodes, when there are any (`--nats-url`).
    pub(super) cluster: OnceLock<Cluster>,
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
            writer: Writer::spawn(
                db.clone(),
                activity,
                config.search_index_every,
                config.project_every,
            ),
            db,
            rooms: Mutex::new(HashMap::new()),
            live: Default::default(),
            caps: super::caps::Caps::new(config.caps),
            cluster: OnceLock::new(),
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
            if let Err(e) = Room::serve(doc, hub.clone(), rx).await {
                error!(doc = %doc, error = %e, "loading failed");
                // The queue closed with the task fails every waiting sender; the next open
                // retries.
                let mut rooms = hub.rooms.lock().expect("hub lock");
                if rooms.get(&doc).is_some_and(|h| h.tx.is_closed()) {
                    rooms.remove(&doc);
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
        self.spread(Order::DisconnectUser {
            user,
            reason: reason.into(),
        });
        self.live
            .send(user, &super::live::Control::Disconnect { reason })
    }

    /// Closes every open WebSocket of one session (`/ws` and `/yjs/{room}` alike), like
    /// [`Hub::disconnect_user`]; returns how many were on this node.
    pub fn end_session(&self, session: &SessionId, why: SessionEnd) -> usize {
        self.spread(Order::EndSession {
            session: session.clone(),
            reason: why.as_str().into(),
        });
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
        let doc = DocId::Room(room);
        self.spread(Order::CloseDoc { user, doc });
        self.live.send(user, &super::live::Control::CloseDoc(doc))
    }

    /// Sends `frame` to every open `/ws` socket of each of `users` (news such as a
    /// register's safety mark), on every node; returns how many sockets were reached on
    /// this one.
    pub fn tell(
        &self,
        users: impl IntoIterator<Item = UserId>,
        frame: &renraku_sync::Frame,
    ) -> usize {
        self.tell_encoded(users.into_iter().collect(), None, frame.encode())
    }

    /// Every user with an open WebSocket on this node.
    pub fn connected_users(&self) -> Vec<UserId> {
        self.live.users()
    }

    /// Joins the other nodes: from now on what this hub stores and decides reaches them.
    pub fn join_cluster(&self, cluster: Cluster) -> crate::cluster::ListenerGuard {
        let cluster = self.cluster.get_or_init(|| cluster);
        cluster.spawn_listener(self.clone())
    }

    /// Updates another node stored: the room applies them if it is loaded here.
    pub(crate) fn remote_news(&self, news: RoomNews) {
        let Some(room) = self.loaded_room(news.doc) else {
            return; // loaded later, it reads them from the database
        };
        if room.tx.try_send(RoomCmd::Remote(Box::new(news))).is_err() {
            // A full queue: the sweep reads what this room lacks from the database.
            tracing::debug!("cluster: a room's queue is full, left to the sweep");
        }
    }

    pub(crate) fn remote_presence(&self, presence: Presence) {
        if let Some(room) = self.loaded_room(presence.doc) {
            let _ = room
                .tx
                .try_send(RoomCmd::RemotePresence(presence.message.into_vec().into()));
        }
    }

    /// Carries out another node's decision on the sockets of this one.
    pub(crate) fn carry_out(&self, order: &Order) {
        match order {
            Order::DisconnectUser { user, reason } => {
                let reason = static_reason(reason);
                self.live
                    .send(*user, &super::live::Control::Disconnect { reason });
            }
            Order::EndSession { session, reason } => {
                self.live.end_session(session, static_reason(reason));
            }
            Order::CloseDoc { user, doc } => {
                self.live.send(*user, &super::live::Control::CloseDoc(*doc));
            }
            Order::Tell {
                users,
                about,
                frame,
            } => {
                let news = super::live::News {
                    about: *about,
                    frame: axum::body::Bytes::copy_from_slice(frame),
                };
                for user in users {
                    self.live.tell(*user, &news);
                }
            }
        }
    }

    /// Every loaded room reads what it lacks from the database (NATS came back).
    pub(crate) fn catch_up_all(&self) {
        let rooms: Vec<RoomHandle> = self
            .rooms
            .lock()
            .expect("hub lock")
            .values()
            .cloned()
            .collect();
        for room in rooms {
            let _ = room.tx.try_send(RoomCmd::CatchUp { head: None });
        }
    }

    /// Compares every loaded room with the newest seq in the database; a room behind reads
    /// the rest (a message NATS never delivered).
    pub(crate) async fn sweep_heads(&self) -> crate::Result<()> {
        let rooms: Vec<(DocId, RoomHandle)> = self
            .rooms
            .lock()
            .expect("hub lock")
            .iter()
            .map(|(doc, room)| (*doc, room.clone()))
            .collect();
        if rooms.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = rooms.iter().map(|(doc, _)| doc.storage_key()).collect();
        let heads = self.db.doc_heads(&keys).await?;
        for ((_, room), key) in rooms.iter().zip(&keys) {
            if let Some(&head) = heads.get(key) {
                let _ = room.tx.try_send(RoomCmd::CatchUp { head: Some(head) });
            }
        }
        Ok(())
    }

    fn loaded_room(&self, doc: DocId) -> Option<RoomHandle> {
        self.rooms.lock().expect("hub lock").get(&doc).cloned()
    }

    /// Number of documents loaded.
    pub fn loaded(&self) -> usize {
        self.rooms.lock().expect("hub lock").len()
    }

    /// Writes an audit entry through the group-committing writer.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), String> {
        self.writer.audit(entry).await
    }

    /// Records a use of a session in the next group commit; returns once it is stored.
    pub async fn touch_session(&self, touch: Touch) -> Result<(), String> {
        self.writer.touch(touch).await
    }

    /// [`Hub::touch_session`], not waited for (a socket's write: see `Connection`).
    pub fn touch_session_soon(&self, touch: Touch) {
        self.writer.touch_soon(touch);
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

impl HubInner {
    /// Passes a decision this node carried out on to the other nodes, if any.
    pub(super) fn spread(&self, order: Order) {
        if let Some(cluster) = self.cluster.get() {
            cluster.order(&order);
        }
    }

    /// Sends an encoded frame to `users`' `/ws` sockets here (but those that have the room
    /// it is `about` open), and has every other node do the same; how many sockets here.
    pub(super) fn tell_encoded(
        &self,
        users: Vec<UserId>,
        about: Option<RoomId>,
        frame: Vec<u8>,
    ) -> usize {
        let news = super::live::News {
            about,
            frame: axum::body::Bytes::from(frame.clone()),
        };
        let reached = users.iter().map(|user| self.live.tell(*user, &news)).sum();
        self.spread(Order::Tell {
            users,
            about,
            frame: frame.into(),
        });
        reached
    }

    pub(super) fn announce(&self, news: impl FnOnce() -> RoomNews) {
        if let Some(cluster) = self.cluster.get() {
            cluster.announce(&news());
        }
    }

    pub(super) fn announce_presence(&self, doc: DocId, message: &[u8]) {
        if let Some(cluster) = self.cluster.get() {
            cluster.presence(&Presence {
                doc,
                message: message.to_vec().into(),
            });
        }
    }

    pub(super) fn clustered(&self) -> bool {
        self.cluster.get().is_some()
    }
}

/// The close reason of a socket closed on another node's word, as this node's close frames
/// spell it (reasons are `'static`: they are the app's to match on).
fn static_reason(reason: &str) -> &'static str {
    match SessionEnd::parse(reason) {
        Some(end) => end.as_str(),
        None if reason == super::maintenance::REASON => super::maintenance::REASON,
        None => SessionEnd::Ended.as_str(),
    }
}
