//! A real `/ws` client for tests: a thin tokio-tungstenite driver over the protocol's own
//! [`ClientSession`] (the app's too), which keeps a `RoomDoc` replica per opened room, answers
//! the server's sync step 1 and keeps the outbox. The driver records every non-sync frame it
//! receives so tests can assert on acknowledgements and refusals.

use crate::process::ServerProcess;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use renraku_sync::client::{ClientSession, Effect, MemoryOutbox};
use renraku_sync::{DocId, Frame, PostId, RoomDoc, RoomId, UserId};
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
    /// `None` while offline (see [`go_offline`](Self::go_offline)).
    ws: Option<Ws>,
    session: ClientSession<MemoryOutbox>,
    /// Every non-sync frame received, oldest first.
    pub events: Vec<Frame>,
    /// Set once the server closed the socket.
    pub closed: bool,
    /// The code and reason of the server's close frame, once it arrived.
    pub close_frame: Option<(u16, String)>,
    /// Every outbox id the server acknowledged with `saved`, directly or by a later ack.
    pub acknowledged: Vec<u64>,
    /// Every other device's update the server relayed live (not the state it answers an
    /// opening with), in arrival order: what the app is handed as news, where a post that
    /// arrives twice would be delivered twice.
    pub relayed: Vec<Vec<u8>>,
    /// Every new post the room list heard of, in arrival order
    /// ([`Effect::RoomActivity`]: told by the server, or read from what it relayed and
    /// saved), as a `Frame::RoomActivity` reads.
    pub news: Vec<Frame>,
}

impl SyncClient {
    /// Connects to `ws_url` (`ws://…/ws`) as the holder of `session`.
    pub async fn connect(ws_url: &str, session: &str, client_id: u64) -> Result<SyncClient> {
        let ws = connect_raw(ws_url, Some(session)).await?;
        let mut client = SyncClient {
            ws: Some(ws),
            session: ClientSession::new(client_id, MemoryOutbox::new()),
            events: Vec::new(),
            closed: false,
            close_frame: None,
            acknowledged: Vec::new(),
            relayed: Vec::new(),
            news: Vec::new(),
        };
        let hello = client.session.connected();
        client.run(hello).await?;
        Ok(client)
    }

    /// Replaces the socket after a restart, keeping the local replicas and the outbox: the
    /// open rooms are opened again and the outbox is resent, as the app does.
    pub async fn reconnect(&mut self, ws_url: &str, session: &str) -> Result<()> {
        self.go_offline();
        self.ws = Some(connect_raw(ws_url, Some(session)).await?);
        self.closed = false;
        self.close_frame = None;
        let effects = self.session.connected();
        self.run(effects).await
    }

    /// The protocol state underneath (replicas, outbox, subscriptions).
    pub fn session(&mut self) -> &mut ClientSession<MemoryOutbox> {
        &mut self.session
    }

    pub fn doc(&mut self, room: RoomId) -> &RoomDoc {
        self.session.room(room)
    }

