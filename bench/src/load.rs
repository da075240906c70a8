//! The load clients: one task per WebSocket, speaking Renraku frames on `/ws` (through the
//! protocol's own `ClientSession`, as the app and the tests do) or plain y-protocols (to
//! Renraku's `/yjs/{room}`, y-websocket or y-sweet), driven by commands from the scenario
//! runner. A client the server disconnects comes back with backoff and resyncs; what it
//! missed meanwhile is read from the server's sync step 2 and counted as arriving late.
//!
//! A post's text carries `#B<phase>:<sender>:<seq>:<sent ns>;`. Receivers find that marker in
//! the raw update bytes (lib0 writes strings verbatim) instead of applying every update to a
//! replica: the generator shares two cores with the server and must stay cheap (its sessions
//! keep only their own writes: `Replicas::OwnWritesOnly`).

use crate::stats::{Delivery, Sent};
use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use renraku_sync::client::{ClientSession, Effect, MemoryOutbox, Replicas};
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::decoder::Decode;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::yrs::StateVector;
use renraku_sync::{DocId, Frame, PostId, RoomDoc, RoomId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// y-protocols message types (first byte) and sync sub-types (second byte).
const MSG_SYNC: u8 = 0;
const SYNC_STEP1: u8 = 0;
const SYNC_STEP2: u8 = 1;
const SYNC_UPDATE: u8 = 2;

/// Which server, and how to reach it.
#[derive(Clone, Debug)]
pub enum Target {
    /// `ws://ADDR/ws`, bearer session tokens, Renraku frames.
    Renraku { ws_url: String },
    /// `ws://ADDR/yjs/<room>?token=…`, plain y-protocols; the room token is minted over HTTP
    /// (`POST /api/rooms/<room>/token` with the bearer session), as a y-websocket client of
    /// Renraku does.
    RenrakuYjs { addr: String, http: reqwest::Client },
    /// `ws://ADDR/<room>`, plain y-protocols.
    YWebsocket { base_url: String },
    /// `ws://ADDR/d/<doc>/ws/<doc>` (the URL y-sweet's `/doc/<doc>/auth` hands out, with the
    /// document id appended as y-websocket's provider does), plain y-protocols.
    YSweet { addr: String },
}

impl Target {
    /// Renraku frames (`/ws`) rather than bare y-protocols messages.
    pub fn frames(&self) -> bool {
        matches!(self, Target::Renraku { .. })
    }
}

/// A room token from Renraku's HTTP API, for `/yjs/<room>`.
pub async fn mint_room_token(target: &Target, session: &str, room_id: i64) -> Result<String> {
    let Target::RenrakuYjs { addr, http } = target else {
        bail!("room tokens are Renraku's /yjs");
    };
    let resp = http
        .post(format!("http://{addr}/api/rooms/{room_id}/token"))
        .bearer_auth(session)
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        bail!(
            "room token: HTTP {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let body: serde_json::Value = resp.json().await?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .context("room token: no token in the answer")
}

/// Renraku's room tokens live 5 minutes (`ROOM_TOKEN_TTL`); a client reuses one (y-websocket
/// reconnects with the same URL) and mints a fresh one before it runs out.
const ROOM_TOKEN_REUSE: Duration = Duration::from_secs(4 * 60);

/// One simulated professional.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// Bench-wide index: the sender id in markers.
    pub idx: u32,
    /// Bench room index (what the checker groups by).
    pub room: u32,
    /// The server's room id (Renraku) / name suffix (y-websocket).
    pub room_id: i64,
    pub user: i64,
    /// Renraku's bearer session token (empty for the others).
    pub token: String,
    /// Members of the room besides this client: deliveries owed per post.
    pub peers: u32,
}

/// Counters every client updates.
pub struct Shared {
    pub base: Instant,
    pub phase: AtomicU32,
    pub synced: AtomicUsize,
    pub delivered: AtomicU64,
    pub expected: AtomicU64,
    pub disconnects: AtomicU64,
    pub failed_connects: AtomicU64,
    pub refused: AtomicU64,
    pub not_sent: AtomicU64,
    pub stopping: AtomicBool,
    pub connect_permits: Semaphore,
    /// First few refusal reasons, for the log.
    pub reasons: std::sync::Mutex<Vec<String>>,
}

impl Shared {
    pub fn new(connect_concurrency: usize) -> Arc<Shared> {
        Arc::new(Shared {
            base: Instant::now(),
            phase: AtomicU32::new(0),
            synced: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            failed_connects: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            not_sent: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            connect_permits: Semaphore::new(connect_concurrency),
            reasons: Default::default(),
        })
    }

    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn note_refusal(&self, reason: String) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut r = self.reasons.lock().expect("reasons lock");
        if r.len() < 5 {
            r.push(reason);
        }
    }
}

