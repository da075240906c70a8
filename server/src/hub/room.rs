//! One loaded document: a task that owns its `ServerDoc` and serialises everything done to it.
//!
//! Per batch of incoming messages: validate each update against its sender and apply it in
//! memory, then append the whole batch to the log in one transaction (group commit), and only
//! after that commit acknowledge (`saved`) and broadcast. Nothing is sent before it is durable.

use super::conn::{ConnId, KickReason, Peer, Wire};
use super::outbox::Refused;
use super::stored::{Loaded, Stored};
use super::Hub;
use crate::db::posts::Projection;
use crate::db::Db;
use axum::body::Bytes;
use renraku_sync::schema::Root;
use renraku_sync::validate::Slot;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::decoder::Decode;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::PostId;
use renraku_sync::{DocId, Frame, ServerDoc, UserId, Violation};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// Messages from connections to a room task. Payloads are boxed: a room's queue allocates
/// room for 32 of these up front and keeps it while the room is loaded, idle or not, so each
/// is kept to 24 bytes.
pub enum RoomCmd {
    Join(Box<Peer>),
    Leave(ConnId),
    /// A y-protocols message from a member.
    Message(Box<Inbound>),
    /// Updates another node stored (`cluster`).
    Remote(Box<crate::cluster::RoomNews>),
    /// Presence from a member on another node, checked there.
    RemotePresence(Box<[u8]>),
    /// Read what this node lacks from the database: up to `head` when the database's newest
    /// seq is known (the cluster's sweep), or whatever is there (NATS came back).
    CatchUp {
        head: Option<i64>,
    },
}

/// A y-protocols message from a member, as its connection read it.
pub struct Inbound {
    pub conn: ConnId,
    pub user: UserId,
    /// The client's number for an update it wants acknowledged (`/ws` only).
    pub ack: Option<u64>,
    pub message: Vec<u8>,
}

/// How a room task is reached.
#[derive(Clone)]
pub struct RoomHandle {
    pub tx: mpsc::Sender<RoomCmd>,
}

/// Largest batch of messages handled (and committed) at once.
const MAX_BATCH: usize = 256;
/// Sync step 2 answers kept per room until the document changes.
const STEP2_CACHE: usize = 4;

pub struct Room {
    id: DocId,
    key: String,
    doc: ServerDoc,
    db: Db,
    hub: Hub,
    peers: HashMap<ConnId, Peer>,
    /// Owners of yrs client ids seen in this room (a cache of the `yjs_clients` table, plus
    /// the ids that pending updates bind with their commit).
    client_owners: HashMap<u64, UserId>,
    /// Log rows since the last snapshot.
    log_len: usize,
    last_seq: i64,
    /// Sync step 2 answers, encoded and framed, for the state vectors last asked about.
    /// Encoding a large room costs time and as many bytes as the room again; clients that
    /// ask again and again (a reconnecting crowd, or a client that asks but never reads)
    /// share one copy. Emptied whenever the document changes.
    step2: Vec<(Step2Key, Bytes)>,
    /// Set when a failed commit could not reload the document: memory then holds updates
    /// that are not stored, and a resend of them would be acknowledged unstored. The room
    /// stops (see [`Room::stop_broken`]) and the next open loads it from storage afresh.
    broken: bool,
}

/// What a step 2 answer depends on, besides the document: the wire, and the asker's state
/// vector as far as this document knows its clients (sorted: equal for equal requests).
#[derive(PartialEq, Eq)]
struct Step2Key {
    wire: Wire,
    known: Vec<(u64, u32)>,
}

/// Why an update was not taken.
enum NotTaken {
    /// Refused for good: the sender is told with `Invalid` and the refusal is audited.
    Refused(Violation),
    /// Storage failed while it was checked or stored: nothing of it was kept. The sender is
    /// disconnected with 1013 (never `Invalid`, which a client takes as final) and resends it
    /// from its outbox after reconnecting.
    StorageUnavailable,
}

impl From<Violation> for NotTaken {
    fn from(v: Violation) -> Self {
        NotTaken::Refused(v)
    }
}

