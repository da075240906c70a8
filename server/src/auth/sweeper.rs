//! Idle and absolute expiry have no request to notice them: this task ends expired sessions
//! that still have sockets open (and sessions ended elsewhere — by the CLI or on another
//! node — whose sockets are here), and periodically forgets expired sessions, room tokens,
//! passkey ceremonies and sign-in failure counters. It runs on the state's clock: tests
//! move a manual clock and the sweeper looks at once.

use super::session_end::{deadline, end_session, ended_by_time};
use crate::db::sessions::{SessionId, SessionTimes};
use crate::AppState;
use renraku_sync::SessionEnd;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tracing::{info, warn};

/// How often the sessions of open sockets are looked at: an expired session's sockets close
/// within this (plus a query). A look reads one row unless a session was ended or a known
/// deadline came (see [`Sweep`]), only while sockets are open.
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
        let mut sweep = Sweep::default();
        loop {
            let also_purge = tokio::select! {
                _ = check.tick() => false,
                _ = purge.tick() => true,
                // A test moved the clock: everything is due now.
                _ = state.clock.moved() => true,
            };
            let live = state.hub.connected_sessions();
            if let Err(e) = sweep.look(&state, &live).await {
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

/// Ends the sessions with open sockets here whose time is up or whose row is gone, looking
/// at every one of them; how many.
pub async fn end_expired(state: &AppState) -> crate::Result<usize> {
    let live = state.hub.connected_sessions();
    Ok(Sweep::default().look(state, &live).await?.ended)
}

/// What the sweeper knows between looks: when each open socket's session ends unless it
/// is used (its deadline, which only moves later), and the database's count of sessions
/// deleted or shortened (`Db::session_ends`) when it last looked at them all. A look at
/// thousands of sessions twice a second cost more than the posts did (bench/HISTORY.md);
/// now a quiet look reads one row.
#[derive(Default)]
pub struct Sweep {
    deadlines: HashMap<SessionId, i64>,
    ends_seen: Option<i64>,
}

/// What one look did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Looked {
    /// Sessions whose times were read.
    pub read: usize,
    /// Sessions ended.
    pub ended: usize,
}

impl Sweep {
    /// Ends those of `live` (the sessions of open sockets, each once) whose time is up or
    /// whose row is gone. Read and judged (by [`ended_by_time`]): the sessions with no known
    /// deadline or one that has come — all of them when the database's count of ends moved.
    pub async fn look(&mut self, state: &AppState, live: &[SessionId]) -> crate::Result<Looked> {
        let live_set: HashSet<&SessionId> = live.iter().collect();
        self.deadlines.retain(|id, _| live_set.contains(id));
        if live.is_empty() {
            return Ok(Looked::default());
        }
        // Read before the sessions: an end after this read moves it again for the next look.
        let ends = state.db.session_ends().await?;
        if self.ends_seen != Some(ends) {
            // A session was deleted or its time shortened somewhere: what is known may be
            // wrong for any of them.
            self.deadlines.clear();
        }
        let now = state.clock.now_ms();
        let ask: Vec<SessionId> = live
            .iter()
            .filter(|id| self.deadlines.get(*id).is_none_or(|&d| d <= now))
            .cloned()
            .collect();
        let found: HashMap<SessionId, SessionTimes> = if ask.is_empty() {
            HashMap::new()
        } else {
            state
                .db
                .session_times(&ask)
                .await?
                .into_iter()
                .map(|times| (times.id.clone(), times))
                .collect()
        };
        let mut ended = 0;
        for id in &ask {
            let why = match found.get(id) {
                None => SessionEnd::Ended,
                Some(times) => match ended_by_time(state, times, now) {
                    Some(why) => why,
                    None => {
                        self.deadlines.insert(id.clone(), deadline(state, times));
                        continue;
                    }
                },
            };
            self.deadlines.remove(id);
            end_session(state, id, why).await?;
            ended += 1;
        }
        // Only once every session it covers was judged: a failure above looks again.
        self.ends_seen = Some(ends);
        Ok(Looked {
            read: ask.len(),
            ended,
        })
    }
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
