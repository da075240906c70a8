//! WebSocket connections: `/ws` (Renraku frames, many documents on one socket) and
//! `/yjs/{room}` (plain y-websocket, one room), each a task that `select!`s over the socket,
//! its bounded outbox and a kick from a room (it is too slow, or storage failed under its
//! update).
//!
//! Every send to the client is bounded in time (`ConnLimits::send_timeout`): a client that
//! stops reading is dropped, rather than holding its task, socket and queue for ever.

use super::caps::{CapReached, Slot};
use super::limits::{ConnLimits, TokenBucket};
use super::live::{Alive, OpenRooms};
use super::outbox::{outbox, Next, OutboxRx, Refused};
use super::room::{Inbound, RoomCmd, RoomHandle};
use super::socket::{self, CloseFrame, Message as WsMessage, Socket, Upgrade};
use super::Hub;
use crate::auth::{CurrentSession, CurrentUser};
use crate::db::audit::AuditEntry;
use crate::db::sessions::SessionId;
use crate::domain::audit::AuditAction;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::session_end::CLOSE_CODE as SESSION_END_CODE;
use renraku_sync::yrs::sync::Message;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, MunicipalityId, RoomId, SessionEnd, UserId};
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::{debug, info_span, warn, Instrument};
use tungstenite::protocol::WebSocketConfig;

const PING_EVERY: Duration = Duration::from_secs(20);
const SILENCE_LIMIT: Duration = Duration::from_secs(65);
/// How long a closing connection waits for the client's answering close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long a connection refused over a cap waits for the client's answering close.
const REFUSAL_GRACE: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

impl ConnId {
    fn next() -> ConnId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Renraku `Frame`s on `/ws`.
    Frames,
    /// Bare y-protocols messages on `/yjs/{room}`.
    YWebsocket,
}

pub use super::outbox::Outbox;

/// A connection as a room sees it.
#[derive(Clone)]
pub struct Peer {
    pub conn: ConnId,
    pub wire: Wire,
    pub outbox: Outbox,
    pub kick: Arc<Kick>,
    /// Cleared when the connection's session ends: a room then neither applies what it
    /// sends nor sends it anything.
    pub alive: Alive,
}

impl Peer {
    /// Queues bytes; a full queue means the client cannot keep up: it is disconnected.
    pub fn send(&self, bytes: &Bytes) {
        if !self.alive.get() {
            return;
        }
        if self.outbox.push(bytes) == Err(Refused::Full) {
            self.kick.kick(KickReason::TooSlow);
        }
    }

    /// How a refused message is reported on this wire.
    pub fn refusal(&self, doc: DocId, ack: Option<u64>, reason: &str) -> Bytes {
        match self.wire {
            Wire::Frames => Frame::Invalid {
                doc,
                ack,
                reason: reason.to_owned(),
            }
            .encode()
            .into(),
            // y-websocket has no error message; a denied auth message is shown by its
            // permission-denied handler and leaves the connection open.
            Wire::YWebsocket => Message::Auth(Some(reason.to_owned())).encode_v1().into(),
        }
    }
}

/// Why a room disconnects a peer. Either way the close is 1013 (try again later): the client
/// reconnects, resyncs and resends what its outbox still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KickReason {
    /// Its outbox filled up: it cannot keep up with the room.
    TooSlow,
    /// Storage failed while its update was being stored: nothing of it was kept, and it was
    /// not refused either. An `Invalid` would make the client drop the update for good.
    StorageUnavailable,
}

impl KickReason {
    fn close_reason(self) -> &'static str {
        match self {
            KickReason::TooSlow => "too slow; reconnect and resync",
            KickReason::StorageUnavailable => "storage unavailable; reconnect and resend",
        }
    }
}

/// A room's order to disconnect a peer; the first reason given is the one sent.
#[derive(Default)]
pub struct Kick {
    notify: Notify,
    reason: std::sync::OnceLock<KickReason>,
}

