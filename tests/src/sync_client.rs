//! A real `/ws` client for tests: speaks Renraku frames over tokio-tungstenite, keeps a
//! `RoomDoc` replica per opened room, answers the server's sync step 1, and records every
//! frame it receives so tests can assert on acknowledgements and refusals.

use crate::process::ServerProcess;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::decoder::Decode;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, PostId, RoomDoc, RoomId, UserId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something that should take milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Opens a WebSocket to `url` with the session in a bearer header (or none).
pub async fn connect_raw(url: &str, session: Option<&str>) -> Result<Ws> {
    let mut request = url.into_client_request()?;
    if let Some(token) = session {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(ws)
}

pub struct SyncClient {
    ws: Ws,
    client_id: u64,
    docs: HashMap<RoomId, RoomDoc>,
    next_ack: u64,
    /// Updates sent with an ack and not answered yet, as the app keeps them: an entry leaves
    /// on `Saved` or `Invalid` for its ack (or a later one of its room), nothing else.
    outbox: std::collections::BTreeMap<u64, (RoomId, Vec<u8>)>,
    /// Every non-sync frame received, oldest first.
    pub events: Vec<Frame>,
    /// Set once the server closed the socket.
    pub closed: bool,
    /// The code and reason of the server's close frame, once it arrived.
    pub close_frame: Option<(u16, String)>,
    /// Rooms whose sync step 2 arrived since they were (re)opened.
    step2_seen: std::collections::HashSet<RoomId>,
}

impl SyncClient {
    /// Connects to `ws_url` (`ws://…/ws`) as the holder of `session`.
    pub async fn connect(ws_url: &str, session: &str, client_id: u64) -> Result<SyncClient> {
        let mut ws = connect_raw(ws_url, Some(session)).await?;
        let hello = Frame::Hello {
            version: PROTOCOL_VERSION,
        };
        ws.send(WsMessage::Binary(hello.encode().into())).await?;
        Ok(SyncClient {
            ws,
            client_id,
            docs: HashMap::new(),
            next_ack: 1,
            outbox: Default::default(),
            events: Vec::new(),
            closed: false,
            close_frame: None,
            step2_seen: Default::default(),
        })
    }

    /// Replaces the socket after a restart, keeping the local replicas (offline writes too).
    pub async fn reconnect(&mut self, ws_url: &str, session: &str) -> Result<()> {
        let fresh = SyncClient::connect(ws_url, session, self.client_id).await?;
        self.ws = fresh.ws;
        self.closed = false;
        let rooms: Vec<RoomId> = self.docs.keys().copied().collect();
        for room in rooms {
            self.send_open(room).await?;
        }
        Ok(())
    }

    pub fn doc(&mut self, room: RoomId) -> &RoomDoc {
        let id = self.client_id;
        self.docs.entry(room).or_insert_with(|| RoomDoc::new(id))
    }

    pub async fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        self.send_bytes(frame.encode()).await
    }

    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.ws.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    async fn send_open(&mut self, room: RoomId) -> Result<()> {
        self.send_frame(&Frame::Open {
            doc: DocId::Room(room),
        })
        .await?;
        // Our own step 1, so the server sends what we lack.
        let sv = self.doc(room).state_vector();
        let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
        self.send_frame(&Frame::Sync {
            doc: DocId::Room(room),
            ack: None,
            message: step1,
        })
        .await
    }

    /// Opens a room and waits until the server's state has arrived (or a refusal).
    pub async fn open(&mut self, room: RoomId) -> Result<()> {
        self.doc(room);
        let before = self.events.len();
        self.send_open(room).await?;
        // The server answers our step 1 with its step 2; a `Denied` means no.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(Frame::Denied { reason, .. }) = self.events[before..]
                .iter()
                .find(|f| matches!(f, Frame::Denied { .. }))
            {
                bail!("denied: {reason}");
            }
            if self.step2_seen.remove(&room) {
                return Ok(());
            }
            self.pump_until(deadline).await?;
        }
    }

    /// Sends an update the local replica produced, with an acknowledgement number; it stays
    /// in the outbox until the server answers for it.
    pub async fn send_update(&mut self, room: RoomId, update: Vec<u8>) -> Result<u64> {
        let ack = self.next_ack;
        self.next_ack += 1;
        self.outbox.insert(ack, (room, update.clone()));
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        self.send_frame(&Frame::Sync {
            doc: DocId::Room(room),
            ack: Some(ack),
            message,
        })
        .await?;
        Ok(ack)
    }

    /// The ack numbers still in the outbox (sent, neither saved nor refused).
    pub fn unanswered(&self) -> Vec<u64> {
        self.outbox.keys().copied().collect()
    }

    /// Sends the whole outbox again, one merged update per room under its highest ack, as
    /// the app does after each reconnect. Returns the acks sent.
    pub async fn resend_outbox(&mut self) -> Result<Vec<u64>> {
        let mut per_room: std::collections::BTreeMap<RoomId, (u64, Vec<Vec<u8>>)> =
            Default::default();
        for (ack, (room, update)) in &self.outbox {
            let slot = per_room.entry(*room).or_default();
            slot.0 = slot.0.max(*ack);
            slot.1.push(update.clone());
        }
        let mut sent = Vec::new();
        for (room, (ack, updates)) in per_room {
            let merged = renraku_sync::yrs::merge_updates_v1(&updates)?;
            let message = Message::Sync(SyncMessage::Update(merged)).encode_v1();
            self.send_frame(&Frame::Sync {
                doc: DocId::Room(room),
                ack: Some(ack),
                message,
            })
            .await?;
            sent.push(ack);
        }
        Ok(sent)
    }

    /// Waits for the server's verdict on `ack`: `Ok` when saved, `Err` with the reason when
    /// refused.
    pub async fn verdict(&mut self, ack: u64) -> Result<std::result::Result<(), String>> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            for f in &self.events {
                match f {
                    Frame::Saved { ack: a, .. } if *a == ack => return Ok(Ok(())),
                    Frame::Invalid {
                        ack: Some(a),
                        reason,
                        ..
                    } if *a == ack => return Ok(Err(reason.clone())),
                    _ => {}
                }
            }
            self.pump_until(deadline).await?;
        }
    }

    /// Sends and waits until saved.
    pub async fn write(&mut self, room: RoomId, update: Vec<u8>) -> Result<()> {
        let ack = self.send_update(room, update).await?;
        self.verdict(ack)
            .await?
            .map_err(|reason| anyhow!("refused: {reason}"))
    }

    /// Processes incoming frames until `cond` holds for the room's replica.
    pub async fn wait_for(
        &mut self,
        room: RoomId,
        what: &str,
        cond: impl Fn(&RoomDoc) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !cond(self.doc(room)) {
            self.pump_until(deadline)
                .await
                .with_context(|| format!("waiting for {what}"))?;
        }
        Ok(())
    }

    /// Waits for the next non-sync frame matching `pred`.
    pub async fn wait_event(&mut self, pred: impl Fn(&Frame) -> bool) -> Result<Frame> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(i) = self.events.iter().position(&pred) {
                return Ok(self.events.remove(i));
            }
            self.pump_until(deadline).await?;
        }
    }

    /// Reads and handles one frame, failing at the deadline.
    async fn pump_until(&mut self, deadline: tokio::time::Instant) -> Result<()> {
        let msg = tokio::time::timeout_at(deadline, self.ws.next())
            .await
            .map_err(|_| anyhow!("timed out"))?;
        match msg {
            Some(Ok(WsMessage::Binary(bytes))) => self.handle(&bytes).await,
            Some(Ok(WsMessage::Close(frame))) => {
                self.closed = true;
                self.close_frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                bail!("connection closed")
            }
            None => {
                self.closed = true;
                bail!("connection closed")
            }
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                self.closed = true;
                Err(e.into())
            }
        }
    }

    /// Streams `count` new threads into `room` without waiting for answers and kills the
    /// server (kill -9) once at least `min_saved` of them were acknowledged: the crash a
    /// durability test needs, in the middle of a stream of unacknowledged writes.
    pub async fn stream_then_kill_9(
        &mut self,
        server: ServerProcess,
        room: RoomId,
        author: UserId,
        count: usize,
        min_saved: usize,
    ) -> Result<Streamed> {
        let mut sent = Vec::new();
        for i in (0_i64..).take(count) {
            let id =
                PostId::parse(&ulid::Ulid::new().to_string()).context("a ULID is a post id")?;
            let update = self
                .doc(room)
                .start_thread(author, id.clone(), &format!("投稿 {i}"), i);
            let ack = self.send_update(room, update).await?;
            sent.push((ack, id));
        }
        let mut saved = Vec::new();
        while saved.len() < min_saved {
            if let Frame::Saved { ack, .. } = self
                .wait_event(|f| matches!(f, Frame::Saved { .. }))
                .await?
            {
                saved.push(ack);
            }
        }
        server.kill_9().await?;
        // Whatever else was acknowledged before the socket died counts too.
        self.drain(Duration::from_millis(200)).await;
        saved.extend(self.events.iter().filter_map(|f| match f {
            Frame::Saved { ack, .. } => Some(*ack),
            _ => None,
        }));
        Ok(Streamed { sent, saved })
    }

    /// Handles frames until the server closes the socket, for at most `within`; the close
    /// frame's code and reason (`None` if the socket ended without one, or did not close).
    pub async fn closed_within(&mut self, within: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + within;
        while !self.closed {
            if self.pump_until(deadline).await.is_err() && !self.closed {
                return None; // timed out
            }
        }
        self.close_frame.clone()
    }

    /// Handles frames for up to `d`, returning when nothing arrives for that long.
    pub async fn drain(&mut self, d: Duration) {
        while self
            .pump_until(tokio::time::Instant::now() + d)
            .await
            .is_ok()
        {}
    }

    async fn handle(&mut self, bytes: &[u8]) -> Result<()> {
        let frame = Frame::decode_from_server(bytes)?;
        if let Frame::Saved {
            doc: DocId::Room(room),
            ack,
        }
        | Frame::Invalid {
            doc: DocId::Room(room),
            ack: Some(ack),
            ..
        } = frame
        {
            // Frames are answered in order: the room's older entries are answered too.
            self.outbox.retain(|a, (r, _)| *r != room || *a > ack);
        }
        let Frame::Sync {
            doc: DocId::Room(room),
            message,
            ..
        } = frame
        else {
            self.events.push(frame);
            return Ok(());
        };
        match Message::decode_v1(&message)? {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = self.doc(room).encode_diff(&sv);
                let reply = Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1();
                self.send_frame(&Frame::Sync {
                    doc: DocId::Room(room),
                    ack: None,
                    message: reply,
                })
                .await?;
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                self.doc(room).apply_update(&update)?;
                self.step2_seen.insert(room);
            }
            Message::Sync(SyncMessage::Update(update)) => {
                self.doc(room).apply_update(&update)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What [`SyncClient::stream_then_kill_9`] sent and what the server acknowledged.
pub struct Streamed {
    /// Every post sent, with the ack number it was sent under.
    pub sent: Vec<(u64, PostId)>,
    /// The ack numbers the server answered `saved` to before it died.
    pub saved: Vec<u64>,
}

impl Streamed {
    /// The posts the server said were saved: a crash must not lose any of them.
    pub fn acknowledged(&self) -> impl Iterator<Item = (u64, &PostId)> {
        self.sent
            .iter()
            .filter(|(ack, _)| self.saved.contains(ack))
            .map(|(ack, id)| (*ack, id))
    }
}
