//! What waits to be sent to one connection, bounded in frames and in bytes.
//!
//! Rooms never wait for a connection: they queue and move on. A client that stops reading
//! would otherwise make its queue grow without end (one request for a large room's state
//! queues megabytes); past the byte bound it is disconnected instead, and resyncs when it
//! comes back. A frame is queued while the bytes waiting are under the bound, whatever its
//! own size, so a room larger than the bound can still be opened: what waits is at most the
//! bound plus one frame.

use axum::body::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Frames queued for one connection before it counts as too slow.
const OUTBOX_FRAMES: usize = 1024;

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client is not keeping up: over the frame or byte bound.
    Full,
    /// The connection is gone.
    Closed,
}

/// The sending side, held by rooms (through `Peer`).
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Bytes>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The receiving side, held by the connection.
pub struct OutboxRx {
    rx: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicUsize>,
}

pub fn outbox(max_bytes: usize) -> (Outbox, OutboxRx) {
    let (tx, rx) = mpsc::channel(OUTBOX_FRAMES);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            tx,
            queued: queued.clone(),
            max_bytes,
        },
        OutboxRx { rx, queued },
    )
}

impl Outbox {
    /// Queues `bytes` without waiting.
    pub fn push(&self, bytes: &Bytes) -> Result<(), Refused> {
        let len = bytes.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before >= self.max_bytes {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        match self.tx.try_send(bytes.clone()) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => Refused::Full,
                    mpsc::error::TrySendError::Closed(_) => Refused::Closed,
                })
            }
        }
    }
}

impl OutboxRx {
    /// The next frame. It counts against the bound until [`OutboxRx::sent`]: while it sits
    /// in the socket's buffers it still holds memory.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    /// A frame from [`OutboxRx::recv`] has left (or been given up with the connection).
    pub fn sent(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_are_bounded_but_a_large_frame_still_passes() {
        let (tx, mut rx) = outbox(100);
        let big = Bytes::from(vec![1; 250]);
        let small = Bytes::from(vec![2; 10]);
        assert_eq!(tx.push(&small), Ok(()));
        assert_eq!(
            tx.push(&big),
            Ok(()),
            "under the bound, a frame over it is queued"
        );
        assert_eq!(
            tx.push(&small),
            Err(Refused::Full),
            "nothing more while it waits"
        );
        let first = rx.recv().await.unwrap();
        let second = rx.recv().await.unwrap();
        rx.sent(first.len());
        assert_eq!(
            tx.push(&small),
            Err(Refused::Full),
            "still in the socket's buffers"
        );
        rx.sent(second.len());
        for _ in 0..10 {
            assert_eq!(tx.push(&small), Ok(()));
        }
        assert_eq!(
            tx.push(&small),
            Err(Refused::Full),
            "100 bytes wait already"
        );
        drop(rx);
        let (tx, rx) = outbox(100);
        drop(rx);
        assert_eq!(tx.push(&small), Err(Refused::Closed));
    }
}