impl Kick {
    pub fn kick(&self, reason: KickReason) {
        let _ = self.reason.set(reason);
        self.notify.notify_one();
    }

    fn reason(&self) -> KickReason {
        self.reason.get().copied().unwrap_or(KickReason::TooSlow)
    }
}

/// A socket's two ends: split once, as the handshake completes.
type Halves = (SplitSink<Socket, WsMessage>, SplitStream<Socket>);

/// Reads (and drops) until the client answers our close frame, for at most [`CLOSE_GRACE`]:
/// a client cannot hold a closing socket open this way.
async fn drain_until_close(stream: &mut SplitStream<Socket>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, WsMessage::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Sends one message; false when it did not finish within the send timeout, a room found
/// the connection too slow meanwhile, or the socket failed. The connection then ends.
///
/// Boxed: a send (with its timer) is several times what an idle connection waits with, and
/// every future a connection's loop awaits is part of its task for the socket's whole life.
fn deliver<'a>(
    sink: &'a mut SplitSink<Socket, WsMessage>,
    msg: WsMessage,
    limits: &'a ConnLimits,
    kick: &'a Kick,
) -> Pin<Box<impl Future<Output = bool> + Send + 'a>> {
    Box::pin(async move {
        tokio::select! {
            sent = tokio::time::timeout(limits.send_timeout, socket::send(sink, msg)) => matches!(sent, Ok(Ok(()))),
            _ = kick.notify.notified() => false,
        }
    })
}

/// A read that failed because the message is over the hard size limit (`config`).
fn over_hard_limit(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Capacity(_))
}

/// Refuses cross-site WebSocket handshakes: a browser always sends Origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return true; // not a browser
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin_host == host
}

/// Socket buffers sized for many mostly idle connections: tungstenite's default 128 KiB
/// read buffer is zero-filled on every read, so each socket would keep it all resident.
/// Messages over the hard limit close the socket at the protocol level; up to it, an
/// oversized frame gets a `TooLarge` answer and the connection lives on.
///
/// The read buffer starts at 512 bytes: it is only where reads begin (tungstenite makes room
/// for a whole message once its header is read, so a large one is still read in large
/// chunks), and every idle connection holds it. What clients send is mostly a few hundred
/// bytes; a longer message costs one more read.
fn config(limits: &ConnLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits.hard_message_bytes()))
        .max_frame_size(Some(limits.hard_message_bytes()))
        .read_buffer_size(512)
        .write_buffer_size(8 * 1024)
}

pub async fn ws_handler(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    let span = info_span!("ws", user.id = %session.user.id);
    // Counted before the handshake completes, so simultaneous handshakes cannot pass the cap.
    let slot = state.hub.caps.admit(session.user.id);
    let config = config(&state.config.ws_limits());
    // Built now, boxed: the upgrade's task keeps its callback's captures for the socket's
    // whole life, so the callback holds the connection only, not the state and the session
    // that built it. (Dropped, and so unregistered, if the handshake fails.)
    let conn =
        slot.map(|slot| Connection::new(state, &session.user, session.id, Wire::Frames, slot));
    ws.on_upgrade(config, move |socket| {
        // Split before the task's future is built, so that it holds the halves only.
        let mut halves = socket.split();
        async move {
            let conn = match conn {
                Ok(conn) => conn,
                Err(cap) => return refuse(&mut halves, cap).await,
            };
            // Boxed, as every rare await before `run`: the task keeps room for the largest
            // future it awaits for the socket's whole life.
            let ended = Box::pin(conn.ended_meanwhile()).await;
            conn.run(halves, ended).await
        }
        .instrument(span)
    })
}

