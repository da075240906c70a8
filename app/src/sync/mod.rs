//! The sync engine: the app's driver of `renraku_sync::ClientSession`, the client half of
//! `/ws` that the integration tests and the load generator drive too. The session holds the
//! replicas (a `RoomDoc` per opened room and the user's `PersonalDoc`), the outbox in memory,
//! and what the server has said; this module gives it a browser WebSocket, IndexedDB (the
//! documents and the outbox, so they open with no network) and a reconnect schedule, and
//! tells the UI what changed.
//!
//! Writes: a mutation of a replica returns its update bytes; they go to the IndexedDB outbox
//! first, and are handed to the session (which sends them as `Sync{ack: outbox id}`) only
//! once that write has committed. An entry leaves the outbox on `Saved{ack}` (or
//! `Invalid{ack}`: the server will never take it); a storage failure on the server closes the
//! socket with 1013 instead, and the entry stays. After every reconnect the session resends
//! the whole outbox, merged into one update per document.
//!
//! Reconnects: capped exponential backoff with full jitter, cut short by the browser's
//! `online` event; 5–10 s when the server refused the connection (a connection cap). The
//! yrs client id is random per page load.

mod socket;

use crate::store::Store;
use dioxus::prelude::*;
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use renraku_sync::client::Outbox;
use renraku_sync::{
    ClientSession, ConnRefusal, DocId, Effect, Frame, OutboxEntry, PersonalDoc, RoomDoc, RoomId,
    SessionEnd, UserId,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A new post in one of my rooms, as the server tells every member (`Frame::RoomActivity`):
/// for the room list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomActivity {
    pub room: RoomId,
    pub author: UserId,
    /// The post's time (unix ms).
    pub at: i64,
    /// Its first line, shortened (empty: attachments only).
    pub text: String,
}

type ActivityListener = Rc<dyn Fn(&RoomActivity)>;

/// Keeps a room activity listener registered; dropping it unregisters it.
pub struct ActivitySubscription {
    id: u64,
    listeners: std::rc::Weak<RefCell<Vec<(u64, ActivityListener)>>>,
}

impl Drop for ActivitySubscription {
    fn drop(&mut self) {
        if let Some(listeners) = self.listeners.upgrade() {
            listeners.borrow_mut().retain(|(id, _)| *id != self.id);
        }
    }
}

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
    /// The socket closed, with the server's close frame (code, reason) if one came.
    Closed(u32, Option<(u16, String)>),
    Retry(u32),
    BrowserOnline,
    BrowserOffline,
    Save,
    /// A document the user opened: load it from IndexedDB, then sync it.
    OpenDoc(DocId),
    /// A local update: into the outbox, then onto the socket (in order, one at a time).
    Write(OutboxEntry),
}

/// The session's outbox: IndexedDB, which is asynchronous, so the engine stores an entry
/// itself before handing it over (`ClientSession::write_stored`); the session calls back
/// here only to forget answered entries.
struct IdbOutbox {
    store: Store,
    /// Ids for entries when IndexedDB is unavailable (private mode): above any it hands out.
    next_local: u64,
}

impl IdbOutbox {
    fn local_id(&mut self) -> u64 {
        self.next_local += 1;
        self.next_local
    }
}

impl Outbox for IdbOutbox {
    fn add(&mut self, _entry: &OutboxEntry) -> u64 {
        // The engine stores entries itself (asynchronously) and never calls `write`.
        self.local_id()
    }

    fn remove(&mut self, ids: &[u64]) {
        let store = self.store.clone();
        let ids = ids.to_vec();
        wasm_bindgen_futures::spawn_local(async move { store.outbox_delete(&ids).await });
    }
}

