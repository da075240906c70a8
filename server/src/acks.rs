//! The acknowledgement scheduler (要確認): at a request's deadline, and once more
//! [`crate::db::acks::REMIND_AFTER_MS`] later, the people asked who have not acknowledged
//! get a push, and at the deadline the author is told who is missing
//! (`Db::fire_ack_request`). It lives by the state's clock: tests move a manual clock and
//! the scheduler looks at once, and [`Progress::reached`] tells them when it has.

use crate::AppState;
use std::time::Duration;
use tokio::sync::watch;
use tracing::warn;

/// How often the scheduler looks for due requests (deadlines are minutes apart, and a push
/// a few seconds late is on time).
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Passes over due requests in one look, at most (each pass takes up to a batch).
const MAX_PASSES: usize = 50;

/// The clock time up to which the scheduler has taken every due step.
#[derive(Clone, Debug)]
pub struct Progress(watch::Sender<i64>);

impl Default for Progress {
    fn default() -> Self {
        Progress(watch::Sender::new(i64::MIN))
    }
}

impl Progress {
    /// Resolves once the scheduler has looked at or after `now_ms` (by the state's clock).
    pub async fn reached(&self, now_ms: i64) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|done| *done >= now_ms).await;
    }
}

/// Stops the scheduler when the server stops.
pub struct SchedulerGuard(tokio::task::JoinHandle<()>);

impl Drop for SchedulerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn spawn(state: AppState) -> SchedulerGuard {
    SchedulerGuard(tokio::spawn(async move {
        let mut moves = state.clock.moves();
        loop {
            let now = state.clock.now_ms();
            match run_due(&state, now).await {
                Ok(_) => {
                    state.ack_progress.0.send_replace(now);
                }
                Err(e) => warn!(error = %e, "acknowledgement scheduler: a pass failed"),
            }
            let moved = async {
                match moves.as_mut() {
                    Some(rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(CHECK_EVERY) => {}
                _ = moved => {}
            }
        }
    }))
}

/// Takes every step due at `now`; returns the number of pushes queued.
pub async fn run_due(state: &AppState, now: i64) -> crate::Result<usize> {
    let mut pushes = 0;
    for _ in 0..MAX_PASSES {
        let due = state.db.due_ack_requests(now).await?;
        if due.is_empty() {
            break;
        }
        for request in &due {
            pushes += state.db.fire_ack_request(request, now).await?;
        }
    }
    Ok(pushes)
}