/// Closes a connection over a cap with the reason, as a close frame: a browser's WebSocket
/// shows the client nothing of a refused handshake, but it does show a close reason.
async fn refuse((sink, stream): &mut Halves, cap: CapReached) {
    let (code, reason) = cap.refusal().close();
    debug!(code, reason, "connection refused");
    let close = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    // Briefly: a refused socket still holds a descriptor, and refusals can come fast.
    let _ = tokio::time::timeout(REFUSAL_GRACE, async {
        let _ = sink.send(WsMessage::Close(Some(close))).await;
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, WsMessage::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn yjs_handler(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    let Ok(room) = room.parse::<RoomId>() else {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    };
    let Some(token) = q.token else {
        return crate::Error::Unauthorized.into_response();
    };
    let (user, token_room, session) =
        match crate::auth::authenticate_room_token(&state, &token).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
    if token_room != room {
        return (StatusCode::FORBIDDEN, "the token is for another room").into_response();
    }
    let span = info_span!("yjs", user.id = %user.id, room = %room);
    let slot = state.hub.caps.admit(user.id);
    let config = config(&state.config.ws_limits());
    // As in `ws_handler`. The socket belongs to the session that minted the token: it ends
    // with it.
    let conn = slot.map(|slot| Connection::new(state, &user, session, Wire::YWebsocket, slot));
    ws.on_upgrade(config, move |socket| {
        let mut halves = socket.split();
        async move {
            let mut conn = match conn {
                Ok(conn) => conn,
                Err(cap) => return refuse(&mut halves, cap).await,
            };
            // The token's check of membership was the open's: straight to the room. The
            // session is looked at again meanwhile, not after: nothing of the room reaches the
            // socket before `run` has the answer.
            let ended = Box::pin(conn.ended_meanwhile());
            let (entered, ended) = tokio::join!(Box::pin(conn.enter(DocId::Room(room))), ended);
            if entered.is_ok() {
                conn.run(halves, ended).await;
            }
        }
        .instrument(span)
    })
}

struct Connection {
    state: AppState,
    user: UserId,
    /// The session that opened the socket (for `/yjs`, the one that minted its token).
    session: SessionId,
    municipality: MunicipalityId,
    wire: Wire,
    peer: Peer,
    /// Frames to send, and orders from outside, which go first: the session ended, an
    /// administrator's decision (see `Hub::end_session`, `Hub::disconnect_user`).
    rx: OutboxRx,
    /// This connection's place under the caps, freed with it.
    _slot: Slot,
    opened: Opened,
    limits: ConnLimits,
    /// Messages this client may still send now (see `limits`).
    bucket: TokenBucket,
    /// When a write last counted as the session's activity (clock milliseconds).
    touched_at: Option<i64>,
    /// The session's time is up at this instant unless it was used meanwhile (0: not known
    /// yet); past it, the stored session is looked at before anything else is read.
    session_deadline: i64,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.state.hub.live.unregister(self.user, self.peer.conn);
    }
}

impl Connection {
    fn new(
        state: AppState,
        user: &CurrentUser,
        session: SessionId,
        wire: Wire,
        slot: Slot,
    ) -> Box<Self> {
        let limits = state.config.ws_limits();
        let (tx, rx) = outbox(limits.outbox_bytes);
        let conn = ConnId::next();
        let opened = Opened::default();
        let alive = state.hub.live.register(
            user.id,
            session.clone(),
            conn,
            wire,
            tx.clone(),
            opened.rooms.clone(),
        );
        let peer = Peer {
            conn,
            wire,
            outbox: tx,
            kick: Arc::new(Kick::default()),
            alive,
        };
        Box::new(Self {
            state,
            user: user.id,
            session,
            municipality: user.municipality,
            wire,
            peer,
            rx,
            _slot: slot,
            opened,
            limits,
            bucket: TokenBucket::new(&limits),
            touched_at: None,
            session_deadline: 0,
        })
    }

    fn hub(&self) -> &Hub {
        &self.state.hub
    }

    /// Serves the socket until it closes. Not an `async fn`: its parameters would be kept
    /// twice in the task for the connection's whole life (as arguments, then as the
    /// body's own copies), and the unsplit socket beside its halves; the block below holds
    /// the boxed `Connection` and the halves only.
    ///
    /// `ended` is [`Connection::ended_meanwhile`]'s answer: the socket is closed with it
    /// before anything is sent.
    fn run(
        mut self: Box<Self>,
        halves: Halves,
        ended: Option<SessionEnd>,
    ) -> impl Future<Output = ()> + Send {
        let (mut sink, mut stream) = halves;
        async move {
            let mut ping = tokio::time::interval(PING_EVERY);
            let mut last_heard = Instant::now();
            let (limits, kick) = (self.limits, self.peer.kick.clone());
            // Boxed below: a future awaited in `run` is part of every connection's task for as
            // long as the connection lives, so what is rare or reads the database waits on the
            // heap, and an idle connection's task stays small.
            if let Some(ended) = ended {
                let close = CloseFrame {
                    code: SESSION_END_CODE.into(),
                    reason: ended.as_str().into(),
                };
                deliver(&mut sink, WsMessage::Close(Some(close)), &limits, &kick).await;
                return;
            }
            loop {
                tokio::select! {
                    inbound = stream.next() => {
                        let msg = match inbound {
                            Some(Ok(msg)) => msg,
                            Some(Err(e)) if over_hard_limit(&e) => {
                                // Refused before it was buffered; the close says why (1009:
                                // message too big), where the socket used to just drop (1006).
                                let close = CloseFrame {
                                    code: 1009.into(),
                                    reason: format!(
                                        "message over {} bytes; closed",
                                        limits.hard_message_bytes()
                                    )
                                    .into(),
                                };
                                if deliver(&mut sink, WsMessage::Close(Some(close)), &limits, &kick).await {
                                    // The rest of the message is unread (and can no longer be
                                    // read past): closing the socket now would make the kernel
                                    // reset it and the client lose the close frame. Held briefly.
                                    tokio::time::sleep(CLOSE_GRACE).await;
                                }
                                break;
                            }
                            _ => break,
                        };
                        if matches!(msg, WsMessage::Close(_)) {
                            break;
                        }
                        let deadline_passed = self.state.clock.now_ms() >= self.session_deadline;
                        if !self.peer.alive.get() || (deadline_passed && Box::pin(self.session_over()).await) {
                            // Its session ended: what it sends now is neither stored nor
                            // delivered; the order to close is on its way.
                            continue;
                        }
                        last_heard = Instant::now();
                        if !matches!(msg, WsMessage::Close(_) | WsMessage::Pong(_)) && !self.bucket.take() {
                            // Over its rate: this message is dropped unread and the client told
                            // why; it reconnects and resyncs (its outbox keeps unsaved updates).
                            let close = WsMessage::Close(Some(self.rate_exceeded()));
                            if !deliver(&mut sink, close, &limits, &kick).await {
                                break;
                            }
                            // Drain (unread) until the client answers the close, so that its
                            // unread messages do not make the kernel reset the socket under the
                            // close frame; bounded, so a client cannot hold the socket this way.
                            Box::pin(drain_until_close(&mut stream)).await;
                            break;
                        }
                        match msg {
                            WsMessage::Binary(bytes) => Box::pin(self.inbound(&bytes)).await,
                            WsMessage::Text(_) => self.reply(Frame::Malformed { reason: "binary frames only".into() }),
                            WsMessage::Close(_) => break,
                            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
                        }
                    }
                    next = self.rx.next() => match next {
                        Next::Frame(out) => {
                            let len = out.len();
                            if !self.peer.alive.get() {
                                self.rx.sent(len);
                                continue;
                            }
                            let sent = deliver(&mut sink, WsMessage::Binary(out), &limits, &kick).await;
                            self.rx.sent(len);
                            if !sent {
                                debug!(bytes = len, "a send did not finish in time; closing");
                                break;
                            }
                        }
                        Next::Control(super::live::Control::Disconnect { reason }) => {
                            let close = CloseFrame { code: SESSION_END_CODE.into(), reason: reason.into() };
                            // What the client sent meanwhile is read and dropped (the connection is
                            // dead already): unread, it would make the kernel reset the socket
                            // under the close frame, and the client would never learn why.
                            if deliver(&mut sink, WsMessage::Close(Some(close)), &limits, &kick).await {
                                Box::pin(drain_until_close(&mut stream)).await;
                            }
                            break;
                        }
                        Next::Control(super::live::Control::CloseDoc(doc)) => {
                            if let Some(room) = self.opened.remove(&doc) {
                                let _ = room.tx.send(RoomCmd::Leave(self.peer.conn)).await;
                                if self.wire == Wire::YWebsocket {
                                    let close = CloseFrame { code: 1008.into(), reason: renraku_sync::frame::denied::REMOVED.into() };
                                    deliver(&mut sink, WsMessage::Close(Some(close)), &limits, &kick).await;
                                    break;
                                }
                                self.reply(Frame::Denied { doc, reason: renraku_sync::frame::denied::REMOVED.into() });
                            }
                        }
                        // Only sockets that speak frames are told news (`LiveConnections`).
                        Next::Control(super::live::Control::Frame(bytes)) => {
                            self.peer.send(&bytes);
                        }
                    },
                    _ = kick.notify.notified() => {
                        let why = kick.reason();
                        let close = CloseFrame { code: 1013.into(), reason: why.close_reason().into() };
                        deliver(&mut sink, WsMessage::Close(Some(close)), &limits, &kick).await;
                        break;
                    }
                    _ = ping.tick() => {
                        if last_heard.elapsed() > SILENCE_LIMIT {
                            break;
                        }
                        if !deliver(&mut sink, WsMessage::Ping(Bytes::new()), &limits, &kick).await {
                            break;
                        }
                    }
                }
            }
            for room in self.opened.drain() {
                let _ = room.tx.send(RoomCmd::Leave(self.peer.conn)).await;
            }
            debug!("connection closed");
        }
    }

    /// Whether the session's time is up (idle or absolute expiry), which no event announces:
    /// the sweeper ends such sessions within its tick, and a frame arriving before that must
    /// not slip through. The database is asked only past the last known deadline.
    async fn session_over(&mut self) -> bool {
        if self.state.clock.now_ms() < self.session_deadline {
            return false;
        }
        match crate::auth::session_end::end_if_over(&self.state, &self.session).await {
            Ok(Ok(deadline)) => {
                self.session_deadline = deadline;
                false
            }
            Ok(Err(_)) => true,
            Err(e) => {
                // Unknown: refuse this frame (the client resends from its outbox) and ask
                // again with the next.
                warn!(error = %e, "checking the session failed");
                true
            }
        }
    }

    /// Counts a write as the session's activity, at most once a minute per connection.
    /// Not waited for: the write behind it goes to the same writer after it, so it is
    /// stored in the same commit as the write or an earlier one.
    fn note_activity(&mut self) {
        let now = self.state.clock.now_ms();
        if self
            .touched_at
            .is_some_and(|t| now - t < crate::auth::TOUCH_EVERY_MS)
        {
            return;
        }
        self.touched_at = Some(now);
        let touch = crate::auth::session_end::touch(&self.state, &self.session);
        self.hub().touch_session_soon(touch);
    }

    /// Whether the session or the account ended before this connection was registered:
    /// registered first (in [`Connection::new`]), so an end between the handshake's
    /// authentication and the registration is caught here, any later one by `control`.
    /// Borrows nothing, so that `/yjs` asks while it enters its room.
    fn ended_meanwhile(&self) -> impl Future<Output = Option<SessionEnd>> + Send + 'static {
        let (state, user, session) = (self.state.clone(), self.user, self.session.clone());
        async move {
            let (account, session) = tokio::join!(
                state.db.user(user),
                crate::auth::session_state(&state, &session)
            );
            match account {
                Ok(Some(u)) if !u.disabled => {}
                _ => return Some(SessionEnd::AccountDisabled),
            }
            session.unwrap_or(Some(SessionEnd::Ended))
        }
    }

    fn rate_exceeded(&self) -> CloseFrame {
        let retry_ms = self.bucket.retry_after().as_millis().min(60_000);
        warn!(
            limit = self.limits.messages_per_second,
            burst = self.limits.message_burst,
            "closing a connection over its message rate"
        );
        CloseFrame {
            // 1008: policy violation.
            code: 1008.into(),
            reason: format!(
                "message rate limit exceeded ({} per second, burst {}); reconnect after {retry_ms} ms",
                self.limits.messages_per_second, self.limits.message_burst
            )
            .into(),
        }
    }

    /// Sends a frame to this client (for `/ws`).
    fn reply(&self, frame: Frame) {
        if self.wire == Wire::Frames {
            self.peer.send(&frame.encode().into());
        }
    }

    async fn inbound(&mut self, bytes: &[u8]) {
        match self.wire {
            Wire::Frames => self.inbound_frame(bytes).await,
            Wire::YWebsocket => {
                let Some(doc) = self.opened.first() else {
                    return;
                };
                let limit = self.limits.max_frame_bytes;
                if bytes.len() > limit {
                    let reason = format!("message exceeds {limit} bytes");
                    self.peer.send(&self.peer.refusal(doc, None, &reason));
                    return;
                }
                self.forward(doc, None, bytes.to_vec()).await;
            }
        }
    }

    async fn inbound_frame(&mut self, bytes: &[u8]) {
        if bytes.len() > self.limits.max_frame_bytes {
            return self.reply(Frame::TooLarge {
                limit: self.limits.max_frame_bytes as u64,
            });
        }
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                return self.reply(Frame::Malformed {
                    reason: e.to_string(),
                })
            }
        };
        match frame {
            Frame::Hello { version } if version == PROTOCOL_VERSION => {}
            Frame::Hello { version } => self.reply(Frame::Malformed {
                reason: format!(
                    "protocol version {version} is not spoken here (want {PROTOCOL_VERSION})"
                ),
            }),
            Frame::Open { doc } => {
                if let Err(reason) = Box::pin(self.open(doc)).await {
                    self.reply(Frame::Denied { doc, reason });
                }
            }
            Frame::Close { doc } => {
                if let Some(room) = self.opened.remove(&doc) {
                    let _ = room.tx.send(RoomCmd::Leave(self.peer.conn)).await;
                }
            }
            Frame::Sync { doc, ack, message } => {
                if ack.is_some() {
                    // The app's own writes (they carry an ack), not sync chatter.
                    self.note_activity();
                }
                if self.opened.contains_key(&doc) {
                    self.forward(doc, ack, message).await;
                } else {
                    self.reply(Frame::Denied {
                        doc,
                        reason: "open the document first".into(),
                    });
                }
            }
            Frame::Saved { .. }
            | Frame::Denied { .. }
            | Frame::Invalid { .. }
            | Frame::TooLarge { .. }
            | Frame::Malformed { .. }
            | Frame::RoomActivity { .. }
            | Frame::RegisterMarked { .. }
            | Frame::RegisterChanged { .. } => self.reply(Frame::Malformed {
                reason: "that frame is sent by the server only".into(),
            }),
        }
    }

    /// Joins a document's room after checking that the user may read it.
    async fn open(&mut self, doc: DocId) -> Result<(), String> {
        let allowed = match doc {
            DocId::Personal(owner) => owner == self.user,
            DocId::Room(room) => self
                .hub()
                .may_open(self.user, room)
                .await
                .map_err(|_| "temporarily unavailable; retry".to_owned())?,
        };
        if !allowed {
            return Err(renraku_sync::frame::denied::NOT_A_MEMBER.into());
        }
        self.enter(doc).await
    }

    /// Joins a document's room the user was found allowed to read (by [`Connection::open`],
    /// or for `/yjs` by its token's check), once the open is in the audit log.
    async fn enter(&mut self, doc: DocId) -> Result<(), String> {
        // Started (read from storage, if it is not in memory) while the audit row commits:
        // nothing of it reaches this client before its `Join`, below.
        self.hub().room(doc);
        if let DocId::Room(_) = doc {
            // Every read of a room (a patient's above all) is accounted for.
            let entry = AuditEntry::new(AuditAction::RoomOpen, doc.storage_key())
                .by(self.user, self.municipality);
            if let Err(e) = self.hub().audit(entry).await {
                tracing::error!(error = %e, "audit write failed");
                return Err("temporarily unavailable; retry".into());
            }
        }
        if let Some(old) = self.opened.remove(&doc) {
            let _ = old.tx.send(RoomCmd::Leave(self.peer.conn)).await;
        }
        // A room task may be on its way out; the hub then starts a fresh one.
        for _ in 0..3 {
            let room = self.hub().room(doc);
            if room
                .tx
                .send(RoomCmd::Join(Box::new(self.peer.clone())))
                .await
                .is_ok()
            {
                self.opened.insert(doc, room);
                return Ok(());
            }
            self.hub().forget(doc, &room);
        }
        Err("temporarily unavailable; retry".into())
    }

    async fn forward(&mut self, doc: DocId, ack: Option<u64>, message: Vec<u8>) {
        if !self.peer.alive.get() {
            return;
        }
        let Some(room) = self.opened.get(&doc) else {
            return;
        };
        let cmd = RoomCmd::Message(Box::new(Inbound {
            conn: self.peer.conn,
            user: self.user,
            ack,
            message,
        }));
        if room.tx.send(cmd).await.is_err() {
            // The room task died (a panic while applying): tell the client to reopen.
            self.opened.remove(&doc);
            self.reply(Frame::Denied {
                doc,
                reason: "the room was restarted; open it again".into(),
            });
        }
    }
}