/// What a client recorded since the last collection.
#[derive(Default)]
pub struct ClientLog {
    pub sent: Vec<Sent>,
    pub deliveries: Vec<Delivery>,
    /// Post → `saved` times (Renraku only).
    pub acks_ns: Vec<u64>,
    /// When the client last finished syncing (shared clock).
    pub synced_at_ns: u64,
}

pub enum Cmd {
    Post {
        seq: u32,
    },
    /// Drop the connection without a goodbye; reconnect after up to `first_delay_max`, then
    /// with capped exponential backoff and jitter.
    Drop {
        first_delay_max: Duration,
    },
    Collect(oneshot::Sender<ClientLog>),
    Stop,
}

/// Starts a client; it connects, opens its room and syncs, then follows commands.
pub fn spawn_client(
    spec: ClientSpec,
    target: Arc<Target>,
    shared: Arc<Shared>,
) -> (mpsc::Sender<Cmd>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(256);
    let join = tokio::spawn(async move {
        let mut c = Client::new(spec, target, shared);
        c.run(rx).await;
    });
    (tx, join)
}

/// Capped exponential backoff with jitter: 200 ms × 2^(n−1), at most 5 s, times 0.5–1.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(200).saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let capped = base.min(Duration::from_secs(5));
    capped.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
}

/// Opens a WebSocket (Renraku: `/ws` with the bearer token, or `/yjs/<room>` with a room
/// token; y-websocket: `/<room>`; y-sweet: its document's URL).
pub async fn connect(target: &Target, token: &str, room_id: i64) -> Result<Ws> {
    let request = match target {
        Target::Renraku { ws_url } => {
            let mut r = ws_url.as_str().into_client_request()?;
            r.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
            r
        }
        Target::RenrakuYjs { addr, .. } => {
            format!("ws://{addr}/yjs/{room_id}?token={token}").into_client_request()?
        }
        Target::YWebsocket { base_url } => {
            format!("{base_url}/{}", doc_name(room_id)).into_client_request()?
        }
        Target::YSweet { addr } => {
            let doc = doc_name(room_id);
            format!("ws://{addr}/d/{doc}/ws/{doc}").into_client_request()?
        }
    };
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), true),
    )
    .await
    .context("connect timed out")??;
    Ok(ws)
}

/// The document name of a bench room on the servers that name documents (y-websocket, y-sweet).
pub fn doc_name(room_id: i64) -> String {
    format!("room-{room_id}")
}

/// The y-protocols sync step 1 of an empty document.
pub fn empty_step1() -> Vec<u8> {
    Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1()
}

/// Frames that open `room` on a fresh `/ws` socket (hello, open, our step 1).
pub fn renraku_open_frames(room_id: i64, step1: Vec<u8>, hello: bool) -> Vec<Vec<u8>> {
    let doc = DocId::Room(RoomId::new(room_id));
    let mut frames = Vec::new();
    if hello {
        frames.push(
            Frame::Hello {
                version: PROTOCOL_VERSION,
            }
            .encode(),
        );
    }
    frames.push(Frame::Open { doc }.encode());
    frames.push(
        Frame::Sync {
            doc,
            ack: None,
            message: step1,
        }
        .encode(),
    );
    frames
}

/// The marker in a post's text.
pub fn marker(phase: u32, sender: u32, seq: u32, at_ns: u64) -> String {
    format!("#B{phase}:{sender}:{seq}:{at_ns};")
}

/// Finds and reads a marker in raw bytes: (phase, sender, seq, sent ns).
pub fn find_marker(bytes: &[u8]) -> Option<(u32, u32, u32, u64)> {
    find_markers(bytes).next()
}

/// Every marker in raw bytes, in order (a sync step 2 carries a whole room's posts).
pub fn find_markers(mut bytes: &[u8]) -> impl Iterator<Item = (u32, u32, u32, u64)> + '_ {
    std::iter::from_fn(move || loop {
        let start = bytes.windows(2).position(|w| w == b"#B")? + 2;
        bytes = &bytes[start..];
        if let Some(found) = read_marker(bytes) {
            return Some(found);
        }
    })
}

