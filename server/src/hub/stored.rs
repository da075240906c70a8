//! Opening a document from storage: its bytes are read, then applied on a blocking thread
//! (a 10,000-post room takes tens of milliseconds to apply and index), and meanwhile the
//! clients that ask with nothing (a first open, a cleared app) are answered from the stored
//! bytes as they are. Everything else that reaches the room waits for the applied document.
//!
//! The whole document as stored is exactly what such a client lacks: the snapshot is the
//! document's full state (`ServerDoc::encode_state`), and the log after it is the rest.

use super::conn::{ConnId, Peer, Wire};
use super::room::RoomCmd;
use crate::db::Db;
use axum::body::Bytes;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::decoder::Decode;
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, ServerDoc};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tokio::sync::mpsc;

/// Log rows after the snapshot up to which a client with nothing is answered from storage:
/// merging more costs about what applying them does.
const EARLY_ROWS: usize = 64;

/// Commands held while the document applies; past this the queue is left to wait.
const HELD: usize = 256;

/// A document as storage holds it.
pub struct Stored {
    pub snapshot: Option<(Vec<u8>, i64)>,
    pub tail: Vec<(i64, Vec<u8>)>,
}

/// A document applied from storage.
pub struct Loaded {
    pub doc: ServerDoc,
    /// Log rows after the snapshot.
    pub log_len: usize,
    pub last_seq: i64,
}

impl Stored {
    pub async fn read(db: &Db, key: &str) -> anyhow::Result<Stored> {
        let (snapshot, tail) = db.load_doc(key).await?;
        Ok(Stored { snapshot, tail })
    }

    /// Applies the snapshot, then the log after it.
    pub fn apply(self, id: DocId) -> anyhow::Result<Loaded> {
        let key = id.storage_key();
        let mut doc = ServerDoc::new(id);
        let mut last_seq = 0;
        if let Some((state, up_to)) = &self.snapshot {
            doc.load(state)
                .map_err(|e| anyhow::anyhow!("snapshot of {key} does not load: {e}"))?;
            last_seq = *up_to;
        }
        for (seq, update) in &self.tail {
            doc.load(update)
                .map_err(|e| anyhow::anyhow!("update {seq} of {key} does not load: {e}"))?;
            last_seq = *seq;
        }
        Ok(Loaded {
            doc,
            log_len: self.tail.len(),
            last_seq,
        })
    }

    /// The sync step 2 that brings a client with nothing the whole document: the snapshot,
    /// merged with the log after it (without applying either). `None` when the log is long
    /// or does not merge: the applied document answers then.
    fn whole(&self) -> Option<Bytes> {
        if self.tail.len() > EARLY_ROWS {
            return None;
        }
        let state = match (&self.snapshot, self.tail.as_slice()) {
            (Some((state, _)), []) => state.clone(),
            (None, []) => renraku_sync::yrs::Update::default().encode_v1(),
            (snapshot, tail) => {
                let parts = snapshot
                    .iter()
                    .map(|(state, _)| state.as_slice())
                    .chain(tail.iter().map(|(_, row)| row.as_slice()));
                renraku_sync::yrs::merge_updates_v1(parts).ok()?
            }
        };
        Some(
            Message::Sync(SyncMessage::SyncStep2(state))
                .encode_v1()
                .into(),
        )
    }
}

/// What happened while the document applied.
pub struct Waited {
    pub loaded: anyhow::Result<Loaded>,
    /// Peers that joined meanwhile, in order: they join the room before anything held runs,
    /// so that whatever it then broadcasts reaches them.
    pub joined: Vec<Peer>,
    /// Everything else, in the order it came.
    pub held: Vec<RoomCmd>,
    /// The answer to a client with nothing, as a plain y-protocols message: the room's step 2
    /// cache starts with it.
    pub whole: Option<Bytes>,
    /// False when the hub is gone (the queue closed).
    pub open: bool,
}