/// An accepted update waiting for the batch's commit.
struct Pending {
    conn: ConnId,
    user: UserId,
    ack: Option<u64>,
    update: Vec<u8>,
    is_new: bool,
    /// What the update brought, when it also repeated what the room had: sent to the other
    /// members instead of the update (stored as sent).
    relay: Option<Vec<u8>>,
    /// Slots the update wrote or cleared (room documents only): re-projected after commit.
    touched: Vec<Slot>,
    /// yrs client ids the update uses first: bound to `user` in the same commit.
    binds: Vec<u64>,
}

impl Room {
    /// Loads a document from its snapshot and log tail.
    pub async fn load(id: DocId, db: Db, hub: Hub) -> anyhow::Result<Room> {
        let stored = Stored::read(&db, &id.storage_key()).await?;
        let loaded = tokio::task::spawn_blocking(move || stored.apply(id)).await??;
        Ok(Room::loaded(id, db, hub, loaded))
    }

    fn loaded(id: DocId, db: Db, hub: Hub, loaded: Loaded) -> Room {
        let key = id.storage_key();
        debug!(doc = %key, log = loaded.log_len, "loaded");
        Room {
            id,
            key,
            doc: loaded.doc,
            db,
            hub,
            peers: HashMap::new(),
            client_owners: HashMap::new(),
            log_len: loaded.log_len,
            last_seq: loaded.last_seq,
            step2: Vec::new(),
            broken: false,
        }
    }

    /// Loads a document and serves it until it is evicted or the hub stops. While it
    /// applies, clients that ask with nothing are answered from the stored bytes
    /// (`stored.rs`).
    pub async fn serve(id: DocId, hub: Hub, mut rx: mpsc::Receiver<RoomCmd>) -> anyhow::Result<()> {
        // The load is boxed: it is done once, and what it awaits is several times what a
        // room waiting for its next message needs, in every loaded room's task.
        if let Some(room) = Box::pin(Room::start(id, hub, &mut rx)).await? {
            room.run(rx).await;
        }
        Ok(())
    }

