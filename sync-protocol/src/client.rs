//! The client half of `/ws`, sans-IO: a [`ClientSession`] holds the replicas of the documents
//! a device has open, the updates the server has not answered yet (the outbox), and what it
//! knows of the connection. Frames and connection events go in, [`Effect`]s come out; the
//! socket, the storage and the clock belong to whoever drives it (the app in the browser, the
//! integration tests and the load generator natively), so every one of them speaks the
//! protocol the same way.
//!
//! Writes: a local change of a replica returns its update bytes; the update goes into the
//! outbox first and is sent as `Sync{ack: outbox id}`. An entry leaves the outbox on
//! `Saved{ack}` or `Invalid{ack}` (the server will never take it) for its id or a later id of
//! its document: the server answers one connection's frames in order. After every (re)connect
//! the documents are opened again (sync step 1 both ways) and the whole outbox is resent,
//! merged into one update per document under its highest id: the server stores nothing twice,
//! and one `Saved` covers them all.

use crate::frame::{denied, DocId, Frame, PROTOCOL_VERSION};
use crate::session_end::{SessionEnd, CLOSE_CODE};
use crate::ConnRefusal;
use crate::{MunicipalityId, PersonalDoc, PostId, RoomDoc, RoomId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, StateVector, Transact, Update};

/// An update waiting for the server's answer. Serialised with postcard by devices that store
/// their outbox (the app's IndexedDB): the field order is the stored format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub doc: DocId,
    #[serde(with = "serde_bytes")]
    pub update: Vec<u8>,
    /// The post the update writes, for the UI's 送信待ち badge.
    pub post: Option<String>,
}

/// Where a device keeps its unanswered updates so they outlive the process (the app: an
/// IndexedDB store). The session keeps its own copy in memory to resend from.
pub trait Outbox {
    /// Keeps `entry` durably and returns its id, greater than every id returned before: the
    /// id is the `ack` the update is sent with.
    fn add(&mut self, entry: &OutboxEntry) -> u64;
    /// Forgets entries the server has answered.
    fn remove(&mut self, ids: &[u64]);
}

/// An outbox that lives as long as the process: for tests, the load generator, and devices
/// without storage. Cloning it is how a test "restarts" a client with what it had kept.
#[derive(Clone, Debug, Default)]
pub struct MemoryOutbox {
    entries: BTreeMap<u64, OutboxEntry>,
    last_id: u64,
}

impl MemoryOutbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// What it holds, oldest first (to start a session from).
    pub fn entries(&self) -> Vec<(u64, OutboxEntry)> {
        self.entries
            .iter()
            .map(|(id, e)| (*id, e.clone()))
            .collect()
    }
}

impl Outbox for MemoryOutbox {
    fn add(&mut self, entry: &OutboxEntry) -> u64 {
        self.last_id += 1;
        self.entries.insert(self.last_id, entry.clone());
        self.last_id
    }

    fn remove(&mut self, ids: &[u64]) {
        for id in ids {
            self.entries.remove(id);
        }
    }
}

/// Whether the session applies what other devices write to its replicas. A load generator
/// simulating hundreds of devices on the server's own cores keeps only its own writes and
/// reads the rest from [`Effect::Remote`]'s bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replicas {
    Full,
    OwnWritesOnly,
}

/// What the driver must do, or may want to know, after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send this frame on the socket.
    Send(Frame),
    /// The server's state of the document has arrived (its sync step 2) and was applied.
    Synced(DocId),
    /// Another device's update, relayed by the server, was applied to the document's replica
    /// (with [`Replicas::OwnWritesOnly`]: it arrived, and its bytes are here to read).
    Remote { doc: DocId, update: Vec<u8> },
    /// The server stored these outbox entries; they left the outbox.
    Saved { doc: DocId, acks: Vec<u64> },
    /// The server refused these entries for `reason` and will never take them; they left
    /// the outbox.
    Refused {
        doc: DocId,
        acks: Vec<u64>,
        reason: String,
    },
    /// The server refused to open the document. With `forget`, the user is not (or no
    /// longer) a member: the replica is gone and the device should delete what it stores.
    Denied {
        doc: DocId,
        reason: String,
        forget: bool,
    },
    /// The server closed the socket because the session ended: the session is stopped and
    /// a reconnect would be refused.
    SessionEnded(SessionEnd),
    /// The server would not keep the connection (a connection cap): the session stays,
    /// and the driver should tell the user and reconnect slowly.
    ConnRefused(ConnRefusal),
    /// A new post was stored in one of the user's rooms: for the room list (unread count,
    /// newest line, order). The server tells of rooms this socket has not opened
    /// ([`Frame::RoomActivity`]); of an opened room the session learns it from the relayed
    /// update itself, and of the device's own post from the server's `Saved`. Each post
    /// is told once.
    RoomActivity {
        room: RoomId,
        author: UserId,
        at: i64,
        text: String,
    },
    /// A safety mark on the register of `municipality` ([`Frame::RegisterMarked`]), as the
    /// API's JSON of `renraku_contract::SafetyMark`.
    RegisterMarked {
        municipality: MunicipalityId,
        mark: String,
    },
    /// `municipality`'s register changed otherwise ([`Frame::RegisterChanged`]).
    RegisterChanged { municipality: MunicipalityId },
}

enum Replica {
    Room(RoomDoc),
    Personal(PersonalDoc),
}

impl Replica {
    fn new(doc: DocId, client_id: u64) -> Replica {
        match doc {
            DocId::Room(_) => Replica::Room(RoomDoc::new(client_id)),
            DocId::Personal(_) => Replica::Personal(PersonalDoc::new(client_id)),
        }
    }

    fn ydoc(&self) -> &yrs::Doc {
        match self {
            Replica::Room(r) => r.doc(),
            Replica::Personal(p) => p.doc(),
        }
    }