/// Applies `stored` on a blocking thread, answering from its bytes meanwhile.
pub async fn apply_serving(id: DocId, stored: Stored, rx: &mut mpsc::Receiver<RoomCmd>) -> Waited {
    let whole = stored.whole();
    let mut loading = tokio::task::spawn_blocking(move || stored.apply(id));
    let mut early = Early {
        doc: id,
        plain: whole,
        framed: None,
        joined: Vec::new(),
        held: Vec::new(),
    };
    let mut open = true;
    let loaded = loop {
        tokio::select! {
            biased;
            applied = &mut loading => break applied.unwrap_or_else(|e| Err(anyhow::anyhow!("loading panicked: {e}"))),
            cmd = rx.recv(), if open && early.held.len() < HELD => match cmd {
                Some(cmd) => early.take(cmd),
                None => open = false,
            },
        }
    };
    Waited {
        loaded,
        joined: early.joined,
        held: early.held,
        whole: early.plain,
        open,
    }
}

struct Early {
    doc: DocId,
    /// The whole document as a y-protocols message (`None`: not answered early).
    plain: Option<Bytes>,
    /// The same as a `/ws` frame, made for the first such client.
    framed: Option<Bytes>,
    joined: Vec<Peer>,
    held: Vec<RoomCmd>,
}