struct Inner {
    me: UserId,
    store: Store,
    session: ClientSession<IdbOutbox>,
    /// Documents asked for (and so read from IndexedDB, then opened on the server).
    requested: HashSet<DocId>,
    /// Documents changed since they were last written to IndexedDB.
    dirty: HashSet<DocId>,
    save_scheduled: bool,
    socket: Option<socket::Socket>,
    /// Bumped for every new socket, so that a dead socket's late events are ignored.
    generation: u32,
    attempt: u32,
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
    /// One revision per document a screen reads, bumped when its replica changes (or its
    /// sync state does): a change in one room re-renders that room's screen only.
    revisions: Rc<RefCell<HashMap<DocId, Signal<u64>>>>,
    /// Bumped when the outbox or the last refusal changes (送信待ち, the banners).
    outbox_revision: Signal<u64>,
    /// The scope the engine was started in: per-document signals live as long as it.
    scope: ScopeId,
    status: Signal<ConnState>,
    /// Set when the server closed the socket because the session ended.
    ended: Signal<Option<SessionEnd>>,
    /// Set while the server refuses the connection (a connection cap), until it takes one.
    refused: Signal<Option<ConnRefusal>>,
    /// Who hears of new posts in my rooms (home's room list), with the next id to give.
    activity: Rc<RefCell<Vec<(u64, ActivityListener)>>>,
    next_listener: Rc<std::cell::Cell<u64>>,
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
        let outbox = IdbOutbox {
            store: store.clone(),
            next_local: 1 << 40,
        };
        let mut session = ClientSession::new(client_id, outbox);
        let _ = session.open(DocId::Personal(me));
        let engine = Engine {
            inner: Rc::new(RefCell::new(Inner {
                me,
                store,
                session,
                requested: HashSet::from([DocId::Personal(me)]),
                dirty: HashSet::new(),
                save_scheduled: false,
                socket: None,
                generation: 0,
                attempt: 0,
                stopped: false,
                loaded: HashSet::new(),
            })),
            events: tx,
            revisions: Rc::default(),
            outbox_revision: Signal::new(0),
            scope: dioxus::core::current_scope_id(),
            status: Signal::new(ConnState::Connecting),
            ended: Signal::new(None),
            refused: Signal::new(None),
            activity: Rc::default(),
            next_listener: Rc::default(),
        };
        socket::listen_browser_events(engine.events.clone());
        let e = engine.clone();
        spawn(async move { e.run(rx).await });
        engine
    }

    /// Bumped on every change of the room's replica or sync state: read it to re-render.
    pub fn room_revision(&self, room: RoomId) -> Signal<u64> {
        self.doc_revision(DocId::Room(room))
    }

    /// Bumped on every change of the user's personal document (pinned rooms, …).
    pub fn personal_revision(&self) -> Signal<u64> {
        let me = self.inner.borrow().me;
        self.doc_revision(DocId::Personal(me))
    }

    /// Bumped when the outbox or the last refusal changes.
    pub fn outbox_revision(&self) -> Signal<u64> {
        self.outbox_revision
    }

    fn doc_revision(&self, doc: DocId) -> Signal<u64> {
        *self
            .revisions
            .borrow_mut()
            .entry(doc)
            .or_insert_with(|| Signal::new_in_scope(0, self.scope))
    }

    pub fn status(&self) -> Signal<ConnState> {
        self.status
    }

    /// How the session ended, once the server has closed the socket because it did: the
    /// engine then stops (a reconnect would be refused) and the app returns to sign-in.
    pub fn ended(&self) -> Signal<Option<SessionEnd>> {
        self.ended
    }

    /// Why the server refuses to keep the connection, while it does (the engine retries
    /// slowly meanwhile).
    pub fn conn_refused(&self) -> Signal<Option<ConnRefusal>> {
        self.refused
    }

    /// Calls `f` for every new post in any of my rooms the server tells of, while the
    /// returned subscription is kept.
    pub fn on_room_activity(&self, f: impl Fn(&RoomActivity) + 'static) -> ActivitySubscription {
        let id = self.next_listener.get() + 1;
        self.next_listener.set(id);
        self.activity.borrow_mut().push((id, Rc::new(f)));
        ActivitySubscription {
            id,
            listeners: Rc::downgrade(&self.activity),
        }
    }

    /// Stops syncing (sign-out): the socket closes and no reconnect follows.
    pub fn shutdown(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        inner.generation += 1;
        if let Some(socket) = inner.socket.take() {
            socket.close();
        }
        let _ = inner.session.disconnected(None);
    }

    /// Something of `doc` changed: its screens re-render (none if no screen reads it).
    fn bump(&self, doc: DocId) {
        let signal = self.revisions.borrow().get(&doc).copied();
        if let Some(mut r) = signal {
            *r.write() += 1;
        }
    }

    /// The sync state of every document changed (connected, disconnected, restored).
    fn bump_all(&self) {
        let signals: Vec<Signal<u64>> = self.revisions.borrow().values().copied().collect();
        for mut r in signals {
            *r.write() += 1;
        }
        self.bump_outbox();
    }

    fn bump_outbox(&self) {
        let mut r = self.outbox_revision;
        *r.write() += 1;
    }

    // ---- reading ----

    /// Reads a room's replica (opened or not: an unopened room reads as empty).
    pub fn read_room<R>(&self, room: RoomId, f: impl FnOnce(&RoomDoc) -> R) -> R {
        f(self.inner.borrow_mut().session.room(room))
    }

    /// Reads the room's replica if this device holds one in memory (never creates it).
    pub fn read_room_if_any<R>(&self, room: RoomId, f: impl FnOnce(&RoomDoc) -> R) -> Option<R> {
        self.inner.borrow().session.room_if_any(room).map(f)
    }

    pub fn personal<R>(&self, f: impl FnOnce(&PersonalDoc) -> R) -> R {
        let mut inner = self.inner.borrow_mut();
        let me = inner.me;
        f(inner.session.personal(me))
    }

    /// Whether the server's state of the room has arrived since it was opened.
    pub fn is_synced(&self, room: RoomId) -> bool {
        self.inner.borrow().session.is_synced(DocId::Room(room))
    }

    pub fn denied(&self, room: RoomId) -> Option<String> {
        self.inner
            .borrow()
            .session
            .denied(DocId::Room(room))
            .map(str::to_owned)
    }

    /// Posts of the room with an update still waiting for the server (送信待ち).
    pub fn pending(&self, room: RoomId) -> HashSet<String> {
        let doc = DocId::Room(room);
        self.inner
            .borrow()
            .session
            .pending()
            .filter(|(_, e)| e.doc == doc)
            .filter_map(|(_, e)| e.post.clone())
            .collect()
    }

    /// How many updates wait for the server, in all documents.
    pub fn pending_count(&self) -> usize {
        self.inner.borrow().session.pending().count()
    }

    /// The server's reason for refusing the last write, until dismissed.
    pub fn refusal(&self) -> Option<String> {
        self.inner.borrow().session.refusal().map(str::to_owned)
    }

    pub fn dismiss_refusal(&self) {
        self.inner.borrow_mut().session.dismiss_refusal();
        self.bump_outbox();
    }

    // ---- opening ----

    /// Opens a room: its stored replica is loaded first, then it syncs with the server.
    pub fn open_room(&self, room: RoomId) {
        let doc = DocId::Room(room);
        {
            let mut inner = self.inner.borrow_mut();
            // Asked for and not refused since: nothing to do. After a refusal, ask again:
            // the user may have been added (back) since.
            if inner.session.is_open(doc)
                || (!inner.requested.insert(doc) && inner.session.denied(doc).is_none())
            {
                return;
            }
        }
        let _ = self.events.unbounded_send(Event::OpenDoc(doc));
    }

    /// Reads the room's replica from IndexedDB if this run has not yet, without opening it
    /// on the server (offline search reads the rooms kept on the device).
    pub async fn load_kept_room(&self, room: RoomId) {
        self.load(DocId::Room(room)).await;
    }

    async fn load(&self, doc: DocId) {
        if !self.inner.borrow_mut().loaded.insert(doc) {
            return;
        }
        let store = self.inner.borrow().store.clone();
        let Some(state) = store.get_doc(doc).await else {
            return;
        };
        if self.inner.borrow_mut().session.load(doc, &state).is_err() {
            web_sys::console::warn_1(&"stored document unreadable; resyncing".into());
        }
        if let DocId::Room(_) = doc {
            crate::util::mark("renraku:room-loaded");
        }
        self.bump(doc);
    }

    /// Carries out what the session asks for.
    fn apply(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(frame) => self.send(&frame),
                Effect::Synced(doc) | Effect::Remote { doc, .. } => {
                    self.mark_dirty(doc);
                    self.bump(doc);
                }
                Effect::Saved { .. } => {
                    self.inner.borrow_mut().attempt = 0;
                    self.bump_outbox();
                }
                Effect::Refused { doc, .. } => {
                    // The session restarted the document's replica without the change.
                    self.bump(doc);
                    self.bump_outbox();
                }
                Effect::Denied { doc, forget, .. } => {
                    if forget {
                        // Not (or no longer) a member: the device stops keeping the room in
                        // IndexedDB too. A later membership syncs it from the server.
                        let store = {
                            let mut inner = self.inner.borrow_mut();
                            inner.dirty.remove(&doc);
                            inner.store.clone()
                        };
                        wasm_bindgen_futures::spawn_local(
                            async move { store.delete_doc(doc).await },
                        );
                    }
                    self.bump(doc);
                }
                Effect::SessionEnded(why) => {
                    self.shutdown();
                    let mut ended = self.ended;
                    ended.set(Some(why));
                }
                Effect::ConnRefused(why) => {
                    let mut refused = self.refused;
                    refused.set(Some(why));
                }
                Effect::RoomActivity {
                    room,
                    author,
                    at,
                    text,
                } => {
                    let news = RoomActivity {
                        room,
                        author,
                        at,
                        text,
                    };
                    // Called outside the borrow: a listener may subscribe or drop one.
                    let listeners: Vec<ActivityListener> = self
                        .activity
                        .borrow()
                        .iter()
                        .map(|(_, f)| f.clone())
                        .collect();
                    for f in listeners {
                        f(&news);
                    }
                }
                // the register screens (lead)
                Effect::RegisterMarked { .. } | Effect::RegisterChanged { .. } => {}
            }
        }
    }

    fn send(&self, frame: &Frame) {
        let inner = self.inner.borrow();
        if let (true, Some(socket)) = (inner.session.is_connected(), &inner.socket) {
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
            let me = self.inner.borrow().me;
            (self.personal(f), me)
        };
        self.queue(DocId::Personal(me), update, None);
    }

    fn queue(&self, doc: DocId, update: Vec<u8>, post: Option<String>) {
        // An update that changes nothing (e.g. unpinning what is not pinned) is not sent.
        if update.len() <= 2 {
            return;
        }
        self.mark_dirty(doc);
        self.bump(doc);
        self.bump_outbox();
        let entry = OutboxEntry { doc, update, post };
        let _ = self.events.unbounded_send(Event::Write(entry));
    }

    /// Stores the update in the outbox, and hands it to the session (which sends it) once
    /// that write has committed.
    async fn write(&self, entry: OutboxEntry) {
        let store = self.inner.borrow().store.clone();
        let id = match store.outbox_add(&entry).await {
            Some(id) => id,
            None => self.inner.borrow_mut().session_outbox_local_id(),
        };
        let effects = self.inner.borrow_mut().session.write_stored(id, entry);
        self.apply(effects);
        self.bump_outbox();
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
                .filter_map(|doc| Some((doc, inner.session.encode_state(doc)?)))
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
            .requested
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
            let doc = entry.doc;
            self.inner.borrow_mut().requested.insert(doc);
            // Its stored document first: the entry's update is applied over it (again,
            // harmlessly, if the stored document already has it).
            self.load(doc).await;
            self.inner.borrow_mut().session.restore(id, entry);
        }
        self.bump_all();
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
        let _ = inner.session.disconnected(None);
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
            Event::Frame(g, bytes) if g == current => self.on_frame(&bytes),
            Event::Closed(g, close) if g == current => self.on_close(close),
            Event::Retry(g) if g == current => self.connect(),
            // The network is back: try now rather than at the end of a long backoff.
            Event::BrowserOnline if !self.inner.borrow().session.is_connected() => {
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
                self.on_close(None);
            }
            Event::Save => self.save_dirty().await,
            Event::OpenDoc(doc) => {
                self.load(doc).await;
                // After the stored state, so the server sends only what the device lacks.
                let effects = self.inner.borrow_mut().session.open(doc);
                self.apply(effects);
            }
            Event::Write(entry) => self.write(entry).await,
            _ => {}
        }
    }

    fn on_open(&self) {
        let effects = {
            let mut inner = self.inner.borrow_mut();
            let effects = inner.session.connected();
            // With writes waiting, the backoff resets only once one is saved: a server whose
            // storage is failing closes each connection that resends them, and devices must
            // not come back every second while it lasts.
            if inner.session.pending().next().is_none() {
                inner.attempt = 0;
            }
            effects
        };
        let mut status = self.status;
        status.set(ConnState::Online);
        self.apply(effects);
    }

    fn on_close(&self, close: Option<(u16, String)>) {
        let effects = {
            let mut inner = self.inner.borrow_mut();
            inner.socket = None;
            inner.session.disconnected(
                close
                    .as_ref()
                    .map(|(code, reason)| (*code, reason.as_str())),
            )
        };
        self.apply(effects);
        if self.inner.borrow().stopped {
            return;
        }
        let (generation, delay) = {
            let mut inner = self.inner.borrow_mut();
            inner.attempt = inner.attempt.saturating_add(1);
            // Full jitter: a random wait up to the capped exponential step, so a server
            // restart does not bring every client back at the same instant.
            let cap = 30_000f64;
            let step = (500f64 * 2f64.powi(inner.attempt.min(16) as i32)).min(cap);
            let jitter = js_sys::Math::random();
            let delay = match *self.refused.peek() {
                // Over the per-user cap: a tab elsewhere must close first; asking again at
                // once would only be refused again (and costs the server a handshake).
                Some(ConnRefusal::TooManyConnections { .. }) => 5_000.0 + jitter * 5_000.0,
                Some(ConnRefusal::ServerBusy) => 5_000.0 + jitter * step,
                None => jitter * step,
            };
            (inner.generation, delay as i32)
        };
        let mut status = self.status;
        status.set(if socket::browser_online() {
            ConnState::Connecting
        } else {
            ConnState::Offline
        });
        self.bump_all();
        let events = self.events.clone();
        dioxus::core::spawn_forever(async move {
            crate::util::sleep_ms(delay.max(100)).await;
            let _ = events.unbounded_send(Event::Retry(generation));
        });
    }

    fn on_frame(&self, bytes: &[u8]) {
        let Ok(frame) = Frame::decode_from_server(bytes) else {
            return;
        };
        // The server answers only a connection it keeps (a refused one is opened, then
        // closed at once): any frame means the refusal is over.
        if self.refused.peek().is_some() {
            let mut refused = self.refused;
            refused.set(None);
        }
        let effects = self.inner.borrow_mut().session.handle_frame(frame);
        match effects {
            Ok(effects) => self.apply(effects),
            Err(e) => web_sys::console::warn_1(&format!("unreadable update: {e}").into()),
        }
    }
}

impl Inner {
    fn session_outbox_local_id(&mut self) -> u64 {
        self.session.outbox_mut().local_id()
    }
}