    /// Loads the document, lets in those who joined meanwhile and runs what they sent;
    /// `None` when the room is not to be served after all (the hub is gone, or storage
    /// failed and everyone was sent away).
    async fn start(
        id: DocId,
        hub: Hub,
        rx: &mut mpsc::Receiver<RoomCmd>,
    ) -> anyhow::Result<Option<Room>> {
        let db = hub.db.clone();
        let stored = Stored::read(&db, &id.storage_key()).await?;
        let waited = super::stored::apply_serving(id, stored, rx).await;
        let loaded = match waited.loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                // Those who joined meanwhile reconnect and find it loaded afresh, or refused.
                for peer in &waited.joined {
                    peer.kick.kick(KickReason::StorageUnavailable);
                }
                return Err(e);
            }
        };
        let mut room = Room::loaded(id, db, hub, loaded);
        if let Some(whole) = waited.whole {
            // The same answer as `encode_diff` of an empty state vector, already encoded.
            for wire in [Wire::YWebsocket, Wire::Frames] {
                let bytes = room.encode_for(wire, &whole);
                room.step2.push((
                    Step2Key {
                        wire,
                        known: Vec::new(),
                    },
                    bytes,
                ));
            }
        }
        for peer in waited.joined {
            room.join(peer);
        }
        if !waited.open {
            return Ok(None);
        }
        room.handle_batch(waited.held).await;
        if room.broken {
            room.stop_broken(rx);
            return Ok(None);
        }
        Ok(Some(room))
    }

    /// Serves until evicted or the hub stops. Not an `async fn`, whose arguments the task
    /// would hold twice (as given, then as the body's copies) for the room's whole life;
    /// each batch's work is boxed, for the same reason: a room idles far more than it works.
    #[allow(clippy::manual_async_fn)]
    pub fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) -> impl Future<Output = ()> + Send {
        async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            loop {
                let got = if self.peers.is_empty() {
                    match tokio::time::timeout(
                        self.hub.config.evict_after,
                        rx.recv_many(&mut batch, MAX_BATCH),
                    )
                    .await
                    {
                        Ok(n) => n,
                        Err(_) => {
                            if self.try_evict(&mut rx) {
                                return;
                            }
                            continue;
                        }
                    }
                } else {
                    rx.recv_many(&mut batch, MAX_BATCH).await
                };
                if got == 0 {
                    return; // the hub is gone
                }
                Box::pin(self.handle_batch(std::mem::take(&mut batch))).await;
                if self.broken {
                    self.stop_broken(&mut rx);
                    return;
                }
            }
        }
    }

    /// Leaves the hub and disconnects everyone, the peers still queued to join included:
    /// each reconnects and resends what its outbox holds to a room loaded from storage.
    fn stop_broken(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) {
        self.hub.rooms.lock().expect("hub lock").remove(&self.id);
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            if let RoomCmd::Join(peer) = cmd {
                peer.kick.kick(KickReason::StorageUnavailable);
            }
        }
        for peer in self.peers.values() {
            peer.kick.kick(KickReason::StorageUnavailable);
        }
        error!(doc = %self.key, "stopped: storage unavailable");
    }

    /// Leaves memory if still unused. Decided under the hub's lock, so that a join racing
    /// with the eviction either lands in our queue (and we stay) or finds us gone.
    fn try_evict(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) -> bool {
        let mut rooms = self.hub.rooms.lock().expect("hub lock");
        if !rx.is_empty() {
            return false;
        }
        rooms.remove(&self.id);
        drop(rooms);
        if self.log_len > 0 {
            // Compact on the way out, so the next load reads one snapshot.
            self.hub
                .writer
                .compact(self.key.clone(), self.doc.encode_state(), self.last_seq);
        }
        debug!(doc = %self.key, "evicted");
        true
    }

    async fn handle_batch(&mut self, batch: Vec<RoomCmd>) {
        let mut pending: Vec<Pending> = Vec::new();
        for cmd in batch {
            match cmd {
                RoomCmd::Join(peer) => self.join(*peer),
                RoomCmd::Leave(conn) => {
                    self.peers.remove(&conn);
                }
                RoomCmd::Message(inbound) => {
                    let Inbound {
                        conn,
                        user,
                        ack,
                        message,
                    } = *inbound;
                    self.message(conn, user, ack, &message, &mut pending).await
                }
                RoomCmd::Remote(news) => self.remote(*news).await,
                RoomCmd::RemotePresence(message) => self.broadcast(None, &message),
                RoomCmd::CatchUp { head } => {
                    if head.is_none_or(|head| head > self.last_seq) {
                        self.catch_up().await;
                    }
                }
            }
            if self.broken {
                return;
            }
        }
        if !pending.is_empty() {
            self.commit(pending).await;
        }
    }

    fn join(&mut self, peer: Peer) {
        // The server speaks first with its own state vector, as y-websocket servers do: the
        // client answers with what the server lacks (its offline writes).
        let step1 = Message::Sync(SyncMessage::SyncStep1(self.doc.state_vector())).encode_v1();
        peer.send(&self.encode_for(peer.wire, &step1));
        self.peers.insert(peer.conn, peer);
    }

    /// The step 2 answer to a peer at `remote`: what it lacks, from the cache when the
    /// document has not changed since the same question.
    fn step2(&mut self, wire: Wire, remote: &renraku_sync::yrs::StateVector) -> Bytes {
        let ours = self.doc.state_vector();
        let mut known: Vec<(u64, u32)> = remote
            .iter()
            .filter_map(|(client, &clock)| {
                let clock = clock.min(ours.get(client));
                (clock > 0).then_some((client.get(), clock))
            })
            .collect();
        known.sort_unstable();
        let key = Step2Key { wire, known };
        if let Some((_, bytes)) = self.step2.iter().find(|(k, _)| *k == key) {
            return bytes.clone();
        }
        let diff = self.doc.encode_diff(remote);
        let bytes = self.encode_for(
            wire,
            &Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1(),
        );
        if self.step2.len() >= STEP2_CACHE {
            self.step2.remove(0);
        }
        self.step2.push((key, bytes.clone()));
        bytes
    }

    fn encode_for(&self, wire: Wire, message: &[u8]) -> Bytes {
        match wire {
            Wire::Frames => Frame::Sync {
                doc: self.id,
                ack: None,
                message: message.to_vec(),
            }
            .encode()
            .into(),
            Wire::YWebsocket => Bytes::copy_from_slice(message),
        }
    }

    async fn message(
        &mut self,
        conn: ConnId,
        user: UserId,
        ack: Option<u64>,
        bytes: &[u8],
        pending: &mut Vec<Pending>,
    ) {
        let Some(peer) = self.peers.get(&conn).cloned() else {
            return; // left already
        };
        if self.broken {
            return; // its peers are being disconnected; they resend after reconnecting
        }
        if !peer.alive.get() {
            // Its session ended after the message was queued: the end wins, whatever was
            // in flight. Checked before validation, so nothing of it is stored or sent on.
            return;
        }
        let message = match catch_unwind(|| Message::decode_v1(bytes)) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return self.refuse(&peer, ack, Violation::Malformed(e.to_string())),
            Err(_) => return self.refuse(&peer, ack, Violation::Malformed("undecodable".into())),
        };
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                // Step 2 is read from memory: commit this batch first, so that nothing
                // leaves the server before it is durable.
                if !pending.is_empty() {
                    self.commit(std::mem::take(pending)).await;
                    if self.broken {
                        return; // memory holds what is not stored: nothing of it leaves
                    }
                }
                let step2 = self.step2(peer.wire, &sv);
                peer.send(&step2);
            }
            Message::Sync(SyncMessage::SyncStep2(update))
            | Message::Sync(SyncMessage::Update(update)) => {
                match self.accept(user, &update).await {
                    Ok((is_new, relay, touched, binds)) => pending.push(Pending {
                        conn,
                        user,
                        ack,
                        update,
                        is_new,
                        relay,
                        touched,
                        binds,
                    }),
                    Err(NotTaken::Refused(v)) => self.refuse_update(&peer, user, ack, v).await,
                    Err(NotTaken::StorageUnavailable) => self.retry_later(&peer),
                }
            }
            Message::Awareness(mut update) => {
                // Presence may only speak for the sender's own yrs clients, and who they are
                // is the server's to say, not the client's.
                let clients: Vec<u64> = update.clients.keys().map(|c| c.get()).collect();
                match self.check_writers(user, &clients).await {
                    Ok(()) => {}
                    Err(NotTaken::Refused(v)) => return self.refuse(&peer, ack, v),
                    // Presence is stored nowhere and renewed every few seconds: this one
                    // is dropped, and the connection stays.
                    Err(NotTaken::StorageUnavailable) => return,
                }
                for entry in update.clients.values_mut() {
                    entry.json = stamp_identity(&entry.json, user).into();
                }
                // Forwarded to everyone, the sender included: y-websocket clients count the
                // echo of their own renewals as the sign that the connection is alive.
                let message = Message::Awareness(update).encode_v1();
                self.broadcast(None, &message);
                self.hub.announce_presence(self.id, &message);
            }
            Message::AwarenessQuery | Message::Auth(_) | Message::Custom(..) => {}
        }
    }

    /// Validates and applies one update in memory; it is committed with its batch. Returns
    /// whether it was new, the slots it touched (for the projection), and the client ids it
    /// binds to `user` with that commit.
    async fn accept(
        &mut self,
        user: UserId,
        update: &[u8],
    ) -> Result<(bool, Option<Vec<u8>>, Vec<Slot>, Vec<u64>), NotTaken> {
        let doc = &self.doc;
        let now = crate::db::now_ms();
        let checked = catch_unwind(AssertUnwindSafe(|| doc.check(user, update, now)))
            .map_err(|_| Violation::Malformed("undecodable update".into()))??;
        let binds = self.unbound_writers(user, &checked.writers).await?;
        let is_new = checked.is_new;
        let mut touched = Vec::new();
        let mut relay = None;
        if is_new {
            if matches!(self.id, DocId::Room(_)) {
                touched = checked.touched();
            }
            self.step2.clear();
            if checked.repeats_known() {
                relay = self.doc.apply_news(checked)?;
            } else {
                self.doc.apply(checked)?;
            }
        }
        // Claimed from here on: later updates in the batch that name them are checked against
        // this claim (another user's refused, the sender's not bound twice). A failed commit
        // takes the claim back (`forget_binds`).
        self.client_owners.extend(binds.iter().map(|&c| (c, user)));
        Ok((is_new, relay, touched, binds))
    }

    /// Every yrs client id must be the sender's. Returns the ones bound to no one yet, which
    /// the caller binds to `user` with its own write (a binding of its own would queue on
    /// SQLite's one write lock beside the group commit, and fail under load).
    async fn unbound_writers(
        &mut self,
        user: UserId,
        clients: &[u64],
    ) -> Result<Vec<u64>, NotTaken> {
        let mut unbound = Vec::new();
        for &client in clients {
            match self.client_owners.get(&client) {
                Some(owner) if *owner == user => continue,
                Some(_) => return Err(Violation::ForeignClient(client).into()),
                None => {}
            }
            if i64::try_from(client).is_err() {
                return Err(Violation::Malformed("client id out of range".into()).into());
            }
            match self.db.client_owner(client).await {
                Ok(Some(owner)) if owner == user => {
                    self.client_owners.insert(client, user);
                }
                Ok(Some(_)) => return Err(Violation::ForeignClient(client).into()),
                Ok(None) => unbound.push(client),
                Err(e) => {
                    error!(error = %e, "reading client ids failed");
                    return Err(NotTaken::StorageUnavailable);
                }
            }
        }
        Ok(unbound)
    }

    /// For presence, which is stored nowhere: client ids are bound on their own, through the
    /// writer's group commit all the same.
    async fn check_writers(&mut self, user: UserId, clients: &[u64]) -> Result<(), NotTaken> {
        let unbound = self.unbound_writers(user, clients).await?;
        if unbound.is_empty() {
            return Ok(());
        }
        let bind = unbound.iter().map(|&c| (user, c)).collect();
        match self.hub.writer.bind(bind).await {
            Ok(Ok(())) => {
                self.client_owners
                    .extend(unbound.into_iter().map(|c| (c, user)));
                Ok(())
            }
            Ok(Err(client)) => Err(Violation::ForeignClient(client).into()),
            Err(e) => {
                error!(error = %e, "binding client ids failed");
                Err(NotTaken::StorageUnavailable)
            }
        }
    }

    /// Takes back the claims of updates whose commit failed.
    fn forget_binds(&mut self, pending: &[Pending]) {
        for client in pending.iter().flat_map(|p| &p.binds) {
            self.client_owners.remove(client);
        }
    }

    async fn refuse_update(&self, peer: &Peer, user: UserId, ack: Option<u64>, v: Violation) {
        warn!(doc = %self.key, user.id = %user, reason = %v, "update refused");
        self.hub.audit_refusal(user, self.id, &v).await;
        self.refuse(peer, ack, v);
    }

    /// Disconnects a peer whose update storage failed to take (see
    /// [`NotTaken::StorageUnavailable`]); what it sends until its socket closes is not
    /// answered, and its outbox keeps all of it.
    fn retry_later(&mut self, peer: &Peer) {
        warn!(doc = %self.key, conn = peer.conn.0, "storage unavailable: disconnecting the sender to resend");
        self.peers.remove(&peer.conn);
        peer.kick.kick(KickReason::StorageUnavailable);
    }

    fn refuse(&self, peer: &Peer, ack: Option<u64>, violation: Violation) {
        peer.send(&peer.refusal(self.id, ack, &violation.to_string()));
    }

    /// Stores the batch's new updates and the client ids they bind in one transaction, then
    /// acknowledges and broadcasts.
    async fn commit(&mut self, pending: Vec<Pending>) {
        let rows: Vec<(UserId, Vec<u8>)> = pending
            .iter()
            .filter(|p| p.is_new)
            .map(|p| (p.user, p.update.clone()))
            .collect();
        let bind: Vec<(UserId, u64)> = pending
            .iter()
            .flat_map(|p| p.binds.iter().map(|&c| (p.user, c)))
            .collect();
        if !rows.is_empty() || !bind.is_empty() {
            let projection = self.projection(&pending);
            let appended = self
                .hub
                .writer
                .append_projected(self.key.clone(), rows, bind, projection)
                .await;
            // `Some`: nothing was stored; `Some(Some(id))`: because another user holds `id`.
            let failed = match appended {
                Ok(Ok(seqs)) => {
                    if let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) {
                        if first > self.last_seq + 1 {
                            // Another node stored updates in between that we have not heard
                            // of yet: they come first, or a snapshot taken at `last` would
                            // miss them.
                            self.catch_up_to(first - 1).await;
                            if self.broken {
                                return;
                            }
                        }
                        self.last_seq = self.last_seq.max(last);
                        self.log_len += seqs.len();
                        self.hub.announce(|| crate::cluster::RoomNews {
                            doc: self.id,
                            first_seq: first,
                            updates: pending
                                .iter()
                                .filter(|p| p.is_new)
                                .map(|p| p.update.clone().into())
                                .collect(),
                        });
                    }
                    None
                }
                Ok(Err(client)) => Some(Some(client)),
                Err(e) => {
                    error!(doc = %self.key, error = %e, "commit failed");
                    Some(None)
                }
            };
            if let Some(taken) = failed {
                self.forget_binds(&pending);
                for p in &pending {
                    let Some(peer) = self.peers.get(&p.conn).cloned() else {
                        continue;
                    };
                    if let Some(taken) = taken.filter(|c| p.binds.contains(c)) {
                        // Another user bound it between our look and our commit.
                        let v = Violation::ForeignClient(taken);
                        self.refuse_update(&peer, p.user, p.ack, v).await;
                    } else {
                        self.retry_later(&peer);
                    }
                }
                // The in-memory doc holds what was not stored: start again from storage.
                match Room::load(self.id, self.db.clone(), self.hub.clone()).await {
                    Ok(fresh) => {
                        self.step2.clear();
                        self.doc = fresh.doc;
                        self.log_len = fresh.log_len;
                        self.last_seq = fresh.last_seq;
                    }
                    Err(e) => {
                        error!(doc = %self.key, error = %e, "reload failed");
                        self.broken = true;
                    }
                }
                return;
            }
        }
        for p in &pending {
            if let (Some(ack), Some(peer)) = (p.ack, self.peers.get(&p.conn)) {
                if peer.wire == Wire::Frames {
                    peer.send(&Frame::Saved { doc: self.id, ack }.encode().into());
                }
            }
        }
        for p in pending.iter().filter(|p| p.is_new) {
            let update = p.relay.as_ref().unwrap_or(&p.update).clone();
            let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
            self.broadcast(Some(p.conn), &message);
        }
        if self.log_len >= self.hub.config.compact_after {
            self.compact();
        }
    }

    /// Updates another node stored: applied and broadcast in seq order; a gap before them is
    /// read from the database first.
    async fn remote(&mut self, news: crate::cluster::RoomNews) {
        if news.last_seq() <= self.last_seq {
            return; // known already (read in a catch-up, or loaded after it was stored)
        }
        if news.first_seq > self.last_seq + 1 {
            self.catch_up().await; // reads these too
            return;
        }
        for (seq, update) in (news.first_seq..).zip(&news.updates) {
            if seq <= self.last_seq {
                continue;
            }
            let news = match self.load_stored(update) {
                Ok(news) => news,
                Err(e) => {
                    error!(doc = %self.key, seq, error = %e, "a stored update from another node does not apply");
                    self.broken = true;
                    return;
                }
            };
            self.last_seq = seq;
            self.log_len += 1;
            if let Some(news) = news {
                self.step2.clear();
                let message = Message::Sync(SyncMessage::Update(news)).encode_v1();
                self.broadcast(None, &message);
            }
        }
    }

    /// Reads from the database everything stored after `last_seq` (by other nodes) and
    /// broadcasts it to this node's peers as one update.
    async fn catch_up(&mut self) {
        self.catch_up_within(None).await
    }

    /// [`Room::catch_up`], only as far as `up_to`.
    async fn catch_up_to(&mut self, up_to: i64) {
        self.catch_up_within(Some(up_to)).await
    }

    async fn catch_up_within(&mut self, up_to: Option<i64>) {
        let (snapshot, tail) = match self
            .db
            .load_doc_after(&self.key, self.last_seq, up_to)
            .await
        {
            Ok(read) => read,
            Err(e) => {
                // Tried again at the next sweep or news.
                warn!(doc = %self.key, error = %e, "catching up from the database failed");
                return;
            }
        };
        if snapshot.is_none() && tail.is_empty() {
            return;
        }
        let before = self.doc.state_vector();
        let mut last = self.last_seq;
        // Compacted by another node past what we had: its snapshot holds the rows.
        if let Some((state, up_to_seq)) = &snapshot {
            if let Err(e) = self.doc.load(state) {
                error!(doc = %self.key, error = %e, "another node's snapshot does not apply");
                self.broken = true;
                return;
            }
            last = last.max(*up_to_seq);
        }
        // Without a snapshot, the rows go out one by one as they were written (as the news
        // would have brought them); a snapshot's content goes out as one difference.
        let one_by_one = snapshot.is_none();
        for (seq, update) in &tail {
            let news = match self.load_stored(update) {
                Ok(news) => news,
                Err(e) => {
                    error!(doc = %self.key, seq, error = %e, "a stored update does not apply");
                    self.broken = true;
                    return;
                }
            };
            last = last.max(*seq);
            self.log_len += 1;
            if let (true, Some(news)) = (one_by_one, news) {
                self.step2.clear();
                let message = Message::Sync(SyncMessage::Update(news)).encode_v1();
                self.broadcast(None, &message);
            }
        }
        debug!(doc = %self.key, from = self.last_seq, to = last, "caught up from the database");
        self.last_seq = last;
        if !one_by_one && self.doc.state_vector() != before {
            self.step2.clear();
            let diff = self.doc.encode_diff(&before);
            let message = Message::Sync(SyncMessage::Update(diff)).encode_v1();
            self.broadcast(None, &message);
        }
    }

    /// The posts and read markers the batch touched, as the replica now holds them. Read
    /// after the whole batch applied, so several writes of one key project its final value.
    fn projection(&self, pending: &[Pending]) -> Option<Projection> {
        let DocId::Room(room) = self.id else {
            return None; // personal documents have no projection
        };
        let mut projection = Projection {
            room,
            posts: Vec::new(),
            reads: Vec::new(),
            acks: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for slot in pending.iter().flat_map(|p| &p.touched) {
            if !seen.insert(slot) {
                continue;
            }
            match slot.root {
                Root::Posts => {
                    if let Some(id) = PostId::parse(&slot.key) {
                        projection.posts.push((id.clone(), self.doc.post(&id)));
                    }
                }
                Root::Read => {
                    if let Ok(user) = slot.key.parse::<UserId>() {
                        projection.reads.push((user, self.doc.read_marker(user)));
                    }
                }
                Root::Acks => {
                    if let Some((post, user)) = renraku_sync::schema::parse_reaction_key(&slot.key)
                    {
                        let at = self.doc.ack(&post, user);
                        projection.acks.push((post, user, at));
                    }
                }
                Root::Reactions | Root::Pins => {}
            }
        }
        (!projection.is_empty()).then_some(projection)
    }

    fn broadcast(&mut self, except: Option<ConnId>, message: &[u8]) {
        let mut frames: Option<Bytes> = None;
        let mut raw: Option<Bytes> = None;
        let (mut slow, mut gone) = (Vec::new(), Vec::new());
        for (conn, peer) in &self.peers {
            if Some(*conn) == except || !peer.alive.get() {
                continue;
            }
            let bytes = match peer.wire {
                Wire::Frames => {
                    frames.get_or_insert_with(|| self.encode_for(Wire::Frames, message))
                }
                Wire::YWebsocket => raw.get_or_insert_with(|| Bytes::copy_from_slice(message)),
            };
            match peer.outbox.push(bytes) {
                Ok(()) => {}
                Err(Refused::Full) => slow.push(*conn),
                Err(Refused::Closed) => gone.push(*conn),
            }
        }
        // A client that cannot keep up is disconnected (it resyncs on reconnect), never
        // silently starved of updates.
        for conn in slow {
            if let Some(peer) = self.peers.remove(&conn) {
                info!(doc = %self.key, conn = conn.0, "disconnecting a slow client");
                peer.kick.kick(KickReason::TooSlow);
            }
        }
        for conn in gone {
            self.peers.remove(&conn);
        }
    }

    fn compact(&mut self) {
        let state = self.doc.encode_state();
        debug!(doc = %self.key, bytes = state.len(), "compacting");
        self.hub
            .writer
            .compact(self.key.clone(), state, self.last_seq);
        self.log_len = 0;
    }
}

