//! The sync engine: one WebSocket to `/ws` speaking `Frame`s (postcard) with yrs' sync
//! messages inside, a `RoomDoc` replica per opened room and the user's `PersonalDoc`, all
//! kept in IndexedDB so they open with no network.
//!
//! Writes: a mutation of a replica returns its update bytes; they go to the IndexedDB outbox
//! first, and are sent as `Sync{ack: outbox id}` only once that write has committed. An entry
//! leaves the outbox on `Saved{ack}` (or `Invalid{ack}`: the server will never take it); a
//! storage failure on the server closes the socket with 1013 instead, and the entry stays. After
//! every reconnect the whole outbox is resent, merged into one update per document with the
//! highest id as `ack` — the server stores nothing twice and `Saved` covers them all, since it
//! answers one connection's frames in order.
//!
//! Reconnects: capped exponential backoff with full jitter, cut short by the browser's
//! `online` event. The yrs client id is random per page load.

mod socket;

use crate::store::{OutboxEntry, Store};
use dioxus::prelude::*;
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use renraku_sync::frame::{denied, PROTOCOL_VERSION};
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::decoder::Decode;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, PersonalDoc, RoomDoc, RoomId, SessionEnd, UserId};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

/// The connection as the UI shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Online,
    Offline,
}

/// What the socket and the browser tell the engine (from JS callbacks, through a channel, so
/// the engine's state changes only inside its own task).
pub(crate) enum Event {
    Opened(u32),
    Frame(u32, Vec<u8>),
    /// The socket closed; with the reason when the server closed it because the session
    /// ended.
    Closed(u32, Option<SessionEnd>),
    Retry(u32),
    BrowserOnline,
    BrowserOffline,
    Save,
    /// A document the user opened: load it from IndexedDB, then sync it.
    OpenDoc(DocId),
    /// A local update: into the outbox, then onto the socket (in order, one at a time).
    Write(OutboxEntry),
}

struct Inner {
    me: UserId,
    client_id: u64,
    store: Store,
    rooms: HashMap<RoomId, RoomDoc>,
    personal: PersonalDoc,
    /// Documents the user has open: (re)opened on the server after every connect.
    wanted: HashSet<DocId>,
    /// Documents whose server state has arrived since they were last opened.
    synced: HashSet<DocId>,
    /// Refusals to open (not a member, …), by document.
    denied: HashMap<DocId, String>,
    /// The outbox mirrored in memory (ids from IndexedDB, or local when it is unavailable).
    outbox: BTreeMap<u64, OutboxEntry>,
    next_local_ack: u64,
    /// Documents changed since they were last written to IndexedDB.
    dirty: HashSet<DocId>,
    save_scheduled: bool,
    socket: Option<socket::Socket>,
    /// Bumped for every new socket, so that a dead socket's late events are ignored.
    generation: u32,
    connected: bool,
    attempt: u32,
    /// The last refusal of a write, for the UI.
    last_refusal: Option<String>,
    /// Signed out: never connect again.
    stopped: bool,
    /// Documents already read from IndexedDB in this run (each is read once).
    loaded: HashSet<DocId>,
}