fn read_marker(rest: &[u8]) -> Option<(u32, u32, u32, u64)> {
    let end = rest.iter().take(64).position(|&b| b == b';')?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    let mut parts = text.split(':');
    let phase = parts.next()?.parse().ok()?;
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let at = parts.next()?.parse().ok()?;
    Some((phase, sender, seq, at))
}

struct Client {
    spec: ClientSpec,
    target: Arc<Target>,
    shared: Arc<Shared>,
    /// The device's side of `/ws`: its own writes, the outbox resent after every reconnect.
    /// Used as a plain replica for y-websocket.
    session: ClientSession<MemoryOutbox>,
    log: ClientLog,
    /// Send times of the posts sent on this connection, by ack: a post resent after a
    /// reconnect is not timed (its wait included the outage, not the server's commit).
    pending_acks: HashMap<u64, u64>,
    synced: bool,
    /// Posts of the current phase this client has received: whether each came through a
    /// resync (then a live copy still on its way is no duplicate).
    seen: HashMap<(u32, u32), bool>,
    seen_phase: u32,
    /// `/yjs`: the room token and when it was minted.
    room_token: Option<(String, Instant)>,
}

enum Next {
    Reconnect(Duration),
    Stop,
}

impl Client {
    fn new(spec: ClientSpec, target: Arc<Target>, shared: Arc<Shared>) -> Client {
        let mut session = ClientSession::with_replicas(
            1_000 + u64::from(spec.idx),
            MemoryOutbox::new(),
            Replicas::OwnWritesOnly,
        );
        session.open(Self::doc_id(&spec));
        Client {
            spec,
            target,
            shared,
            session,
            log: ClientLog::default(),
            pending_acks: HashMap::new(),
            synced: false,
            seen: HashMap::new(),
            seen_phase: 0,
            room_token: None,
        }
    }

    /// What was recorded since the last collection; the sync time stays.
    fn take_log(&mut self) -> ClientLog {
        ClientLog {
            sent: std::mem::take(&mut self.log.sent),
            deliveries: std::mem::take(&mut self.log.deliveries),
            acks_ns: std::mem::take(&mut self.log.acks_ns),
            synced_at_ns: self.log.synced_at_ns,
        }
    }

    fn renraku(&self) -> bool {
        self.target.frames()
    }

    /// The token `connect` wants: the session's on `/ws`, a room token on `/yjs`.
    async fn connect_token(&mut self) -> Result<String> {
        if !matches!(*self.target, Target::RenrakuYjs { .. }) {
            return Ok(self.spec.token.clone());
        }
        match &self.room_token {
            Some((t, at)) if at.elapsed() < ROOM_TOKEN_REUSE => Ok(t.clone()),
            _ => {
                let t = mint_room_token(&self.target, &self.spec.token, self.spec.room_id).await?;
                self.room_token = Some((t.clone(), Instant::now()));
                Ok(t)
            }
        }
    }

    fn doc_id(spec: &ClientSpec) -> DocId {
        DocId::Room(RoomId::new(spec.room_id))
    }

