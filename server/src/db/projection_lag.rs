//! How far the posts projection trails the acknowledged log, where it follows the log
//! ([`super::Backend::projects_after_commit`]): the hub's writer counts the commits whose
//! projection it holds back and those whose projection it has written, and a reader of the
//! projection (room lists, search, acknowledgements and their scheduler, statistics) first waits
//! for what was acknowledged before it began. A user who saw their post saved finds it in
//! every list at once; nobody waits when nothing is held back, the usual case of a read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a reader waits for the projection before it reads what is there: only a writer
/// that keeps failing to write it takes this long, and a list a moment stale beats a hang.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Default)]
pub struct ProjectionLag(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Commits whose projection the writer holds, counted since start (set before their
    /// acknowledgements go out).
    held: AtomicU64,
    /// Of those, how many are projected (set after the projection's commit).
    written: AtomicU64,
    /// A reader asks the writer to project now rather than at its next tick.
    wanted: Notify,
    caught_up: Notify,
}

impl ProjectionLag {
    /// The writer: `count` commits (since start) have had their projection held back.
    pub fn held(&self, count: u64) {
        self.0.held.store(count, Ordering::Release);
    }

    /// The writer: the projection of the first `count` commits is committed.
    pub fn written(&self, count: u64) {
        self.0.written.store(count, Ordering::Release);
        self.0.caught_up.notify_waiters();
    }

    /// The writer: resolves when a reader waits for the projection.
    pub async fn wanted(&self) {
        self.0.wanted.notified().await;
    }

    /// Whether some acknowledged commit's projection is not written yet.
    pub fn is_behind(&self) -> bool {
        self.0.written.load(Ordering::Acquire) < self.0.held.load(Ordering::Acquire)
    }

    /// Returns once everything acknowledged before the call is projected (or after
    /// [`SETTLE_WITHIN`], with a warning).
    pub async fn settle(&self) {
        let want = self.0.held.load(Ordering::Acquire);
        if self.0.written.load(Ordering::Acquire) >= want {
            return;
        }
        let caught_up = async {
            loop {
                let notified = self.0.caught_up.notified();
                tokio::pin!(notified);
                // Registered before looking, so a write between the look and the wait wakes it.
                notified.as_mut().enable();
                if self.0.written.load(Ordering::Acquire) >= want {
                    return;
                }
                self.0.wanted.notify_one();
                notified.await;
            }
        };
        if tokio::time::timeout(SETTLE_WITHIN, caught_up)
            .await
            .is_err()
        {
            tracing::warn!("the posts projection is behind the log; reading it as it is");
        }
    }
}
