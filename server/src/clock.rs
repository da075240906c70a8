//! The time sessions and room tokens live by. The system clock in production; tests drive a
//! manual one forward, so idle and absolute expiry are tested without waiting for them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Unix milliseconds for session and room-token lifetimes. Cheap to clone; clones share the
/// time of a manual clock.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

struct Manual {
    now_ms: AtomicI64,
    /// Woken when the time is moved, so the session sweeper looks at once.
    moved: Notify,
    /// The time after each move, for every other task that lives by the clock (the
    /// acknowledgement scheduler): each subscriber sees every move.
    moves: watch::Sender<i64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands still at `now_ms` until [`Clock::advance`] moves it.
    pub fn manual(now_ms: i64) -> Clock {
        Clock(Some(Arc::new(Manual {
            now_ms: AtomicI64::new(now_ms),
            moved: Notify::new(),
            moves: watch::Sender::new(now_ms),
        })))
    }

    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => crate::db::now_ms(),
            Some(manual) => manual.now_ms.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward (the system clock moves by itself: no-op).
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.0 {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            let now = manual
                .now_ms
                .fetch_add(ms, Ordering::SeqCst)
                .saturating_add(ms);
            // A permit is kept if the sweeper is busy: it looks again right after.
            manual.moved.notify_one();
            manual.moves.send_replace(now);
        }
    }

    /// Resolves when a manual clock is moved; never for the system clock.
    pub async fn moved(&self) {
        match &self.0 {
            Some(manual) => manual.moved.notified().await,
            None => std::future::pending().await,
        }
    }
}

impl Clock {
    /// A receiver that sees every move of a manual clock; `None` for the system clock.
    pub fn moves(&self) -> Option<watch::Receiver<i64>> {
        self.0.as_ref().map(|m| m.moves.subscribe())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::System"),
            Some(_) => write!(f, "Clock::Manual({})", self.now_ms()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        clone.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
    }
}