    fn apply(&self, update: &[u8]) -> crate::Result<()> {
        let update =
            Update::decode_v1(update).map_err(|e| crate::Error::Malformed(e.to_string()))?;
        self.ydoc()
            .transact_mut()
            .apply_update(update)
            .map_err(|e| crate::Error::Malformed(e.to_string()))
    }

    fn state_vector(&self) -> StateVector {
        self.ydoc().transact().state_vector()
    }

    fn diff(&self, remote: &StateVector) -> Vec<u8> {
        self.ydoc().transact().encode_state_as_update_v1(remote)
    }
}

/// One device's side of `/ws`: replicas, outbox and subscriptions, with no I/O.
pub struct ClientSession<O: Outbox> {
    client_id: u64,
    replicas: Replicas,
    docs: HashMap<DocId, Replica>,
    outbox: O,
    /// The outbox in memory, by id (the ack each entry is sent with).
    pending: BTreeMap<u64, OutboxEntry>,
    /// Entries that write a new post, by id: once saved, it is news for the room list.
    new_posts: BTreeMap<u64, (RoomId, PostId)>,
    /// Documents the user has open, (re)opened on the server after every connect. Ordered,
    /// so that a session replays the same frames for the same inputs.
    wanted: BTreeSet<DocId>,
    /// Documents whose server state has arrived since they were last opened.
    synced: BTreeSet<DocId>,
    /// Sync step 1s sent for a document and not yet answered. The server answers them in
    /// order, so only the answer to the last one means "synced": an earlier answer can
    /// predate writes the server has relayed since.
    unanswered_step1: HashMap<DocId, u32>,
    /// Refusals to open, by document.
    denied: HashMap<DocId, String>,
    connected: bool,
    ended: Option<SessionEnd>,
    /// The last refusal of a write, for the UI.
    last_refusal: Option<String>,
}

impl<O: Outbox> ClientSession<O> {
    /// A session whose local edits carry `client_id`, over `outbox`.
    pub fn new(client_id: u64, outbox: O) -> Self {
        Self::with_replicas(client_id, outbox, Replicas::Full)
    }

    pub fn with_replicas(client_id: u64, outbox: O, replicas: Replicas) -> Self {
        ClientSession {
            client_id,
            replicas,
            docs: HashMap::new(),
            outbox,
            pending: BTreeMap::new(),
            new_posts: BTreeMap::new(),
            wanted: BTreeSet::new(),
            synced: BTreeSet::new(),
            unanswered_step1: HashMap::new(),
            denied: HashMap::new(),
            connected: false,
            ended: None,
            last_refusal: None,
        }
    }

    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    pub fn outbox(&self) -> &O {
        &self.outbox
    }

    pub fn outbox_mut(&mut self) -> &mut O {
        &mut self.outbox
    }

    // ---- state a device brings from storage ----

    /// Applies a stored state of `doc` to its replica (before or after syncing: updates
    /// commute). An unreadable state is an error and changes nothing.
    pub fn load(&mut self, doc: DocId, state: &[u8]) -> crate::Result<()> {
        self.replica(doc).apply(state)
    }

    /// Takes back an entry the outbox kept from an earlier run: its update is applied again
    /// (the stored document may predate it, harmlessly otherwise), its document is opened,
    /// and it is resent with the others on connect.
    pub fn restore(&mut self, id: u64, entry: OutboxEntry) {
        let _ = self.replica(entry.doc).apply(&entry.update);
        self.wanted.insert(entry.doc);
        self.note_new_post(id, &entry);
        self.pending.insert(id, entry);
    }

    // ---- reading ----

    /// The room's replica (an unopened room reads as empty).
    pub fn room(&mut self, room: RoomId) -> &RoomDoc {
        match self.replica(DocId::Room(room)) {
            Replica::Room(r) => r,
            Replica::Personal(_) => unreachable!("a room id names a room replica"),
        }
    }

    /// The personal document's replica.
    pub fn personal(&mut self, user: crate::UserId) -> &PersonalDoc {
        match self.replica(DocId::Personal(user)) {
            Replica::Personal(p) => p,
            Replica::Room(_) => unreachable!("a user id names a personal replica"),
        }
    }

    /// The room's replica, if it has one, without creating it (a shared borrow).
    pub fn room_if_any(&self, room: RoomId) -> Option<&RoomDoc> {
        match self.docs.get(&DocId::Room(room)) {
            Some(Replica::Room(r)) => Some(r),
            _ => None,
        }
    }

    /// The personal document's replica, if it has one (it has once opened or written).
    pub fn personal_if_any(&self, user: crate::UserId) -> Option<&PersonalDoc> {
        match self.docs.get(&DocId::Personal(user)) {
            Some(Replica::Personal(p)) => Some(p),
            _ => None,
        }
    }

    /// The whole replica of `doc` as one update, to store (`None` if it has none).
    pub fn encode_state(&self, doc: DocId) -> Option<Vec<u8>> {
        self.docs.get(&doc).map(|r| r.diff(&StateVector::default()))
    }

    fn replica(&mut self, doc: DocId) -> &Replica {
        let client_id = self.client_id;
        self.docs
            .entry(doc)
            .or_insert_with(|| Replica::new(doc, client_id))
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Why the server ended the session, once it did.
    pub fn ended(&self) -> Option<SessionEnd> {
        self.ended
    }

    pub fn is_open(&self, doc: DocId) -> bool {
        self.wanted.contains(&doc)
    }

    /// Whether the server's state of `doc` has arrived since it was last opened.
    pub fn is_synced(&self, doc: DocId) -> bool {
        self.synced.contains(&doc)
    }

    pub fn denied(&self, doc: DocId) -> Option<&str> {
        self.denied.get(&doc).map(String::as_str)
    }

    /// The outbox, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = (u64, &OutboxEntry)> {
        self.pending.iter().map(|(id, e)| (*id, e))
    }