/// A handle to the engine; cheap to clone, provided as a context at the root.
#[derive(Clone)]
pub struct Engine {
    inner: Rc<RefCell<Inner>>,
    events: UnboundedSender<Event>,
    revision: Signal<u64>,
    status: Signal<ConnState>,
    /// Set when the server closed the socket because the session ended.
    ended: Signal<Option<SessionEnd>>,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Engine {
    /// Creates the engine for `me`, loads what IndexedDB holds (personal doc, outbox) and
    /// starts connecting. Call inside a component (it spawns its task there).
    pub fn start(me: UserId, store: Store) -> Engine {
        let client_id = crate::util::random_u64() & ((1 << 53) - 1);
        let (tx, rx) = unbounded();
        let engine = Engine {
            inner: Rc::new(RefCell::new(Inner {
                me,
                client_id,
                store,
                rooms: HashMap::new(),
                personal: PersonalDoc::new(client_id),
                wanted: HashSet::from([DocId::Personal(me)]),
                synced: HashSet::new(),
                denied: HashMap::new(),
                outbox: BTreeMap::new(),
                next_local_ack: 1 << 40,
                dirty: HashSet::new(),
                save_scheduled: false,
                socket: None,
                generation: 0,
                connected: false,
                attempt: 0,
                last_refusal: None,
                stopped: false,
                loaded: HashSet::new(),
            })),
            events: tx,
            revision: Signal::new(0),
            status: Signal::new(ConnState::Connecting),
            ended: Signal::new(None),
        };
        socket::listen_browser_events(engine.events.clone());
        let e = engine.clone();
        spawn(async move { e.run(rx).await });
        engine
    }

    /// Bumped on every change of any replica or of the outbox: read it to re-render.
    pub fn revision(&self) -> Signal<u64> {
        self.revision
    }

    pub fn status(&self) -> Signal<ConnState> {
        self.status
    }

    /// How the session ended, once the server has closed the socket because it did: the
    /// engine then stops (a reconnect would be refused) and the app returns to sign-in.
    pub fn ended(&self) -> Signal<Option<SessionEnd>> {
        self.ended
    }

    /// Stops syncing (sign-out): the socket closes and no reconnect follows.
    pub fn shutdown(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        inner.generation += 1;
        inner.connected = false;
        if let Some(socket) = inner.socket.take() {
            socket.close();
        }
    }

    fn bump(&self) {
        let mut r = self.revision;
        *r.write() += 1;
    }

    // ---- reading ----

    /// Reads a room's replica (opened or not: an unopened room reads as empty).
    pub fn read_room<R>(&self, room: RoomId, f: impl FnOnce(&RoomDoc) -> R) -> R {
        let mut inner = self.inner.borrow_mut();
        let client_id = inner.client_id;
        let doc = inner
            .rooms
            .entry(room)
            .or_insert_with(|| RoomDoc::new(client_id));
        f(doc)
    }

    pub fn personal<R>(&self, f: impl FnOnce(&PersonalDoc) -> R) -> R {
        f(&self.inner.borrow().personal)
    }

    /// Whether the server's state of the room has arrived since it was opened.
    pub fn is_synced(&self, room: RoomId) -> bool {
        self.inner.borrow().synced.contains(&DocId::Room(room))
    }

    pub fn denied(&self, room: RoomId) -> Option<String> {
        self.inner.borrow().denied.get(&DocId::Room(room)).cloned()
    }

    /// Posts of the room with an update still waiting for the server (送信待ち).
    pub fn pending(&self, room: RoomId) -> HashSet<String> {
        let doc = DocId::Room(room);
        self.inner
            .borrow()
            .outbox
            .values()
            .filter(|e| e.doc == doc)
            .filter_map(|e| e.post.clone())
            .collect()
    }

    /// How many updates wait for the server, in all documents.
    pub fn pending_count(&self) -> usize {
        self.inner.borrow().outbox.len()
    }

    /// The server's reason for refusing the last write, until dismissed.
    pub fn refusal(&self) -> Option<String> {
        self.inner.borrow().last_refusal.clone()
    }

    pub fn dismiss_refusal(&self) {
        self.inner.borrow_mut().last_refusal = None;
        self.bump();
    }

    // ---- opening ----

    /// Opens a room: its stored replica is loaded first, then it syncs with the server.
    pub fn open_room(&self, room: RoomId) {
        let doc = DocId::Room(room);
        if self.inner.borrow().wanted.contains(&doc) {
            return;
        }
        let mut inner = self.inner.borrow_mut();
        inner.wanted.insert(doc);
        // Ask again: the user may have been added (back) since the last refusal.
        inner.denied.remove(&doc);
        drop(inner);
        let _ = self.events.unbounded_send(Event::OpenDoc(doc));
    }

    async fn load(&self, doc: DocId) {
        if !self.inner.borrow_mut().loaded.insert(doc) {
            return;
        }
        let store = self.inner.borrow().store.clone();
        let Some(state) = store.get_doc(doc).await else {
            return;
        };
        {
            let mut inner = self.inner.borrow_mut();
            let client_id = inner.client_id;
            let result = match doc {
                DocId::Room(room) => inner
                    .rooms
                    .entry(room)
                    .or_insert_with(|| RoomDoc::new(client_id))
                    .apply_update(&state)
                    .is_ok(),
                DocId::Personal(_) => apply_personal(&inner.personal, &state).is_ok(),
            };
            if !result {
                web_sys::console::warn_1(&"stored document unreadable; resyncing".into());
            }
        }
        if let DocId::Room(_) = doc {
            crate::util::mark("renraku:room-loaded");
        }
        self.bump();
    }

    fn send_open(&self, doc: DocId) {
        let step1 = {
            let inner = self.inner.borrow();
            if !inner.connected {
                return;
            }
            let sv = match doc {
                DocId::Room(room) => inner
                    .rooms
                    .get(&room)
                    .map(|d| d.state_vector())
                    .unwrap_or_default(),
                DocId::Personal(_) => {
                    use renraku_sync::yrs::{ReadTxn, Transact};
                    inner.personal.doc().transact().state_vector()
                }
            };
            Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1()
        };
        self.inner.borrow_mut().synced.remove(&doc);
        self.send(&Frame::Open { doc });
        self.send(&Frame::Sync {
            doc,
            ack: None,
            message: step1,
        });
    }

    fn send(&self, frame: &Frame) {
        let inner = self.inner.borrow();
        if let (true, Some(socket)) = (inner.connected, &inner.socket) {
            socket.send(&frame.encode());
        }
    }

    // ---- writing ----

    /// Applies a local change to a room's replica and queues its update (outbox first).
    /// `post` names the post it writes, for the 送信待ち badge.
    pub fn write_room(
        &self,
        room: RoomId,
        post: Option<String>,
        f: impl FnOnce(&RoomDoc) -> Vec<u8>,
    ) {
        let update = self.read_room(room, f);
        self.queue(DocId::Room(room), update, post);
    }

    pub fn write_personal(&self, f: impl FnOnce(&PersonalDoc) -> Vec<u8>) {
        let (update, me) = {
            let inner = self.inner.borrow();
            (f(&inner.personal), inner.me)
        };
        self.queue(DocId::Personal(me), update, None);
    }

    fn queue(&self, doc: DocId, update: Vec<u8>, post: Option<String>) {
        // An update that changes nothing (e.g. unpinning what is not pinned) is not sent.
        if update.len() <= 2 {
            return;
        }
        self.mark_dirty(doc);
        self.bump();
        let entry = OutboxEntry { doc, update, post };
        let _ = self.events.unbounded_send(Event::Write(entry));
    }

    /// Stores the update in the outbox, and sends it once that write has committed.
    async fn write(&self, entry: OutboxEntry) {
        let store = self.inner.borrow().store.clone();
        let id = match store.outbox_add(&entry).await {
            Some(id) => id,
            None => {
                let mut inner = self.inner.borrow_mut();
                inner.next_local_ack += 1;
                inner.next_local_ack
            }
        };
        let doc = entry.doc;
        let message = Message::Sync(SyncMessage::Update(entry.update.clone())).encode_v1();
        self.inner.borrow_mut().outbox.insert(id, entry);
        self.send(&Frame::Sync {
            doc,
            ack: Some(id),
            message,
        });
        self.bump();
    }

    fn mark_dirty(&self, doc: DocId) {
        let schedule = {
            let mut inner = self.inner.borrow_mut();
            inner.dirty.insert(doc);
            !std::mem::replace(&mut inner.save_scheduled, true)
        };
        if schedule {
            let events = self.events.clone();
            // In the root scope: the component that wrote may be gone before the timer fires.
            dioxus::core::spawn_forever(async move {
                // Coalesces bursts (a room's first sync, a flurry of reactions) into one write.
                crate::util::sleep_ms(400).await;
                let _ = events.unbounded_send(Event::Save);
            });
        }
    }

    async fn save_dirty(&self) {
        let (store, states) = {
            let mut inner = self.inner.borrow_mut();
            inner.save_scheduled = false;
            let dirty: Vec<DocId> = inner.dirty.drain().collect();
            let states: Vec<(DocId, Vec<u8>)> = dirty
                .into_iter()
                .filter_map(|doc| {
                    let state = match doc {
                        DocId::Room(room) => inner.rooms.get(&room)?.encode_state(),
                        DocId::Personal(_) => encode_personal(&inner.personal),
                    };
                    Some((doc, state))
                })
                .collect();
            (inner.store.clone(), states)
        };
        for (doc, state) in states {
            store.put_doc(doc, &state).await;
        }
    }

    // ---- the connection ----

    async fn run(self, mut rx: UnboundedReceiver<Event>) {
        // The outbox survives reloads: load it, and open the documents it writes to.
        let (store, me) = {
            let inner = self.inner.borrow();
            (inner.store.clone(), inner.me)
        };
        // A room asked for before this task ran (the page was opened on it) is read from
        // IndexedDB together with the personal document and the outbox, not after them:
        // it is what the first screen waits for.
        let first_room = self
            .inner
            .borrow()
            .wanted
            .iter()
            .copied()
            .find(|d| matches!(d, DocId::Room(_)));
        let (_, _, stored) = futures_util::future::join3(
            self.load(DocId::Personal(me)),
            async {
                if let Some(doc) = first_room {
                    self.load(doc).await;
                }
            },
            store.outbox_all(),
        )
        .await;
        for (id, entry) in stored {
            if let DocId::Room(room) = entry.doc {
                let doc = DocId::Room(room);
                if !self.inner.borrow().wanted.contains(&doc) {
                    self.inner.borrow_mut().wanted.insert(doc);
                    self.load(doc).await;
                }
            }
            // The stored document may predate the update (it is saved a moment after each
            // change; the outbox entry is written first): apply it again, harmlessly.
            {
                let mut inner = self.inner.borrow_mut();
                let client_id = inner.client_id;
                let _ = match entry.doc {
                    DocId::Room(room) => inner
                        .rooms
                        .entry(room)
                        .or_insert_with(|| RoomDoc::new(client_id))
                        .apply_update(&entry.update)
                        .is_ok(),
                    DocId::Personal(_) => apply_personal(&inner.personal, &entry.update).is_ok(),
                };
                inner.outbox.insert(id, entry);
            }
        }
        self.bump();
        self.connect();
        while let Some(event) = rx.next().await {
            self.handle(event).await;
        }
    }

    fn connect(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.stopped {
            return;
        }
        if let Some(old) = inner.socket.take() {
            old.close();
        }
        inner.connected = false;
        inner.generation += 1;
        let generation = inner.generation;
        inner.socket = socket::Socket::open(generation, self.events.clone());
        drop(inner);
        let mut status = self.status;
        if *status.peek() != ConnState::Offline || socket::browser_online() {
            status.set(ConnState::Connecting);
        }
    }

    async fn handle(&self, event: Event) {
        let current = self.inner.borrow().generation;
        match event {
            Event::Opened(g) if g == current => self.on_open(),
            Event::Frame(g, bytes) if g == current => self.on_frame(&bytes).await,
            Event::Closed(g, Some(why)) if g == current => {
                self.shutdown();
                let mut ended = self.ended;
                ended.set(Some(why));
            }
            Event::Closed(g, None) if g == current => self.on_close(),
            Event::Retry(g) if g == current => self.connect(),
            // The network is back: try now rather than at the end of a long backoff.
            Event::BrowserOnline if !self.inner.borrow().connected => {
                self.inner.borrow_mut().attempt = 0;
                self.connect();
            }
            Event::BrowserOffline => {
                // Chromium keeps an open socket "open" while the network is gone and holds
                // its frames: treat it as closed, so the UI says offline and writes wait in
                // the outbox; the next connection resends them.
                {
                    let mut inner = self.inner.borrow_mut();
                    if let Some(socket) = inner.socket.take() {
                        socket.close();
                    }
                    inner.generation += 1;
                }
                self.on_close();
            }
            Event::Save => self.save_dirty().await,
            Event::OpenDoc(doc) => {
                self.load(doc).await;
                self.send_open(doc);
            }
            Event::Write(entry) => self.write(entry).await,
            _ => {}
        }
    }

    fn on_open(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.connected = true;
            // With writes waiting, the backoff resets only once one is saved: a server whose
            // storage is failing closes each connection that resends them, and devices must
            // not come back every second while it lasts.
            if inner.outbox.is_empty() {
                inner.attempt = 0;
            }
        }
        let mut status = self.status;
        status.set(ConnState::Online);
        self.send(&Frame::Hello {
            version: PROTOCOL_VERSION,
        });
        let wanted: Vec<DocId> = self.inner.borrow().wanted.iter().copied().collect();
        for doc in wanted {
            self.send_open(doc);
        }
        self.resend_outbox();
    }