impl Room {
    /// Applies a row that storage or another node holds; returns what it brought that this
    /// replica lacked, which is what its peers are sent. A client's resend, stored again by
    /// another node, may repeat in part or whole what reached us already (through a catch-up,
    /// the news, or this node's own clients): that part is sent once, not twice. A deletion
    /// counts only the first time, too.
    fn load_stored(&mut self, update: &[u8]) -> Result<Option<Vec<u8>>, Violation> {
        self.doc.load_news(update)
    }
}

/// Sets `user_id` in an awareness state to the connection's user; `null` (a client leaving)
/// and non-object states pass unchanged.
fn stamp_identity(json: &str, user: UserId) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut state)) => {
            state.insert("user_id".into(), user.get().into());
            serde_json::Value::Object(state).to_string()
        }
        _ => json.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::live::Alive;
    use crate::hub::outbox::OutboxRx;
    use std::sync::Arc;

    fn peer(conn: u64) -> (Peer, OutboxRx) {
        let (outbox, inbox) = crate::hub::outbox::outbox(1 << 20);
        let peer = Peer {
            conn: ConnId(conn),
            wire: Wire::Frames,
            outbox,
            kick: Arc::new(crate::hub::conn::Kick::default()),
            alive: Alive::new(),
        };
        (peer, inbox)
    }

    /// The next frame to a peer matching `pred`, within a few seconds.
    async fn frame_to(inbox: &mut OutboxRx, pred: impl Fn(&Frame) -> bool) -> bool {
        let wait = async {
            loop {
                if let crate::hub::outbox::Next::Frame(bytes) = inbox.next().await {
                    if Frame::decode_from_server(&bytes).is_ok_and(|f| pred(&f)) {
                        return true;
                    }
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), wait)
            .await
            .unwrap_or(false)
    }

    /// Writes one pin into `user`'s personal document through its room task, as a peer
    /// whose session is alive or has just ended; how many log rows the document then has,
    /// and whether the writer heard `Saved`.
    async fn stored_after_write(alive: bool) -> (usize, bool) {
        let (_dir, config, db, user) = crate::db::demo_db().await;
        let hub = Hub::new(db.clone(), config.hub());
        let doc = DocId::Personal(user);
        let room = hub.room(doc);
        let (writer, mut writer_inbox) = peer(1);
        let (witness, mut witness_inbox) = peer(2);
        let flag = writer.alive.clone();
        room.tx.send(RoomCmd::Join(Box::new(writer))).await.unwrap();
        room.tx
            .send(RoomCmd::Join(Box::new(witness)))
            .await
            .unwrap();
        if !alive {
            // The session ended after the frame was read from the socket.
            flag.end();
        }
        let update = renraku_sync::PersonalDoc::new(42).pin_room(renraku_sync::RoomId::new(1), 1);
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        let write = RoomCmd::Message(Box::new(Inbound {
            conn: ConnId(1),
            user,
            ack: Some(1),
            message,
        }));
        room.tx.send(write).await.unwrap();
        // A sync step 1 after it: the room commits what it holds before answering.
        let sv = renraku_sync::yrs::StateVector::default();
        let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
        let ask = RoomCmd::Message(Box::new(Inbound {
            conn: ConnId(2),
            user,
            ack: None,
            message: step1,
        }));
        room.tx.send(ask).await.unwrap();
        let answered = frame_to(&mut witness_inbox, |f| {
            matches!(f, Frame::Sync { message, .. }
                if matches!(Message::decode_v1(message), Ok(Message::Sync(SyncMessage::SyncStep2(_)))))
        })
        .await;
        assert!(answered, "the room answered the witness");
        let saved =
            alive && frame_to(&mut writer_inbox, |f| matches!(f, Frame::Saved { .. })).await;
        let (_, tail) = db.load_doc(&doc.storage_key()).await.unwrap();
        (tail.len(), saved)
    }

    #[tokio::test]
    async fn a_message_from_a_peer_whose_session_ended_is_neither_applied_nor_stored() {
        assert_eq!(
            stored_after_write(true).await,
            (1, true),
            "a live peer's write"
        );
        assert_eq!(
            stored_after_write(false).await,
            (0, false),
            "a dead peer's write"
        );
    }

    #[test]
    fn awareness_states_carry_the_servers_idea_of_the_user() {
        let stamped = stamp_identity(r#"{"cursor":1,"user_id":99}"#, UserId::new(7));
        let v: serde_json::Value = serde_json::from_str(&stamped).unwrap();
        assert_eq!(v["user_id"], 7);
        assert_eq!(v["cursor"], 1);
        assert_eq!(stamp_identity("null", UserId::new(7)), "null");
    }

    #[test]
    fn a_queued_command_stays_small() {
        // Every loaded room's queue allocates 32 of these up front (see `RoomCmd`).
        assert!(
            std::mem::size_of::<RoomCmd>() <= 24,
            "{}",
            std::mem::size_of::<RoomCmd>()
        );
    }
}