    /// The server's reason for refusing the last write, until dismissed.
    pub fn refusal(&self) -> Option<&str> {
        self.last_refusal.as_deref()
    }

    pub fn dismiss_refusal(&mut self) {
        self.last_refusal = None;
    }

    // ---- the connection ----

    /// A socket to `/ws` is open: hello, every wanted document opened (our sync step 1, so
    /// the server sends what we lack), then the whole outbox resent.
    pub fn connected(&mut self) -> Vec<Effect> {
        if self.ended.is_some() {
            return Vec::new();
        }
        self.connected = true;
        self.synced.clear();
        self.unanswered_step1.clear();
        let mut out = vec![Effect::Send(Frame::Hello {
            version: PROTOCOL_VERSION,
        })];
        for doc in self.wanted.clone() {
            self.open_frames(doc, &mut out);
        }
        out.extend(self.resend().into_iter().map(|(_, f)| Effect::Send(f)));
        out
    }

    /// The socket is gone. `close` is the server's close frame (code, reason) if one came:
    /// a session that ended stops the session for good.
    pub fn disconnected(&mut self, close: Option<(u16, &str)>) -> Vec<Effect> {
        self.connected = false;
        self.synced.clear();
        self.unanswered_step1.clear();
        match close {
            Some((CLOSE_CODE, reason)) => match SessionEnd::parse(reason) {
                Some(end) => {
                    self.ended = Some(end);
                    vec![Effect::SessionEnded(end)]
                }
                None => ConnRefusal::parse(CLOSE_CODE, reason)
                    .map(Effect::ConnRefused)
                    .into_iter()
                    .collect(),
            },
            Some((code, reason)) => ConnRefusal::parse(code, reason)
                .map(Effect::ConnRefused)
                .into_iter()
                .collect(),
            None => Vec::new(),
        }
    }

    /// Everything in the outbox as frames, one merged update per document under its highest
    /// id; returns (ack, frame) pairs. Sent by [`connected`](Self::connected); public for
    /// drivers that resend on their own schedule.
    pub fn resend(&self) -> Vec<(u64, Frame)> {
        let mut per_doc: BTreeMap<DocId, (u64, Vec<&[u8]>)> = BTreeMap::new();
        for (id, entry) in &self.pending {
            let slot = per_doc.entry(entry.doc).or_default();
            slot.0 = slot.0.max(*id);
            slot.1.push(&entry.update);
        }
        per_doc
            .into_iter()
            .filter_map(|(doc, (ack, updates))| {
                let merged = match updates.as_slice() {
                    [one] => one.to_vec(),
                    many => yrs::merge_updates_v1(many).ok()?,
                };
                let message = Message::Sync(SyncMessage::Update(merged)).encode_v1();
                Some((
                    ack,
                    Frame::Sync {
                        doc,
                        ack: Some(ack),
                        message,
                    },
                ))
            })
            .collect()
    }

    // ---- documents ----

    /// Opens a document: it is synced now if connected, and after every reconnect. Asking
    /// again after a refusal asks the server again (the user may have been added since).
    pub fn open(&mut self, doc: DocId) -> Vec<Effect> {
        self.replica(doc);
        self.denied.remove(&doc);
        let mut out = Vec::new();
        if self.wanted.insert(doc) && self.connected {
            self.open_frames(doc, &mut out);
        }
        out
    }

    /// Opens it again even if it is open: a fresh sync step 1 both ways.
    pub fn reopen(&mut self, doc: DocId) -> Vec<Effect> {
        self.wanted.remove(&doc);
        self.open(doc)
    }

    /// Stops syncing a document (its replica stays).
    pub fn close(&mut self, doc: DocId) -> Vec<Effect> {
        self.synced.remove(&doc);
        // Whether the server still answers a step 1 sent before the close is its business:
        // a reopen must not wait for that answer.
        self.unanswered_step1.remove(&doc);
        if self.wanted.remove(&doc) && self.connected {
            vec![Effect::Send(Frame::Close { doc })]
        } else {
            Vec::new()
        }
    }

    fn open_frames(&mut self, doc: DocId, out: &mut Vec<Effect>) {
        self.synced.remove(&doc);
        *self.unanswered_step1.entry(doc).or_default() += 1;
        let sv = self.replica(doc).state_vector();
        out.push(Effect::Send(Frame::Open { doc }));
        out.push(Effect::Send(Frame::Sync {
            doc,
            ack: None,
            message: Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1(),
        }));
    }

    // ---- writing ----

    /// Queues an update the replica of `doc` produced (the caller made the change through
    /// [`room`](Self::room) or [`personal`](Self::personal)): into the outbox, then onto the
    /// socket if connected. Returns its ack.
    pub fn write(
        &mut self,
        doc: DocId,
        update: Vec<u8>,
        post: Option<String>,
    ) -> (u64, Vec<Effect>) {
        let entry = OutboxEntry { doc, update, post };
        let id = self.outbox.add(&entry);
        let out = self.write_stored(id, entry);
        (id, out)
    }

    /// [`write`](Self::write) for an outbox the driver fills itself because storing is
    /// asynchronous (IndexedDB): `entry` is stored under `id`, and only now sent.
    pub fn write_stored(&mut self, id: u64, entry: OutboxEntry) -> Vec<Effect> {
        let frame = Frame::Sync {
            doc: entry.doc,
            ack: Some(id),
            message: Message::Sync(SyncMessage::Update(entry.update.clone())).encode_v1(),
        };
        self.note_new_post(id, &entry);
        self.pending.insert(id, entry);
        if self.connected {
            vec![Effect::Send(frame)]
        } else {
            Vec::new()
        }
    }

