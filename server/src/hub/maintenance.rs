//! Maintenance reaches sockets that are already open. The HTTP guard refuses new requests
//! and connections while a window is open, but a phone connected before the window started
//! would go on writing into a system under maintenance; this watcher closes members'
//! sockets in the affected municipalities as a window opens. Administrators keep theirs:
//! they are the ones doing the maintenance.

use crate::db::users::Role;
use crate::AppState;
use std::time::Duration;

/// How often open windows are looked up: one indexed query per tick, and only while
/// someone is connected.
const TICK: Duration = Duration::from_millis(500);

/// Why the socket closed, in its close frame (the app reconnects and then meets the
/// maintenance page).
pub(super) const REASON: &str = "maintenance";

/// Stops the watcher when the server stops.
pub struct WatcherGuard(tokio::task::JoinHandle<()>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn spawn_watcher(state: AppState) -> WatcherGuard {
    WatcherGuard(tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "maintenance watcher");
            }
        }
    }))
}

/// Closes the sockets of members whose municipality (or the whole system) is under
/// maintenance now; returns how many were told to close.
async fn sweep(state: &AppState) -> crate::Result<usize> {
    let users = state.hub.connected_users();
    if users.is_empty() {
        return Ok(0);
    }
    let windows = state.db.open_maintenance_windows().await?;
    if windows.is_empty() {
        return Ok(0);
    }
    let system_wide = windows.iter().any(|w| w.municipality.is_none());
    let mut closed = 0;
    for user in users {
        let Some(profile) = state.db.user(user).await? else {
            continue;
        };
        let affected = system_wide
            || windows
                .iter()
                .any(|w| w.municipality == Some(profile.municipality));
        if affected && profile.role == Role::Member {
            closed += state.hub.disconnect_user_for(user, REASON);
        }
    }
    if closed > 0 {
        tracing::info!(sockets = closed, "closed for maintenance");
    }
    Ok(closed)
}