impl Early {
    fn take(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join(peer) => {
                self.joined.retain(|p| p.conn != peer.conn);
                self.joined.push(*peer);
            }
            RoomCmd::Leave(conn) if self.joined.iter().any(|p| p.conn == conn) => {
                self.joined.retain(|p| p.conn != conn);
            }
            RoomCmd::Message(inbound) if self.answers(inbound.conn, &inbound.message) => {
                if let Some(peer) = self.joined.iter().find(|p| p.conn == inbound.conn).cloned() {
                    if let Some(bytes) = self.answer(peer.wire) {
                        peer.send(&bytes);
                    }
                }
            }
            cmd => self.held.push(cmd),
        }
    }

    /// Whether `message` from `conn` is a sync step 1 from a client with nothing, which the
    /// stored bytes answer: from a joined, live peer with nothing of its own held before it
    /// (its messages keep their order).
    fn answers(&self, conn: ConnId, message: &[u8]) -> bool {
        if self.plain.is_none() {
            return false;
        }
        if !self.joined.iter().any(|p| p.conn == conn && p.alive.get()) {
            return false;
        }
        if self
            .held
            .iter()
            .any(|cmd| matches!(cmd, RoomCmd::Message(inbound) if inbound.conn == conn))
        {
            return false;
        }
        // Hostile bytes may make the decoder panic; those are refused later, by the room.
        matches!(
            catch_unwind(AssertUnwindSafe(|| Message::decode_v1(message))),
            Ok(Ok(Message::Sync(SyncMessage::SyncStep1(sv)))) if sv.is_empty()
        )
    }

    fn answer(&mut self, wire: Wire) -> Option<Bytes> {
        let plain = self.plain.as_ref()?;
        match wire {
            Wire::YWebsocket => Some(plain.clone()),
            Wire::Frames => {
                let doc = self.doc;
                let framed = self.framed.get_or_insert_with(|| {
                    Frame::Sync {
                        doc,
                        ack: None,
                        message: plain.to_vec(),
                    }
                    .encode()
                    .into()
                });
                Some(framed.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::Kick;
    use super::super::live::Alive;
    use super::super::outbox::{outbox, Next, OutboxRx};
    use super::super::room::Inbound;
    use super::*;
    use renraku_sync::{PostId, RoomDoc, RoomId, UserId};
    use std::sync::Arc;

    const AUTHOR: UserId = UserId::new(7);

    fn post(doc: &RoomDoc, i: usize) -> Vec<u8> {
        let id = PostId::parse(&format!("01J{i:0>23}")).expect("post id");
        doc.start_thread(AUTHOR, id, &format!("post {i}"), 1_700_000_000_000)
    }

    /// Ten posts in a snapshot, then `tail` more as log rows.
    fn stored(tail: usize) -> (Stored, RoomDoc) {
        let doc = RoomDoc::new(1001);
        let rows: Vec<Vec<u8>> = (0..10 + tail).map(|i| post(&doc, i)).collect();
        let snapshot = RoomDoc::new(1);
        for row in &rows[..10] {
            snapshot.apply_update(row).unwrap();
        }
        let stored = Stored {
            snapshot: Some((snapshot.encode_state(), 10)),
            tail: (11..).zip(rows[10..].iter().cloned()).collect(),
        };
        (stored, doc)
    }

    fn step2_of(message: &[u8]) -> Vec<u8> {
        match Message::decode_v1(message).unwrap() {
            Message::Sync(SyncMessage::SyncStep2(update)) => update,
            other => panic!("not a sync step 2: {other:?}"),
        }
    }

    #[test]
    fn the_early_answer_is_the_whole_document_snapshot_and_log_alike() {
        for tail in [0, 3] {
            let (stored, written) = stored(tail);
            let whole = stored.whole().expect("answered early");
            let client = RoomDoc::new(2002);
            client.apply_update(&step2_of(&whole)).unwrap();
            assert_eq!(client.posts().len(), 10 + tail);
            assert_eq!(client.state_vector(), written.state_vector());
            let id = DocId::Room(RoomId::new(1));
            let applied = stored.apply(id).unwrap();
            assert_eq!(applied.doc.state_vector(), written.state_vector());
            assert_eq!(
                (applied.log_len, applied.last_seq),
                (tail, 10 + tail as i64)
            );
        }
        let (long, _) = stored(EARLY_ROWS + 1);
        assert!(
            long.whole().is_none(),
            "a long log is answered by the applied document"
        );
    }

    fn peer(conn: u64, wire: Wire) -> (Peer, OutboxRx) {
        let (tx, rx) = outbox(64 << 20);
        let peer = Peer {
            conn: ConnId(conn),
            wire,
            outbox: tx,
            kick: Arc::new(Kick::default()),
            alive: Alive::new(),
        };
        (peer, rx)
    }

    fn step1(sv: renraku_sync::yrs::StateVector, conn: u64) -> RoomCmd {
        RoomCmd::Message(Box::new(Inbound {
            conn: ConnId(conn),
            user: UserId::new(2),
            ack: None,
            message: Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1(),
        }))
    }

    fn sent(rx: &mut OutboxRx) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(Next::Frame(bytes)) = rx.try_next() {
            out.push(bytes);
        }
        out
    }

    #[test]
    fn only_a_joined_client_with_nothing_is_answered_before_the_document_applies() {
        let (stored, written) = stored(2);
        let doc = DocId::Room(RoomId::new(1));
        let mut early = Early {
            doc,
            plain: stored.whole(),
            framed: None,
            joined: Vec::new(),
            held: Vec::new(),
        };
        let (plain, mut plain_rx) = peer(1, Wire::YWebsocket);
        let (framed, mut framed_rx) = peer(2, Wire::Frames);
        let (stale, mut stale_rx) = peer(3, Wire::Frames);
        let empty = renraku_sync::yrs::StateVector::default;

        // Not joined yet: held for the room, in order.
        early.take(step1(empty(), 1));
        assert_eq!(early.held.len(), 1);
        early.take(RoomCmd::Join(Box::new(plain)));
        early.take(RoomCmd::Join(Box::new(framed)));
        early.take(RoomCmd::Join(Box::new(stale)));
        // Its step 1 came before it joined, so its later one waits its turn too.
        early.take(step1(empty(), 1));
        assert!(sent(&mut plain_rx).is_empty());
        early.take(step1(empty(), 2));
        let to_framed = sent(&mut framed_rx);
        assert_eq!(to_framed.len(), 1);
        let Frame::Sync {
            doc: got, message, ..
        } = Frame::decode(&to_framed[0]).unwrap()
        else {
            panic!("not a sync frame");
        };
        assert_eq!(got, doc);
        let client = RoomDoc::new(2002);
        client.apply_update(&step2_of(&message)).unwrap();
        assert_eq!(client.state_vector(), written.state_vector());
        // A client that has part of the document needs the applied one to say what it lacks.
        early.take(step1(written.state_vector(), 3));
        assert!(sent(&mut stale_rx).is_empty());
        assert_eq!(early.held.len(), 3);
        // A peer that left is not joined when the room starts.
        early.take(RoomCmd::Leave(ConnId(2)));
        let joined: Vec<u64> = early.joined.iter().map(|p| p.conn.0).collect();
        assert_eq!(joined, vec![1, 3]);
    }
}