    /// Remembers that entry `id` writes a new post (not an edit, a deletion or an
    /// acknowledgement, which name a post too), to tell of once it is saved.
    fn note_new_post(&mut self, id: u64, entry: &OutboxEntry) {
        let (DocId::Room(room), Some(post)) = (entry.doc, entry.post.as_deref()) else {
            return;
        };
        let Some(post) = PostId::parse(post) else {
            return;
        };
        if self
            .room_if_any(room)
            .is_some_and(|doc| doc.is_fresh_post(&post))
        {
            self.new_posts.insert(id, (room, post));
        }
    }

    /// News of the device's own new posts among the entries `acks` the server saved.
    fn own_activity(&mut self, acks: &[u64], out: &mut Vec<Effect>) {
        for ack in acks {
            let Some((room, id)) = self.new_posts.remove(ack) else {
                continue;
            };
            // Deleted before it was saved: the server tells nobody of it either.
            if let Some(post) = self.room_if_any(room).and_then(|doc| doc.post(&id)) {
                if !post.deleted {
                    out.push(activity(room, &post));
                }
            }
        }
    }

    // ---- frames from the server ----

    /// Handles one frame from the server. An update the replica cannot read is an error; the
    /// session is unchanged by it.
    pub fn handle_frame(&mut self, frame: Frame) -> crate::Result<Vec<Effect>> {
        let out = match frame {
            Frame::Sync { doc, message, .. } => self.on_sync(doc, &message)?,
            Frame::Saved { doc, ack } => {
                let acks = self.settle(doc, ack);
                let mut out = Vec::new();
                self.own_activity(&acks, &mut out);
                out.insert(0, Effect::Saved { doc, acks });
                out
            }
            Frame::Invalid {
                doc,
                ack: Some(ack),
                reason,
            } => {
                let acks = self.settle(doc, ack);
                // A refused post never reaches anyone.
                for ack in &acks {
                    self.new_posts.remove(ack);
                }
                self.last_refusal = Some(reason.clone());
                let mut out = vec![Effect::Refused { doc, acks, reason }];
                self.restart_replica(doc, &mut out);
                out
            }
            Frame::Denied { doc, reason } => {
                self.wanted.remove(&doc);
                self.synced.remove(&doc);
                self.unanswered_step1.remove(&doc);
                let forget = denied::is_membership(&reason);
                if forget {
                    // Not (or no longer) a member: the device stops keeping the document.
                    // A later membership syncs it from the server.
                    self.docs.remove(&doc);
                }
                self.denied.insert(doc, reason.clone());
                vec![Effect::Denied {
                    doc,
                    reason,
                    forget,
                }]
            }
            Frame::RoomActivity {
                room,
                author,
                at,
                text,
            } => vec![Effect::RoomActivity {
                room,
                author,
                at,
                text,
            }],
            Frame::RegisterMarked { municipality, mark } => {
                vec![Effect::RegisterMarked { municipality, mark }]
            }
            Frame::RegisterChanged { municipality } => {
                vec![Effect::RegisterChanged { municipality }]
            }
            _ => Vec::new(),
        };
        Ok(out)
    }

    fn on_sync(&mut self, doc: DocId, message: &[u8]) -> crate::Result<Vec<Effect>> {
        let message =
            Message::decode_v1(message).map_err(|e| crate::Error::Malformed(e.to_string()))?;
        let (update, step2) = match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                // Only for a document we hold: the server asks what we have that it lacks.
                let Some(replica) = self.docs.get(&doc) else {
                    return Ok(Vec::new());
                };
                let message = Message::Sync(SyncMessage::SyncStep2(replica.diff(&sv))).encode_v1();
                return Ok(vec![Effect::Send(Frame::Sync {
                    doc,
                    ack: None,
                    message,
                })]);
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => (update, true),
            Message::Sync(SyncMessage::Update(update)) => (update, false),
            _ => return Ok(Vec::new()),
        };
        let mut news = Vec::new();
        match (self.replicas, doc) {
            // What another device wrote, relayed as the server stored it: its new posts are
            // news for the room list (the server does not tell a socket of a room it has
            // open). The state an opening brings (step 2) is not.
            (Replicas::Full, DocId::Room(room)) if !step2 => {
                let created = match self.replica(doc) {
                    Replica::Room(replica) => replica.apply_remote(&update)?,
                    Replica::Personal(_) => unreachable!("a room id names a room replica"),
                };
                news.extend(created.iter().map(|post| activity(room, post)));
            }
            (Replicas::Full, _) => self.replica(doc).apply(&update)?,
            (Replicas::OwnWritesOnly, _) => {}
        }
        let last_answer = step2 && {
            let n = self.unanswered_step1.entry(doc).or_default();
            *n = n.saturating_sub(1);
            *n == 0
        };
        if last_answer {
            self.synced.insert(doc);
            Ok(vec![Effect::Synced(doc)])
        } else {
            news.insert(0, Effect::Remote { doc, update });
            Ok(news)
        }
    }

    /// After a refusal the replica holds a change the server will never have, and its client
    /// id has a gap there: yrs numbers each client's changes, so every later update of this
    /// client would be refused as skipping missing changes, and the device could not write
    /// again until it reloaded. So the document starts again under a fresh client id, empty,
    /// and is opened again: the server's state replaces the refused change. Entries still
    /// waiting for this document were made after it, under the old id, and meet the same
    /// refusal; older documents keep their replicas.
    fn restart_replica(&mut self, doc: DocId, out: &mut Vec<Effect>) {
        if self.replicas == Replicas::OwnWritesOnly {
            // Nothing to repair: such a session keeps no server state to rebuild from.
            return;
        }
        self.client_id = next_client_id(self.client_id);
        self.docs.insert(doc, Replica::new(doc, self.client_id));
        self.synced.remove(&doc);
        if self.connected && self.wanted.contains(&doc) {
            self.open_frames(doc, out);
        }
    }

    /// The server answered the entry `ack` of `doc`, and with it every older entry of the
    /// same document (it answers a connection's frames in order). Returns the ids removed.
    fn settle(&mut self, doc: DocId, ack: u64) -> Vec<u64> {
        let ids: Vec<u64> = self
            .pending
            .range(..=ack)
            .filter(|(_, e)| e.doc == doc)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.pending.remove(id);
        }
        if !ids.is_empty() {
            self.outbox.remove(&ids);
        }
        ids
    }
}