/// The documents a connection has open, and their rooms. A vector, not a map: a `/yjs`
/// socket has one, a `/ws` socket a few, and a map would keep room for four in each. The
/// rooms among them are shared with the news teller (`LiveConnections`), which does not
/// tell this connection of a room it has open.
#[derive(Default)]
struct Opened {
    docs: Vec<(DocId, RoomHandle)>,
    rooms: OpenRooms,
}

impl Opened {
    fn get(&self, doc: &DocId) -> Option<&RoomHandle> {
        self.docs
            .iter()
            .find(|(d, _)| d == doc)
            .map(|(_, room)| room)
    }

    fn contains_key(&self, doc: &DocId) -> bool {
        self.get(doc).is_some()
    }

    /// The first document opened (a `/yjs` socket's only one).
    fn first(&self) -> Option<DocId> {
        self.docs.first().map(|(doc, _)| *doc)
    }

    fn remove(&mut self, doc: &DocId) -> Option<RoomHandle> {
        let at = self.docs.iter().position(|(d, _)| d == doc)?;
        if let DocId::Room(room) = doc {
            self.rooms.closed(*room);
        }
        Some(self.docs.swap_remove(at).1)
    }

    /// Callers remove a document's old room first.
    fn insert(&mut self, doc: DocId, room: RoomHandle) {
        debug_assert!(!self.contains_key(&doc));
        if let DocId::Room(room) = doc {
            self.rooms.opened(room);
        }
        self.docs.reserve_exact(1);
        self.docs.push((doc, room));
    }

    /// Every room, each document closed.
    fn drain(&mut self) -> Vec<RoomHandle> {
        self.rooms.clear();
        self.docs.drain(..).map(|(_, room)| room).collect()
    }
}