    fn room(&mut self) -> &RoomDoc {
        self.session.room(RoomId::new(self.spec.room_id))
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut delay = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            if !delay.is_zero() && !self.wait(delay, &mut rx).await {
                return;
            }
            let ws = {
                let shared = self.shared.clone();
                let _permit = shared.connect_permits.acquire().await;
                match self.connect_token().await {
                    Ok(token) => connect(&self.target, &token, self.spec.room_id).await,
                    Err(e) => Err(e),
                }
            };
            let mut ws = match ws {
                Ok(ws) => ws,
                Err(_) => {
                    if self.shared.stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    self.shared.failed_connects.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    delay = backoff(attempt);
                    continue;
                }
            };
            attempt = 0;
            match self.session(&mut ws, &mut rx).await {
                Next::Stop => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                    return;
                }
                Next::Reconnect(d) => delay = d,
            }
            self.session.disconnected(None);
            self.pending_acks.clear();
            if self.synced {
                self.synced = false;
                self.shared.synced.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Sleeps while answering commands; false when told to stop.
    async fn wait(&mut self, d: Duration, rx: &mut mpsc::Receiver<Cmd>) -> bool {
        let until = tokio::time::sleep(d);
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = &mut until => return true,
                cmd = rx.recv() => match cmd {
                    None | Some(Cmd::Stop) => return false,
                    Some(Cmd::Post { .. }) => {
                        self.shared.not_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Cmd::Drop { .. }) => {}
                    Some(Cmd::Collect(tx)) => {
                        let _ = tx.send(self.take_log());
                    }
                }
            }
        }
    }

    async fn send(&self, ws: &mut Ws, bytes: Vec<u8>) -> Result<()> {
        ws.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    /// One connection's life: handshake, then frames and commands until it ends.
    async fn session(&mut self, ws: &mut Ws, rx: &mut mpsc::Receiver<Cmd>) -> Next {
        let opening = if self.renraku() {
            // Hello, the room opened with our step 1, and whatever the outbox still holds.
            self.session
                .connected()
                .into_iter()
                .filter_map(|e| match e {
                    Effect::Send(frame) => Some(frame.encode()),
                    _ => None,
                })
                .collect()
        } else {
            let sv = self.room().state_vector();
            vec![Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1()]
        };
        for f in opening {
            if self.send(ws, f).await.is_err() {
                return self.lost();
            }
        }
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if let Err(e) = self.inbound(ws, &bytes).await {
                            self.shared.note_refusal(format!("client error: {e:#}"));
                            return self.lost();
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return self.lost(),
                    Some(Ok(_)) => {}
                },
                cmd = rx.recv() => match cmd {
                    None | Some(Cmd::Stop) => return Next::Stop,
                    Some(Cmd::Post { seq }) => {
                        if !self.synced {
                            self.shared.not_sent.fetch_add(1, Ordering::Relaxed);
                        } else if self.post(ws, seq).await.is_err() {
                            return self.lost();
                        }
                    }
                    Some(Cmd::Drop { first_delay_max }) => {
                        let max = first_delay_max.as_secs_f64();
                        let d = rand::thread_rng().gen_range(0.0..=max.max(1e-6));
                        return Next::Reconnect(Duration::from_secs_f64(d));
                    }
                    Some(Cmd::Collect(tx)) => {
                        let _ = tx.send(self.take_log());
                    }
                }
            }
        }
    }

    fn lost(&self) -> Next {
        if self.shared.stopping.load(Ordering::Relaxed) {
            return Next::Stop;
        }
        self.shared.disconnects.fetch_add(1, Ordering::Relaxed);
        Next::Reconnect(backoff(1))
    }

    async fn post(&mut self, ws: &mut Ws, seq: u32) -> Result<()> {
        let phase = self.shared.phase.load(Ordering::Relaxed);
        let at_ns = self.shared.now_ns();
        let text = format!(
            "申し送り: 訪問済み。{}",
            marker(phase, self.spec.idx, seq, at_ns)
        );
        let id = PostId::parse(&ulid::Ulid::new().to_string()).expect("a ULID is a post id");
        let now_ms = (at_ns / 1_000_000) as i64;
        let user = UserId::new(self.spec.user);
        let update = self.room().start_thread(user, id, &text, now_ms);
        if self.renraku() {
            let (ack, effects) = self.session.write(Self::doc_id(&self.spec), update, None);
            self.pending_acks.insert(ack, at_ns);
            self.apply(ws, effects).await?;
        } else {
            let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
            self.send(ws, message).await?;
        }
        self.log.sent.push(Sent {
            sender: self.spec.idx,
            seq,
            room: self.spec.room,
            at_ns,
        });
        self.shared
            .expected
            .fetch_add(u64::from(self.spec.peers), Ordering::Relaxed);
        Ok(())
    }

    async fn inbound(&mut self, ws: &mut Ws, bytes: &[u8]) -> Result<()> {
        if !self.renraku() {
            if let Some(reply) = self.y_message(bytes)? {
                self.send(ws, reply).await?;
            }
            return Ok(());
        }
        let frame = Frame::decode_from_server(bytes)?;
        if let Frame::Sync { message, .. } = &frame {
            if message.starts_with(&[MSG_SYNC, SYNC_STEP2]) {
                self.resynced(message);
            }
        }
        match &frame {
            // Room list news (a new post in a room of this user's): not a delivery.
            Frame::Sync { .. }
            | Frame::Saved { .. }
            | Frame::RoomActivity { .. }
            | Frame::RegisterMarked { .. }
            | Frame::RegisterChanged { .. } => {}
            Frame::Denied { reason, .. } | Frame::Invalid { reason, .. } => {
                self.shared.note_refusal(reason.clone());
            }
            Frame::Malformed { reason } => self.shared.note_refusal(reason.clone()),
            other => bail!("unexpected frame {other:?}"),
        }
        let effects = self.session.handle_frame(frame)?;
        self.apply(ws, effects).await
    }

    /// Carries out the session's effects and records what the bench measures.
    async fn apply(&mut self, ws: &mut Ws, effects: Vec<Effect>) -> Result<()> {
        for effect in effects {
            match effect {
                Effect::Send(frame) => self.send(ws, frame.encode()).await?,
                Effect::Remote { update, .. } => self.delivered(&update),
                Effect::Synced(_) => self.note_synced(),
                Effect::Saved { acks, .. } => {
                    let now = self.shared.now_ns();
                    for ack in acks {
                        if let Some(at) = self.pending_acks.remove(&ack) {
                            self.log.acks_ns.push(now.saturating_sub(at));
                        }
                    }
                }
                Effect::Refused { .. }
                | Effect::Denied { .. }
                | Effect::SessionEnded(_)
                | Effect::ConnRefused(_)
                | Effect::RoomActivity { .. }
                | Effect::RegisterMarked { .. }
                | Effect::RegisterChanged { .. } => {}
            }
        }
        Ok(())
    }

    /// A post relayed from another client: a delivery, if it carries a marker of this phase.
    fn delivered(&mut self, bytes: &[u8]) {
        if let Some((phase, sender, seq, _)) = find_marker(bytes) {
            self.arrived(phase, sender, seq, false);
        }
    }

    /// The server's state of the room after a (re)connect: every post of this phase in it that
    /// this client has not received yet arrived now, late, through the resync.
    fn resynced(&mut self, step2: &[u8]) {
        let markers: Vec<_> = find_markers(step2).collect();
        for (phase, sender, seq, _) in markers {
            self.arrived(phase, sender, seq, true);
        }
    }

    fn arrived(&mut self, phase: u32, sender: u32, seq: u32, resync: bool) {
        if sender == self.spec.idx {
            return; // y-websocket and y-sweet echo an update to its sender
        }
        let current = self.shared.phase.load(Ordering::Relaxed);
        if phase != current {
            return;
        }
        if self.seen_phase != current {
            self.seen_phase = current;
            self.seen.clear();
        }
        match self.seen.get(&(sender, seq)) {
            // A resync repeats what already came, and a live copy may follow a resync.
            Some(_) if resync => return,
            Some(true) => return,
            _ => {}
        }
        self.seen.insert((sender, seq), resync);
        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
        self.log.deliveries.push(Delivery {
            receiver: self.spec.idx,
            sender,
            seq,
            at_ns: self.shared.now_ns(),
            resync,
        });
    }

    fn note_synced(&mut self) {
        if !self.synced {
            self.synced = true;
            self.log.synced_at_ns = self.shared.now_ns();
            self.shared.synced.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Handles a y-protocols message (`/yjs`, y-websocket, y-sweet); returns the reply to send,
    /// if any.
    fn y_message(&mut self, msg: &[u8]) -> Result<Option<Vec<u8>>> {
        if msg.len() < 2 || msg[0] != MSG_SYNC {
            return Ok(None); // awareness and the like
        }
        match msg[1] {
            SYNC_UPDATE => {
                self.delivered(msg);
                Ok(None)
            }
            SYNC_STEP2 => {
                self.resynced(msg);
                self.note_synced();
                Ok(None)
            }
            SYNC_STEP1 => match Message::decode_v1(msg)? {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self.room().encode_diff(&sv);
                    Ok(Some(
                        Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1(),
                    ))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

/// Connects, opens a room and waits for the server's sync step 2; returns the time taken and
/// the step 2's size. `ws` reuses an open Renraku socket (then only open → step 2 is timed).
pub async fn time_open(
    target: &Target,
    token: &str,
    room_id: i64,
    ws: Option<&mut Ws>,
) -> Result<(Duration, usize)> {
    let t0 = Instant::now();
    let mut fresh = None;
    let (ws, reused) = match ws {
        Some(ws) => (ws, true),
        None => (fresh.insert(connect(target, token, room_id).await?), false),
    };
    let step2 = open_until_step2(target, room_id, ws, reused).await?;
    let took = t0.elapsed();
    if reused {
        let close = Frame::Close {
            doc: DocId::Room(RoomId::new(room_id)),
        };
        ws.send(WsMessage::Binary(close.encode().into())).await?;
    } else {
        let _ = ws.close(None).await;
    }
    Ok((took, step2))
}

/// A fresh connection with the room opened and its sync step 2 read, left open.
pub async fn open_held(target: &Target, token: &str, room_id: i64) -> Result<Ws> {
    let mut ws = connect(target, token, room_id).await?;
    open_until_step2(target, room_id, &mut ws, false).await?;
    Ok(ws)
}

/// Opens the room on `ws` and reads until the server's sync step 2; its size.
async fn open_until_step2(
    target: &Target,
    room_id: i64,
    ws: &mut Ws,
    reused: bool,
) -> Result<usize> {
    let frames = if target.frames() {
        renraku_open_frames(room_id, empty_step1(), !reused)
    } else {
        vec![empty_step1()]
    };
    for f in frames {
        ws.send(WsMessage::Binary(f.into())).await?;
    }
    let deadline = Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .context("no sync step 2 in time")?;
        let Some(Ok(WsMessage::Binary(bytes))) = msg else {
            match msg {
                Some(Ok(_)) => continue,
                _ => bail!("connection closed before sync step 2"),
            }
        };
        let message = if target.frames() {
            match Frame::decode_from_server(&bytes)? {
                Frame::Sync { message, .. } => message,
                Frame::Denied { reason, .. } => bail!("denied: {reason}"),
                _ => continue,
            }
        } else {
            bytes.to_vec()
        };
        if message.len() >= 2 && message[0] == MSG_SYNC && message[1] == SYNC_STEP2 {
            return Ok(message.len());
        }
    }
}

/// Measures the generator's own cost per post built and per delivery read, in µs.
pub fn self_cost(n: u32) -> (f64, f64) {
    let doc = RoomDoc::new(7);
    let t0 = Instant::now();
    let mut frames = Vec::with_capacity(n as usize);
    for seq in 0..n {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).expect("ULID");
        let text = format!("申し送り: 訪問済み。{}", marker(1, 7, seq, 123_456_789));
        let update = doc.start_thread(UserId::new(7), id, &text, 0);
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        frames.push(
            Frame::Sync {
                doc: DocId::Room(RoomId::new(1)),
                ack: Some(u64::from(seq)),
                message,
            }
            .encode(),
        );
    }
    let build = t0.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let t1 = Instant::now();
    let mut found = 0;
    for f in &frames {
        if let Ok(Frame::Sync { message, .. }) = Frame::decode_from_server(f) {
            found += usize::from(find_marker(&message).is_some());
        }
    }
    let read = t1.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    assert_eq!(found, frames.len());
    (build, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_survives_a_real_update_and_frame() {
        let doc = RoomDoc::new(42);
        let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
        let text = format!("申し送り {}", marker(3, 17, 9, 1_234_567_890_123));
        let update = doc.start_thread(UserId::new(5), id, &text, 0);
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        assert_eq!(&message[..2], &[MSG_SYNC, SYNC_UPDATE]);
        assert_eq!(find_marker(&message), Some((3, 17, 9, 1_234_567_890_123)));
        let frame = Frame::Sync {
            doc: DocId::Room(RoomId::new(1)),
            ack: Some(1),
            message,
        }
        .encode();
        assert_eq!(find_marker(&frame), Some((3, 17, 9, 1_234_567_890_123)));
        assert_eq!(find_marker(b"no marker here"), None);
        assert_eq!(find_marker(b"#B1:2:x:4;"), None);
    }

    #[test]
    fn every_marker_is_found_in_a_rooms_whole_state() {
        // What a resync reads: the sync step 2 of a room holding several posts.
        let doc = RoomDoc::new(42);
        for seq in 1..=5 {
            let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
            let text = format!("申し送り {}", marker(3, 17, seq, 1_000 + u64::from(seq)));
            doc.start_thread(UserId::new(5), id, &text, 0);
        }
        let step2 = Message::Sync(SyncMessage::SyncStep2(doc.encode_state())).encode_v1();
        let mut seqs: Vec<u32> = find_markers(&step2).map(|(_, _, seq, _)| seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(find_markers(b"#B1:2:x:4; #B5:6:7:8;").count(), 1);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        for attempt in [1, 2, 5, 30] {
            let d = backoff(attempt);
            assert!(d <= Duration::from_secs(5), "{d:?}");
            assert!(d >= Duration::from_millis(100), "{d:?}");
        }
    }
}