/// The room list's news of `post`, as the server words it (`Frame::RoomActivity`).
fn activity(room: RoomId, post: &crate::room::Post) -> Effect {
    Effect::RoomActivity {
        room,
        author: post.author,
        at: post.created_at,
        text: crate::frame::preview(&post.text),
    }
}

/// A new yrs client id from the last one (splitmix64, kept within JavaScript's safe
/// integers as yrs clients are): no randomness in a sans-IO core, and two devices that
/// started from different random ids do not meet.
fn next_client_id(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & ((1 << 53) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PostId, UserId};

    const ROOM: RoomId = RoomId::new(7);
    const DOC: DocId = DocId::Room(ROOM);
    const ME: UserId = UserId::new(3);

    /// A stand-in for the server's room: applies what it is sent, answers step 1 and acks.
    struct Server {
        doc: RoomDoc,
    }

    impl Server {
        fn new() -> Server {
            Server {
                doc: RoomDoc::server_replica(),
            }
        }

        /// The server's answers to one client frame.
        fn receive(&self, frame: &Frame) -> Vec<Frame> {
            let Frame::Sync { doc, ack, message } = frame else {
                return Vec::new();
            };
            match Message::decode_v1(message).unwrap() {
                Message::Sync(SyncMessage::SyncStep1(sv)) => vec![Frame::Sync {
                    doc: *doc,
                    ack: None,
                    message: Message::Sync(SyncMessage::SyncStep2(self.doc.encode_diff(&sv)))
                        .encode_v1(),
                }],
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    self.doc.apply_update(&u).unwrap();
                    ack.map(|ack| Frame::Saved { doc: *doc, ack })
                        .into_iter()
                        .collect()
                }
                _ => Vec::new(),
            }
        }
    }

    fn sent(effects: &[Effect]) -> Vec<Frame> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    fn new_post(
        session: &mut ClientSession<MemoryOutbox>,
        n: u32,
        text: &str,
    ) -> (PostId, Vec<u8>) {
        let id = PostId::parse(&format!("01ARZ3NDEKTSV4RRFFQ69G{n:04}")).unwrap();
        let update = session.room(ROOM).start_thread(ME, id.clone(), text, 1);
        (id, update)
    }

    /// Delivers every frame the session sends to the server and every answer back, until
    /// neither has anything to say.
    fn exchange(
        session: &mut ClientSession<MemoryOutbox>,
        server: &Server,
        effects: Vec<Effect>,
    ) -> Vec<Effect> {
        let mut seen = Vec::new();
        let mut to_server = sent(&effects);
        seen.extend(effects);
        while !to_server.is_empty() {
            let answers: Vec<Frame> = to_server.iter().flat_map(|f| server.receive(f)).collect();
            to_server.clear();
            for a in answers {
                let effects = session.handle_frame(a).unwrap();
                to_server.extend(sent(&effects));
                seen.extend(effects);
            }
        }
        seen
    }

    #[test]
    fn connecting_says_hello_and_opens_every_wanted_document_with_its_step_1() {
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        assert!(s.open(DOC).is_empty(), "nothing is sent while offline");
        let personal = DocId::Personal(ME);
        assert!(s.open(personal).is_empty());
        let frames = sent(&s.connected());
        assert_eq!(
            frames[0],
            Frame::Hello {
                version: PROTOCOL_VERSION
            }
        );
        let opened: Vec<DocId> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Open { doc } => Some(*doc),
                _ => None,
            })
            .collect();
        assert_eq!(opened, vec![DOC, personal]);
        assert!(matches!(&frames[2], Frame::Sync { doc, ack: None, message }
            if *doc == DOC && matches!(Message::decode_v1(message), Ok(Message::Sync(SyncMessage::SyncStep1(_))))));
        // Once connected, a newly opened document is opened at once; an open one is not again.
        let other = DocId::Room(RoomId::new(8));
        assert_eq!(sent(&s.open(other)).len(), 2);
        assert!(s.open(other).is_empty());
    }

    #[test]
    fn only_the_answer_to_the_last_step_1_means_synced() {
        let server = Server::new();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        // Connected, its first step 1 is on the wire but not answered yet; the user opens
        // the room again (a reopen), then another device's post reaches the server.
        let first = sent(&s.connected());
        let second = sent(&s.reopen(DOC));
        let mut other = ClientSession::new(12, MemoryOutbox::new());
        let answer = |frames: &[Frame]| -> Vec<Frame> {
            frames.iter().flat_map(|f| server.receive(f)).collect()
        };
        let early = answer(&first);
        let (late_post, u) = new_post(&mut other, 1, "あとから届いた投稿");
        server.doc.apply_update(&u).unwrap();
        let late = answer(&second);
        for frame in early {
            let effects = s.handle_frame(frame).unwrap();
            assert!(!effects.contains(&Effect::Synced(DOC)));
        }
        assert!(
            !s.is_synced(DOC),
            "the first answer predates the other post"
        );
        for frame in late {
            s.handle_frame(frame).unwrap();
        }
        assert!(s.is_synced(DOC));
        assert!(s.room(ROOM).post(&late_post).is_some());
    }

    #[test]
    fn the_servers_state_arrives_and_its_step_1_is_answered_with_what_it_lacks() {
        let server = Server::new();
        let mut other = ClientSession::new(12, MemoryOutbox::new());
        let (id, u) = new_post(&mut other, 1, "先にあった投稿");
        server.doc.apply_update(&u).unwrap();

        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        let (mine, _) = new_post(&mut s, 2, "オフラインの投稿");
        let effects = connect(&mut s, &server);
        assert!(effects.contains(&Effect::Synced(DOC)));
        assert!(s.is_synced(DOC));
        assert!(
            s.room(ROOM).post(&id).is_some(),
            "the server's post arrived"
        );
        // The server's step 1 asks for what it lacks: the offline post, sent as step 2.
        let step1 = Frame::Sync {
            doc: DOC,
            ack: None,
            message: Message::Sync(SyncMessage::SyncStep1(server.doc.state_vector())).encode_v1(),
        };
        let reply = sent(&s.handle_frame(step1).unwrap());
        assert_eq!(reply.len(), 1);
        exchange(
            &mut s,
            &server,
            reply.into_iter().map(Effect::Send).collect(),
        );
        assert!(server.doc.post(&mine).is_some());
        // A lost connection forgets that it was synced.
        s.disconnected(None);
        assert!(!s.is_synced(DOC) && !s.is_connected());
    }

    /// Connects and runs the exchange that follows to its end.
    fn connect(s: &mut ClientSession<MemoryOutbox>, server: &Server) -> Vec<Effect> {
        let effects = s.connected();
        exchange(s, server, effects)
    }

    #[test]
    fn writes_offline_wait_in_the_outbox_and_are_resent_merged_on_connect_then_acked_once() {
        let server = Server::new();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        let (p1, u1) = new_post(&mut s, 1, "一");
        let (p2, u2) = new_post(&mut s, 2, "二");
        let (a1, e1) = s.write(DOC, u1, Some(p1.to_string()));
        let (a2, e2) = s.write(DOC, u2, None);
        assert!(e1.is_empty() && e2.is_empty(), "offline: nothing sent");
        assert!(a2 > a1);
        assert_eq!(
            s.outbox().entries().len(),
            2,
            "kept durably before anything is sent"
        );

        let connect = s.connected();
        let updates: Vec<&Frame> = sent_refs(&connect);
        assert_eq!(
            updates.len(),
            1,
            "one merged update for the room: {updates:?}"
        );
        assert!(matches!(updates[0], Frame::Sync { ack: Some(a), .. } if *a == a2));
        let effects = exchange(&mut s, &server, connect);
        assert!(effects.contains(&Effect::Saved {
            doc: DOC,
            acks: vec![a1, a2]
        }));
        assert!(server.doc.post(&p1).is_some() && server.doc.post(&p2).is_some());
        assert_eq!(s.pending().count(), 0);
        assert!(s.outbox().entries().is_empty(), "forgotten durably too");

        // A second answer for the same ack (a duplicate resend) settles nothing again.
        let again = s.handle_frame(Frame::Saved { doc: DOC, ack: a2 }).unwrap();
        assert_eq!(
            again,
            vec![Effect::Saved {
                doc: DOC,
                acks: vec![]
            }]
        );
    }

    fn sent_refs(effects: &[Effect]) -> Vec<&Frame> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(f @ Frame::Sync { ack: Some(_), .. }) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_write_unanswered_when_the_socket_dies_is_resent_after_the_reconnect() {
        let server = Server::new();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        connect(&mut s, &server);
        let (p, u) = new_post(&mut s, 1, "届かなかった投稿");
        let (ack, effects) = s.write(DOC, u, None);
        assert_eq!(sent(&effects).len(), 1, "sent at once while connected");
        // The socket dies before the server read it.
        s.disconnected(Some((1006, "")));
        assert_eq!(s.pending().map(|(id, _)| id).collect::<Vec<_>>(), vec![ack]);
        let effects = connect(&mut s, &server);
        assert!(effects.contains(&Effect::Saved {
            doc: DOC,
            acks: vec![ack]
        }));
        assert!(server.doc.post(&p).is_some());
        assert_eq!(s.pending().count(), 0);
    }

    #[test]
    fn an_ack_settles_older_entries_of_its_document_only() {
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        let other = DocId::Room(RoomId::new(8));
        let (a1, _) = s.write(DOC, vec![1], None);
        let (b1, _) = s.write(other, vec![2], None);
        let (a2, _) = s.write(DOC, vec![3], None);
        let (a3, _) = s.write(DOC, vec![4], None);
        let effects = s.handle_frame(Frame::Saved { doc: DOC, ack: a2 }).unwrap();
        assert_eq!(
            effects,
            vec![Effect::Saved {
                doc: DOC,
                acks: vec![a1, a2]
            }]
        );
        let left: Vec<u64> = s.pending().map(|(id, _)| id).collect();
        assert_eq!(left, vec![b1, a3]);
        // A refusal also takes the entry out, for good, and is kept for the UI.
        let effects = s
            .handle_frame(Frame::Invalid {
                doc: other,
                ack: Some(b1),
                reason: "too long".into(),
            })
            .unwrap();
        assert_eq!(
            effects,
            vec![Effect::Refused {
                doc: other,
                acks: vec![b1],
                reason: "too long".into()
            }]
        );
        assert_eq!(s.refusal(), Some("too long"));
        assert_eq!(s.pending().map(|(id, _)| id).collect::<Vec<_>>(), vec![a3]);
    }

    #[test]
    fn after_a_refused_write_the_room_restarts_from_the_server_and_the_next_write_is_whole() {
        let server = Server::new();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        connect(&mut s, &server);
        let (kept, u) = new_post(&mut s, 1, "保存される");
        let (_, effects) = s.write(DOC, u, None);
        exchange(&mut s, &server, effects);
        let (refused, u) = new_post(&mut s, 2, "拒否される");
        let (ack, _) = s.write(DOC, u, None);
        let effects = s
            .handle_frame(Frame::Invalid {
                doc: DOC,
                ack: Some(ack),
                reason: "dated in the future".into(),
            })
            .unwrap();
        assert_ne!(s.client_id(), 11, "a fresh client id");
        assert!(
            s.room(ROOM).post(&refused).is_none(),
            "the refused post is gone"
        );
        let frames = sent(&effects);
        assert!(
            matches!(frames.as_slice(), [Frame::Open { .. }, Frame::Sync { .. }]),
            "the room is opened again: {frames:?}"
        );
        exchange(&mut s, &server, effects);
        assert!(
            s.room(ROOM).post(&kept).is_some(),
            "the server's state is back"
        );
        assert!(s.is_synced(DOC));

        // The next post has no gap at the refused one: the server can apply it.
        let (next, u) = new_post(&mut s, 3, "次の投稿");
        let (_, effects) = s.write(DOC, u, None);
        exchange(&mut s, &server, effects);
        assert!(server.doc.post(&next).is_some());
        assert!(server.doc.post(&refused).is_none());
    }

    #[test]
    fn a_membership_refusal_forgets_the_room_and_a_passing_one_keeps_it() {
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.connected();
        s.open(DOC);
        let (p, u) = new_post(&mut s, 1, "残る？");
        s.room(ROOM).apply_update(&u).unwrap();
        let effects = s
            .handle_frame(Frame::Denied {
                doc: DOC,
                reason: "busy".into(),
            })
            .unwrap();
        assert!(matches!(
            &effects[..],
            [Effect::Denied { forget: false, .. }]
        ));
        assert!(s.room(ROOM).post(&p).is_some());
        assert!(!s.is_open(DOC));
        assert_eq!(s.denied(DOC), Some("busy"));

        s.open(DOC);
        assert_eq!(s.denied(DOC), None, "opening again asks again");
        let effects = s
            .handle_frame(Frame::Denied {
                doc: DOC,
                reason: denied::REMOVED.into(),
            })
            .unwrap();
        assert!(matches!(
            &effects[..],
            [Effect::Denied { forget: true, .. }]
        ));
        assert!(s.room(ROOM).post(&p).is_none(), "the replica is gone");
        // Not reopened on the next connect.
        s.disconnected(None);
        let frames = sent(&s.connected());
        assert!(!frames.iter().any(|f| matches!(f, Frame::Open { .. })));
    }

    #[test]
    fn a_session_end_close_stops_the_session_and_another_close_does_not() {
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        s.connected();
        assert!(s
            .disconnected(Some((1013, "storage unavailable")))
            .is_empty());
        assert!(!s.connected().is_empty(), "a passing close reconnects");
        let effects = s.disconnected(Some((CLOSE_CODE, SessionEnd::Revoked.as_str())));
        assert_eq!(effects, vec![Effect::SessionEnded(SessionEnd::Revoked)]);
        assert_eq!(s.ended(), Some(SessionEnd::Revoked));
        assert!(
            s.connected().is_empty(),
            "an ended session never connects again"
        );
        assert!(!s.is_connected());
    }

    #[test]
    fn a_connection_cap_refusal_is_reported_and_the_session_goes_on() {
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        s.connected();
        let (code, reason) = ConnRefusal::TooManyConnections { limit: 8 }.close();
        assert_eq!(
            s.disconnected(Some((code, &reason))),
            vec![Effect::ConnRefused(ConnRefusal::TooManyConnections {
                limit: 8
            })]
        );
        assert_eq!(s.ended(), None, "a refusal is not the session's end");
        let (code, reason) = ConnRefusal::ServerBusy.close();
        s.connected();
        assert_eq!(
            s.disconnected(Some((code, &reason))),
            vec![Effect::ConnRefused(ConnRefusal::ServerBusy)]
        );
        assert!(!s.connected().is_empty(), "it connects again when asked");
    }

    #[test]
    fn a_restored_outbox_is_applied_opened_and_resent() {
        let mut first = ClientSession::new(11, MemoryOutbox::new());
        let (p, u) = new_post(&mut first, 1, "再読み込み前");
        first.write(DOC, u, None);
        let kept = first.outbox().clone();

        let mut s = ClientSession::new(11, MemoryOutbox::new());
        for (id, entry) in kept.entries() {
            s.restore(id, entry);
        }
        assert!(s.room(ROOM).post(&p).is_some());
        assert!(s.is_open(DOC));
        let server = Server::new();
        connect(&mut s, &server);
        assert!(server.doc.post(&p).is_some());
        assert_eq!(s.pending().count(), 0);
    }

    #[test]
    fn without_replicas_remote_updates_are_reported_not_applied() {
        let server = Server::new();
        let mut writer = ClientSession::new(12, MemoryOutbox::new());
        let (p, u) = new_post(&mut writer, 1, "他の人の投稿");
        server.doc.apply_update(&u).unwrap();
        let mut s = ClientSession::with_replicas(11, MemoryOutbox::new(), Replicas::OwnWritesOnly);
        s.open(DOC);
        let effects = connect(&mut s, &server);
        assert!(effects.contains(&Effect::Synced(DOC)));
        assert!(s.room(ROOM).post(&p).is_none());
        let (q, live) = new_post(&mut writer, 2, "いま届いた投稿");
        let relayed = Frame::Sync {
            doc: DOC,
            ack: None,
            message: Message::Sync(SyncMessage::Update(live.clone())).encode_v1(),
        };
        let effects = s.handle_frame(relayed).unwrap();
        assert_eq!(
            effects,
            vec![Effect::Remote {
                doc: DOC,
                update: live
            }]
        );
        assert!(s.room(ROOM).post(&q).is_none());
    }

    fn relayed(update: &[u8]) -> Frame {
        Frame::Sync {
            doc: DOC,
            ack: None,
            message: Message::Sync(SyncMessage::Update(update.to_vec())).encode_v1(),
        }
    }

    fn news(effects: &[Effect]) -> Vec<(RoomId, String)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::RoomActivity { room, text, .. } => Some((*room, text.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn another_devices_new_post_in_an_open_room_is_news_once_and_its_edit_is_not() {
        let server = Server::new();
        let mut writer = ClientSession::new(12, MemoryOutbox::new());
        let (old, u) = new_post(&mut writer, 1, "開く前の投稿");
        server.doc.apply_update(&u).unwrap();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        let effects = connect(&mut s, &server);
        assert!(
            news(&effects).is_empty(),
            "the state an opening brings is not news: {effects:?}"
        );
        assert!(s.room(ROOM).post(&old).is_some());

        let (_, live) = new_post(&mut writer, 2, "いま届いた投稿\n二行目");
        let effects = s.handle_frame(relayed(&live)).unwrap();
        assert_eq!(news(&effects), vec![(ROOM, "いま届いた投稿".to_owned())]);
        assert!(
            matches!(&effects[..], [Effect::Remote { .. }, Effect::RoomActivity { author, at: 1, .. }] if *author == ME)
        );
        // Relayed twice (a resend the server stored once): the replica has it, no news.
        assert!(news(&s.handle_frame(relayed(&live)).unwrap()).is_empty());
        // An edit, a reaction and a deletion are not news.
        let edit = writer.room(ROOM).edit(ME, &old, "訂正", 2).unwrap();
        let react = writer.room(ROOM).react(ME, &old, crate::Reaction::Ack);
        let delete = writer.room(ROOM).delete(ME, &old, 3).unwrap();
        for u in [edit, react, delete] {
            assert!(news(&s.handle_frame(relayed(&u)).unwrap()).is_empty());
        }
        // A reply is.
        let reply_id = PostId::parse("01ARZ3NDEKTSV4RRFFQ69G0009").unwrap();
        let reply = writer
            .room(ROOM)
            .reply(ME, reply_id, &old, "返信です", 4)
            .unwrap();
        assert_eq!(
            news(&s.handle_frame(relayed(&reply)).unwrap()),
            vec![(ROOM, "返信です".to_owned())]
        );
        // A session that keeps no replicas reads nothing into what it is handed.
        let mut lean =
            ClientSession::with_replicas(13, MemoryOutbox::new(), Replicas::OwnWritesOnly);
        lean.open(DOC);
        let (_, another) = new_post(&mut writer, 3, "もう一件");
        assert!(news(&lean.handle_frame(relayed(&another)).unwrap()).is_empty());
    }

    #[test]
    fn my_new_post_is_news_when_saved_and_my_edit_deletion_or_refused_post_is_not() {
        let server = Server::new();
        let mut s = ClientSession::new(11, MemoryOutbox::new());
        s.open(DOC);
        connect(&mut s, &server);
        let (mine, u) = new_post(&mut s, 1, "自分の投稿");
        let (_, effects) = s.write(DOC, u, Some(mine.to_string()));
        assert!(news(&effects).is_empty(), "not before it is saved");
        let effects = exchange(&mut s, &server, effects);
        assert_eq!(news(&effects), vec![(ROOM, "自分の投稿".to_owned())]);

        // Edits, deletions and acknowledgements name a post too; they are not news.
        let edit = s.room(ROOM).edit(ME, &mine, "訂正", 2).unwrap();
        let (_, effects) = s.write(DOC, edit, Some(mine.to_string()));
        assert!(news(&exchange(&mut s, &server, effects)).is_empty());
        let ack = s.room(ROOM).acknowledge(ME, &mine, 3);
        let (_, effects) = s.write(DOC, ack, Some(format!("ack:{mine}")));
        assert!(news(&exchange(&mut s, &server, effects)).is_empty());
        let delete = s.room(ROOM).delete(ME, &mine, 4).unwrap();
        let (_, effects) = s.write(DOC, delete, Some(mine.to_string()));
        assert!(news(&exchange(&mut s, &server, effects)).is_empty());

        // Written offline, kept by the device, restored after a restart: news once saved.
        let (offline, u) = new_post(&mut s, 2, "オフラインで書いた投稿");
        let (_, _) = s.write(DOC, u, Some(offline.to_string()));
        s.disconnected(None);
        let kept = s.outbox().clone();
        let mut restarted = ClientSession::new(11, kept.clone());
        for (id, entry) in kept.entries() {
            restarted.restore(id, entry);
        }
        let effects = connect(&mut restarted, &server);
        assert_eq!(
            news(&effects),
            vec![(ROOM, "オフラインで書いた投稿".to_owned())]
        );

        // A refused post reaches nobody.
        let (refused, u) = new_post(&mut restarted, 3, "拒否される");
        let (ack, _) = restarted.write(DOC, u, Some(refused.to_string()));
        let effects = restarted
            .handle_frame(Frame::Invalid {
                doc: DOC,
                ack: Some(ack),
                reason: "dated in the future".into(),
            })
            .unwrap();
        assert!(news(&effects).is_empty());
        let late = restarted
            .handle_frame(Frame::Saved { doc: DOC, ack })
            .unwrap();
        assert!(news(&late).is_empty());
    }
}