    pub async fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        self.send_bytes(frame.encode()).await
    }

    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<()> {
        let ws = self.ws.as_mut().context("offline")?;
        ws.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    /// Drops the socket without a goodbye, as a phone losing its network does; the replicas
    /// and the outbox stay, and writes wait in it until [`reconnect`](Self::reconnect).
    pub fn go_offline(&mut self) {
        self.ws = None;
        self.session.disconnected(None);
    }

    pub fn is_online(&self) -> bool {
        self.ws.is_some() && !self.closed
    }

    /// Carries out the session's effects: sends its frames, notes acknowledgements.
    async fn run(&mut self, effects: Vec<Effect>) -> Result<()> {
        for effect in effects {
            match effect {
                Effect::Send(frame) => self.send_frame(&frame).await?,
                Effect::Saved { acks, .. } => self.acknowledged.extend(acks),
                Effect::Remote { update, .. } => self.relayed.push(update),
                Effect::RoomActivity {
                    room,
                    author,
                    at,
                    text,
                } => self.news.push(Frame::RoomActivity {
                    room,
                    author,
                    at,
                    text,
                }),
                _ => {}
            }
        }
        Ok(())
    }

    /// Handles frames until the server's state of `room` has arrived since it was (re)opened.
    pub async fn wait_synced(&mut self, room: RoomId) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.session.is_synced(DocId::Room(room)) {
            self.pump_until(deadline)
                .await
                .context("waiting for sync")?;
        }
        Ok(())
    }

    /// Handles frames until the server has answered every update in the outbox.
    pub async fn wait_outbox_empty(&mut self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.session.pending().next().is_some() {
            self.pump_until(deadline)
                .await
                .with_context(|| format!("waiting for {:?}", self.unanswered()))?;
        }
        Ok(())
    }

    /// Opens a room and waits until the server's state has arrived (or a refusal).
    pub async fn open(&mut self, room: RoomId) -> Result<()> {
        let doc = DocId::Room(room);
        let before = self.events.len();
        let effects = self.session.reopen(doc);
        self.run(effects).await?;
        // The server answers our step 1 with its step 2; a `Denied` means no.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(Frame::Denied { reason, .. }) = self.events[before..]
                .iter()
                .find(|f| matches!(f, Frame::Denied { .. }))
            {
                bail!("denied: {reason}");
            }
            if self.session.is_synced(doc) {
                return Ok(());
            }
            self.pump_until(deadline).await?;
        }
    }

    /// Stops syncing a room (the app leaving it); the replica stays.
    pub async fn close(&mut self, room: RoomId) -> Result<()> {
        let effects = self.session.close(DocId::Room(room));
        self.run(effects).await
    }

    /// Sends an update the local replica produced, with an acknowledgement number; it stays
    /// in the outbox until the server answers for it.
    pub async fn send_update(&mut self, room: RoomId, update: Vec<u8>) -> Result<u64> {
        let (ack, effects) = self.session.write(DocId::Room(room), update, None);
        self.run(effects).await?;
        Ok(ack)
    }

    /// The ack numbers still in the outbox (sent, neither saved nor refused).
    pub fn unanswered(&self) -> Vec<u64> {
        self.session.pending().map(|(ack, _)| ack).collect()
    }

    /// Sends the whole outbox again, one merged update per room under its highest ack, as
    /// the app does after each reconnect. Returns the acks sent.
    pub async fn resend_outbox(&mut self) -> Result<Vec<u64>> {
        let mut sent = Vec::new();
        for (ack, frame) in self.session.resend() {
            self.send_frame(&frame).await?;
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
                        doc,
                    } if *a == ack => {
                        // The session restarts a document after a refusal (a fresh client
                        // id, the server's state again): the verdict is complete once that
                        // state is back, as a user would see it.
                        let (doc, reason) = (*doc, reason.clone());
                        while self.session.is_open(doc) && !self.session.is_synced(doc) {
                            self.pump_until(deadline).await?;
                        }
                        return Ok(Err(reason));
                    }
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

    /// [`write`](Self::write) for an update that writes `post`, named as the app names it
    /// (for its 送信待ち badge, and its own room list's news once saved).
    pub async fn write_post(&mut self, room: RoomId, post: &PostId, update: Vec<u8>) -> Result<()> {
        let (ack, effects) = self
            .session
            .write(DocId::Room(room), update, Some(post.to_string()));
        self.run(effects).await?;
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
        self.wait_in(|c| &mut c.events, pred).await
    }

    /// Waits for the room list's next news matching `pred` (see [`SyncClient::news`]).
    pub async fn wait_news(&mut self, pred: impl Fn(&Frame) -> bool) -> Result<Frame> {
        self.wait_in(|c| &mut c.news, pred).await
    }

    /// Handles frames until `list` holds one matching `pred`, and takes it out.
    async fn wait_in(
        &mut self,
        list: fn(&mut SyncClient) -> &mut Vec<Frame>,
        pred: impl Fn(&Frame) -> bool,
    ) -> Result<Frame> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(i) = list(self).iter().position(&pred) {
                return Ok(list(self).remove(i));
            }
            self.pump_until(deadline).await?;
        }
    }

    /// Reads and handles one frame, failing at the deadline.
    async fn pump_until(&mut self, deadline: tokio::time::Instant) -> Result<()> {
        let ws = self.ws.as_mut().context("offline")?;
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("timed out"))?;
        match msg {
            Some(Ok(WsMessage::Binary(bytes))) => self.handle(&bytes).await,
            Some(Ok(WsMessage::Close(frame))) => {
                self.closed = true;
                self.close_frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                let close = self.close_frame.as_ref().map(|(c, r)| (*c, r.as_str()));
                self.session.disconnected(close);
                bail!("connection closed")
            }
            None => {
                self.closed = true;
                self.session.disconnected(None);
                bail!("connection closed")
            }
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                self.closed = true;
                self.session.disconnected(None);
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

    /// Handles whatever arrives during `d` (however busy the socket), then returns whether
    /// the socket is still open: a streaming writer's pause between two posts.
    pub async fn handle_for(&mut self, d: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        while self.pump_until(deadline).await.is_ok() {}
        self.is_online()
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
        if !matches!(frame, Frame::Sync { .. }) {
            self.events.push(frame.clone());
        }
        let effects = self.session.handle_frame(frame)?;
        self.run(effects).await
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
