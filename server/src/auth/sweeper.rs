//! Idle and absolute expiry have no request to notice them: this task ends expired sessions
//! that still have sockets open (and sessions ended elsewhere — by the CLI or on another
//! node — whose sockets are here), and periodically forgets expired sessions, room tokens,
//! passkey ceremonies and sign-in failure counters. It runs on the state's clock: tests move a manual clock and the
//! sweeper looks at once.

use super::session_end::{end_session, ended_by_time};
use crate::db::sessions::{SessionId, SessionTimes};
use crate::AppState;
use renraku_sync::SessionEnd;
use std::collections::HashMap;
use std::time::Duration;
use tracing::{info, warn};

/// How often the sessions of open sockets are looked up: an expired session's sockets close
/// within this (plus a query). One counting query per 256 sessions, only while sockets are
/// open; the sessions of a list that counts short are then read.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How often expired rows are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Stops the sweeper when the server stops.
pub struct SweeperGuard(tokio::task::JoinHandle<()>);

impl Drop for SweeperGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn spawn(state: AppState) -> SweeperGuard {
    SweeperGuard(tokio::spawn(async move {
        let mut check = tokio::time::interval(CHECK_EVERY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let also_purge = tokio::select! {
                _ = check.tick() => false,
                _ = purge.tick() => true,
                // A test moved the clock: everything is due now.
                _ = state.clock.moved() => true,
            };
            if let Err(e) = end_expired(&state).await {
                warn!(error = %e, "ending expired sessions failed");
            }
            if also_purge {
                if let Err(e) = purge_expired(&state).await {
                    warn!(error = %e, "purging expired sessions failed");
                }
            }
        }
    }))
}

/// Ends the sessions with open sockets here whose time is up or whose row is gone; how
/// many. Only the sessions of lists the database does not count as all live are read and
/// judged (by [`ended_by_time`]): with thousands of sockets open, reading and comparing
/// every session twice a second cost more than the posts did.
pub async fn end_expired(state: &AppState) -> crate::Result<usize> {
    let live = state.hub.connected_sessions();
    if live.is_empty() {
        return Ok(0);
    }
    let now = state.clock.now_ms();
    let idle = super::millis(state.config.session_idle());
    let suspects = state
        .db
        .sessions_maybe_ended(&live, now, now.saturating_sub(idle))
        .await?;
    if suspects.is_empty() {
        return Ok(0);
    }
    let found: HashMap<SessionId, SessionTimes> = state
        .db
        .session_times(&suspects)
        .await?
        .into_iter()
        .map(|times| (times.id.clone(), times))
        .collect();
    let mut ended = 0;
    for id in &suspects {
        let why = match found.get(id) {
            None => SessionEnd::Ended,
            Some(times) => match ended_by_time(state, times, now) {
                Some(why) => why,
                None => continue,
            },
        };
        end_session(state, id, why).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Forgets expired sessions, room tokens, passkey ceremonies and sign-in failure counters;
/// closes any socket of a forgotten session (none should be left after [`end_expired`]).
pub async fn purge_expired(state: &AppState) -> crate::Result<usize> {
    let now = state.clock.now_ms();
    let idle = super::millis(state.config.session_idle());
    let purged = state
        .db
        .purge_sessions(now, now.saturating_sub(idle))
        .await?;
    for id in &purged {
        state.hub.end_session(id, SessionEnd::Expired);
    }
    if !purged.is_empty() {
        info!(sessions = purged.len(), "expired sessions purged");
    }
    // Sign-in failure counters whose window is over: what bounds their table.
    state.throttle.sweep().await?;
    Ok(purged.len())
}