    /// Everything still in the outbox, one merged update per document.
    fn resend_outbox(&self) {
        let mut per_doc: BTreeMap<DocId, (u64, Vec<Vec<u8>>)> = BTreeMap::new();
        for (id, entry) in &self.inner.borrow().outbox {
            let slot = per_doc.entry(entry.doc).or_default();
            slot.0 = slot.0.max(*id);
            slot.1.push(entry.update.clone());
        }
        for (doc, (ack, updates)) in per_doc {
            let merged = if updates.len() == 1 {
                updates.into_iter().next().unwrap_or_default()
            } else {
                match renraku_sync::yrs::merge_updates_v1(&updates) {
                    Ok(u) => u,
                    Err(_) => continue,
                }
            };
            let message = Message::Sync(SyncMessage::Update(merged)).encode_v1();
            self.send(&Frame::Sync {
                doc,
                ack: Some(ack),
                message,
            });
        }
    }

    fn on_close(&self) {
        let (generation, delay) = {
            let mut inner = self.inner.borrow_mut();
            inner.connected = false;
            inner.socket = None;
            inner.synced.clear();
            inner.attempt = inner.attempt.saturating_add(1);
            // Full jitter: a random wait up to the capped exponential step, so a server
            // restart does not bring every client back at the same instant.
            let cap = 30_000f64;
            let step = (500f64 * 2f64.powi(inner.attempt.min(16) as i32)).min(cap);
            (inner.generation, (js_sys::Math::random() * step) as i32)
        };
        let mut status = self.status;
        status.set(if socket::browser_online() {
            ConnState::Connecting
        } else {
            ConnState::Offline
        });
        self.bump();
        let events = self.events.clone();
        dioxus::core::spawn_forever(async move {
            crate::util::sleep_ms(delay.max(100)).await;
            let _ = events.unbounded_send(Event::Retry(generation));
        });
    }

