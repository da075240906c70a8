//! What waits for one connection: frames to send, bounded in count and in bytes, and orders
//! from outside (`live.rs`), which go first.
//!
//! Rooms never wait for a connection: they queue and move on. A client that stops reading
//! would otherwise make its queue grow without end (one request for a large room's state
//! queues megabytes); past the byte bound it is disconnected instead, and resyncs when it
//! comes back. A frame is queued while the bytes waiting are under the bound, whatever its
//! own size, so a room larger than the bound can still be opened: what waits is at most the
//! bound plus one frame.
//!
//! One small queue under a lock rather than two channels: a tokio channel allocates a block
//! of slots and cache-padded counters up front (about 1.5 KiB each), which thousands of
//! idle connections pay for nothing. Here an idle connection holds one allocation of about
//! a hundred bytes, and the queue grows only while something waits.

use super::live::Control;
use axum::body::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

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

/// The sending side, held by rooms (through `Peer`) and by the live registry.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The receiving side, held by the connection.
pub struct OutboxRx {
    shared: Arc<Shared>,
}

/// What the connection is to do next.
#[derive(Debug)]
pub enum Next {
    Control(Control),
    Frame(Bytes),
}

struct Shared {
    max_bytes: usize,
    /// Woken on every push; a push with nobody waiting leaves a permit, so a wake between
    /// the receiver's look at the queue and its wait is never lost.
    ready: Notify,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    /// Bytes of the frames queued or being sent (see [`OutboxRx::sent`]).
    bytes: usize,
    control: VecDeque<Control>,
    closed: bool,
}

pub fn outbox(max_bytes: usize) -> (Outbox, OutboxRx) {
    let shared = Arc::new(Shared {
        max_bytes,
        ready: Notify::new(),
        queue: Mutex::new(Queue::default()),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        OutboxRx { shared },
    )
}

impl Outbox {
    /// Queues `bytes` without waiting.
    pub fn push(&self, bytes: &Bytes) -> Result<(), Refused> {
        {
            let mut q = self.shared.queue.lock().expect("outbox lock");
            if q.closed {
                return Err(Refused::Closed);
            }
            if q.bytes >= self.shared.max_bytes || q.frames.len() >= OUTBOX_FRAMES {
                return Err(Refused::Full);
            }
            q.bytes += bytes.len();
            q.frames.push_back(bytes.clone());
        }
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Queues an order ahead of every frame; false when the connection is gone.
    pub fn order(&self, control: Control) -> bool {
        {
            let mut q = self.shared.queue.lock().expect("outbox lock");
            if q.closed {
                return false;
            }
            q.control.push_back(control);
        }
        self.shared.ready.notify_one();
        true
    }
}

impl OutboxRx {
    /// The next order, else the next frame. A frame counts against the bound until
    /// [`OutboxRx::sent`]: while it sits in the socket's buffers it still holds memory.
    /// Cancel-safe: nothing is taken from the queue unless it is returned.
    pub async fn next(&mut self) -> Next {
        loop {
            {
                let mut q = self.shared.queue.lock().expect("outbox lock");
                if let Some(control) = q.control.pop_front() {
                    return Next::Control(control);
                }
                if let Some(frame) = q.frames.pop_front() {
                    if q.frames.is_empty() && q.frames.capacity() > 8 {
                        // A burst is over: its slots are not kept for an idle connection.
                        q.frames.shrink_to(8);
                    }
                    return Next::Frame(frame);
                }
            }
            self.shared.ready.notified().await;
        }
    }

    /// [`OutboxRx::next`] without waiting.
    #[cfg(test)]
    pub fn try_next(&mut self) -> Option<Next> {
        let mut q = self.shared.queue.lock().expect("outbox lock");
        match q.control.pop_front() {
            Some(control) => Some(Next::Control(control)),
            None => q.frames.pop_front().map(Next::Frame),
        }
    }

    /// A frame from [`OutboxRx::next`] has left (or been given up with the connection).
    pub fn sent(&self, len: usize) {
        let mut q = self.shared.queue.lock().expect("outbox lock");
        q.bytes = q.bytes.saturating_sub(len);
    }
}

impl Drop for OutboxRx {
    fn drop(&mut self) {
        let mut q = self.shared.queue.lock().expect("outbox lock");
        q.closed = true;
        // Rooms may hold the sending side a while longer: the frames go now.
        q.frames = VecDeque::new();
        q.control = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frame(rx: &mut OutboxRx) -> Bytes {
        match rx.next().await {
            Next::Frame(bytes) => bytes,
            Next::Control(c) => panic!("an order where a frame was expected: {c:?}"),
        }
    }

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
        let first = frame(&mut rx).await;
        let second = frame(&mut rx).await;
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
        assert_eq!(tx.push(&small), Err(Refused::Closed));
        assert!(!tx.order(Control::Disconnect { reason: "x" }));
    }

    #[tokio::test]
    async fn orders_overtake_frames_and_frames_keep_their_order() {
        let (tx, mut rx) = outbox(1 << 20);
        for i in 0..3u8 {
            tx.push(&Bytes::from(vec![i])).unwrap();
        }
        assert!(tx.order(Control::Disconnect {
            reason: "signed_out"
        }));
        assert!(matches!(
            rx.next().await,
            Next::Control(Control::Disconnect {
                reason: "signed_out"
            })
        ));
        for i in 0..3u8 {
            assert_eq!(frame(&mut rx).await, Bytes::from(vec![i]));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_receiver_is_woken_and_a_cancelled_wait_loses_nothing() {
        let (tx, mut rx) = outbox(1 << 20);
        // A wait given up (as a `select!` does when another branch wins) ...
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(10), rx.next()).await;
        assert!(gave_up.is_err());
        // ... leaves the frame pushed afterwards for the next wait.
        let waiting = tokio::spawn(async move { frame(&mut rx).await });
        tokio::task::yield_now().await;
        tx.push(&Bytes::from_static(b"hello")).unwrap();
        assert_eq!(waiting.await.unwrap(), Bytes::from_static(b"hello"));
    }

    #[tokio::test]
    async fn the_slots_of_a_burst_are_given_back_once_sent() {
        let (tx, mut rx) = outbox(1 << 20);
        for _ in 0..500 {
            tx.push(&Bytes::from_static(b"x")).unwrap();
        }
        for _ in 0..500 {
            let f = frame(&mut rx).await;
            rx.sent(f.len());
        }
        let q = rx.shared.queue.lock().unwrap();
        assert!(q.frames.capacity() <= 8, "{}", q.frames.capacity());
        assert_eq!(q.bytes, 0);
    }
}
