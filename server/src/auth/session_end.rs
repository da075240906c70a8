//! The one way a session ends: its row goes (and with it, by foreign key, its room tokens and
//! push subscriptions), and every socket it opened on this node closes with the reason — both
//! `/ws` and the `/yjs/{room}` sockets opened with its room tokens. Every path (sign-out,
//! revocation, a password change, a new second factor, expiry, disabling) comes through here.

use crate::db::sessions::{SessionId, SessionTimes, Touch};
use crate::error::Result;
use crate::AppState;
use renraku_sync::{SessionEnd, UserId};
use tracing::info;

/// Ends one session; false if it had already ended (its sockets are closed all the same).
pub async fn end_session(state: &AppState, id: &SessionId, why: SessionEnd) -> Result<bool> {
    // The sockets are told first, with the reason: once the row is gone, the sweeper can
    // find it missing and close them itself, with a vaguer one ("deleted elsewhere").
    let told = state.hub.end_session(id, why);
    // Then deleted, and told again: a socket being registered meanwhile re-checks its
    // session after registering (`Connection::run`), so it either sees the row gone or is
    // closed here (sockets already told are not told twice).
    let existed = state.db.delete_session(id).await?;
    let sockets = told + state.hub.end_session(id, why);
    info!(session = %id, reason = %why, sockets, "session ended");
    Ok(existed)
}

/// Ends every session of `user` but `keep` (a password or second-factor change); how many.
pub async fn end_other_sessions(
    state: &AppState,
    user: UserId,
    keep: Option<&SessionId>,
    why: SessionEnd,
) -> Result<usize> {
    let ended = state.db.revoke_other_sessions(user, keep).await?;
    let sockets: usize = ended.iter().map(|id| state.hub.end_session(id, why)).sum();
    info!(user.id = %user, sessions = ended.len(), reason = %why, sockets, "sessions ended");
    Ok(ended.len())
}

/// Ends one of `user`'s sessions by its public id (from another device); false if they have
/// no such session.
pub async fn revoke_session(state: &AppState, user: UserId, id: &SessionId) -> Result<bool> {
    if !state.db.revoke_session(user, id).await? {
        return Ok(false);
    }
    state.hub.end_session(id, SessionEnd::Revoked);
    Ok(true)
}

/// A use of the session now, a request or a write on one of its sockets: it keeps the
/// session from idling out while someone is working (see [`Touch`]).
pub fn touch(state: &AppState, id: &SessionId) -> Touch {
    let now = state.clock.now_ms();
    let idle = super::millis(state.config.session_idle());
    Touch {
        session: id.clone(),
        at: now,
        idle_before: now.saturating_sub(idle),
    }
}

/// Whether the session's time is up at `now`, and how: its absolute end, or idleness.
pub fn ended_by_time(state: &AppState, times: &SessionTimes, now: i64) -> Option<SessionEnd> {
    let idle = super::millis(state.config.session_idle());
    if now >= times.expires_at {
        Some(SessionEnd::Expired)
    } else if now >= times.last_seen_at.saturating_add(idle) {
        Some(SessionEnd::IdleTimeout)
    } else {
        None
    }
}

/// When the session's time will be up unless it is used meanwhile: the earlier of its
/// absolute end and its idle end.
pub fn deadline(state: &AppState, times: &SessionTimes) -> i64 {
    let idle = super::millis(state.config.session_idle());
    times
        .expires_at
        .min(times.last_seen_at.saturating_add(idle))
}

/// Ends the session if its time is up or it is gone; otherwise its current deadline (see
/// [`deadline`]). For sockets, which ask only once their last known deadline has passed.
pub async fn end_if_over(
    state: &AppState,
    id: &SessionId,
) -> Result<std::result::Result<i64, SessionEnd>> {
    let found = state.db.session_times(std::slice::from_ref(id)).await?;
    let why = match found.first() {
        // Already ended by someone else (the sweeper, a sign-out, another process): whoever
        // deleted the row closes the sockets with the real reason, or the sweeper does for a
        // row deleted elsewhere. Closing here too would race them with a vaguer reason.
        None => return Ok(Err(SessionEnd::Ended)),
        Some(times) => match ended_by_time(state, times, state.clock.now_ms()) {
            None => return Ok(Ok(deadline(state, times))),
            Some(why) => why,
        },
    };
    end_session(state, id, why).await?;
    Ok(Err(why))
}

/// Why the session is no longer live (`None` while it is): gone, or its time is up.
pub async fn session_state(state: &AppState, id: &SessionId) -> Result<Option<SessionEnd>> {
    let found = state.db.session_times(std::slice::from_ref(id)).await?;
    Ok(match found.first() {
        None => Some(SessionEnd::Ended),
        Some(times) => ended_by_time(state, times, state.clock.now_ms()),
    })
}