    async fn on_frame(&self, bytes: &[u8]) {
        let Ok(frame) = Frame::decode_from_server(bytes) else {
            return;
        };
        match frame {
            Frame::Sync { doc, message, .. } => self.on_sync(doc, &message),
            Frame::Saved { doc, ack } => self.settle(doc, ack, None).await,
            Frame::Invalid {
                doc,
                ack: Some(ack),
                reason,
            } => self.settle(doc, ack, Some(reason)).await,
            Frame::Denied { doc, reason } => {
                let mut inner = self.inner.borrow_mut();
                inner.wanted.remove(&doc);
                if denied::is_membership(&reason) {
                    // Not (or no longer) a member: the device stops keeping the room, in
                    // memory and in IndexedDB. A later membership syncs it from the server.
                    if let DocId::Room(room) = doc {
                        inner.rooms.remove(&room);
                    }
                    inner.dirty.remove(&doc);
                    inner.synced.remove(&doc);
                    let store = inner.store.clone();
                    wasm_bindgen_futures::spawn_local(async move { store.delete_doc(doc).await });
                }
                inner.denied.insert(doc, reason);
                drop(inner);
                self.bump();
            }
            _ => {}
        }
    }

    fn on_sync(&self, doc: DocId, message: &[u8]) {
        let Ok(message) = Message::decode_v1(message) else {
            return;
        };
        let update = match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = {
                    let inner = self.inner.borrow();
                    match doc {
                        DocId::Room(room) => inner.rooms.get(&room).map(|d| d.encode_diff(&sv)),
                        DocId::Personal(_) => {
                            use renraku_sync::yrs::{ReadTxn, Transact};
                            Some(
                                inner
                                    .personal
                                    .doc()
                                    .transact()
                                    .encode_state_as_update_v1(&sv),
                            )
                        }
                    }
                };
                if let Some(diff) = diff {
                    let message = Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1();
                    self.send(&Frame::Sync {
                        doc,
                        ack: None,
                        message,
                    });
                }
                return;
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                self.inner.borrow_mut().synced.insert(doc);
                update
            }
            Message::Sync(SyncMessage::Update(update)) => update,
            _ => return,
        };
        let applied = {
            let mut inner = self.inner.borrow_mut();
            let client_id = inner.client_id;
            match doc {
                DocId::Room(room) => inner
                    .rooms
                    .entry(room)
                    .or_insert_with(|| RoomDoc::new(client_id))
                    .apply_update(&update)
                    .is_ok(),
                DocId::Personal(_) => apply_personal(&inner.personal, &update).is_ok(),
            }
        };
        if applied {
            self.mark_dirty(doc);
        }
        self.bump();
    }

    /// The server has answered the update sent with `ack`: stored, or refused for `reason`.
    /// Every older entry of the same document is answered too (frames are answered in order).
    async fn settle(&self, doc: DocId, ack: u64, refused: Option<String>) {
        let (store, ids) = {
            let mut inner = self.inner.borrow_mut();
            let ids: Vec<u64> = inner
                .outbox
                .range(..=ack)
                .filter(|(_, e)| e.doc == doc)
                .map(|(id, _)| *id)
                .collect();
            for id in &ids {
                inner.outbox.remove(id);
            }
            match refused {
                Some(reason) => inner.last_refusal = Some(reason),
                None => inner.attempt = 0,
            }
            (inner.store.clone(), ids)
        };
        self.bump();
        store.outbox_delete(&ids).await;
    }
}

fn apply_personal(personal: &PersonalDoc, update: &[u8]) -> Result<(), ()> {
    use renraku_sync::yrs::{Transact, Update};
    let update = Update::decode_v1(update).map_err(|_| ())?;
    personal
        .doc()
        .transact_mut()
        .apply_update(update)
        .map_err(|_| ())
}

fn encode_personal(personal: &PersonalDoc) -> Vec<u8> {
    use renraku_sync::yrs::{ReadTxn, StateVector, Transact};
    personal
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default())
}
