//! The 要援護者名簿 (register) on the device: the last known list and overview of each register
//! I see, kept in the user's IndexedDB like every other API answer (`api::cached_get`), so
//! they open in a disaster with the network down, go with the rest of the user's data at
//! sign-out, and are hidden behind the app lock like every screen; and the safety marks made
//! here that the server has not stored yet (the mark outbox).
//!
//! A mark carries an id made here and the time it was made, so sending it again is harmless
//! (the server answers the stored mark) and a mark made offline an hour ago does not hide a
//! newer one when it finally arrives (`renraku_contract::apply_mark`).

use crate::api::{self, ApiError, ApiResult};
use crate::store::Store;
use renraku_contract::{
    apply_mark, NewSafetyMark, RegisterLink, RegisterPerson, RegisterPersonId, SafetyMark,
    SafetyStatus,
};
use renraku_sync::UserId;
use serde::{Deserialize, Serialize};

pub const REGISTERS_URL: &str = "/api/registers";
pub const TILES_URL: &str = "/api/tiles";

pub fn overview_url(slug: &str) -> String {
    format!("/api/register/{slug}")
}

pub fn people_url(slug: &str) -> String {
    format!("/api/register/{slug}/people")
}

fn outbox_key(slug: &str) -> String {
    format!("register-outbox/{slug}")
}

/// The registers I see (own and partners'), kept for offline.
pub async fn registers(store: &Store) -> ApiResult<Vec<RegisterLink>> {
    api::cached_get(store, REGISTERS_URL).await
}

/// A mark made on this device, waiting for the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingMark {
    pub person: RegisterPersonId,
    pub mark: NewSafetyMark,
    /// The server refused it for this reason (it will not take it however often it is sent);
    /// shown until the user dismisses it.
    #[serde(default)]
    pub refused: Option<String>,
}

impl PendingMark {
    /// The mark as the list shows it until the server's copy arrives.
    pub fn as_mark(&self, me: UserId, my_name: &str) -> SafetyMark {
        SafetyMark {
            id: self.mark.id.clone(),
            person: self.person,
            status: self.mark.status,
            note: self.mark.note.clone(),
            marked_at: self.mark.marked_at,
            by: me,
            by_name: my_name.to_owned(),
            received_at: 0,
        }
    }
}

pub async fn pending(store: &Store, slug: &str) -> Vec<PendingMark> {
    store
        .get_cache(&outbox_key(slug))
        .await
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

thread_local! {
    static OUTBOX_BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs one read-modify-write of the mark outbox at a time: its steps await IndexedDB, and a
/// mark queued between a flush's read and write must not be overwritten.
async fn exclusive<T>(f: impl std::future::Future<Output = T>) -> T {
    while OUTBOX_BUSY.with(|b| b.replace(true)) {
        crate::util::sleep_ms(10).await;
    }
    let out = f.await;
    OUTBOX_BUSY.with(|b| b.set(false));
    out
}

async fn save_pending(store: &Store, slug: &str, list: &[PendingMark]) {
    if list.is_empty() {
        store.delete_cache(&outbox_key(slug)).await;
    } else if let Ok(body) = serde_json::to_string(list) {
        store.put_cache(&outbox_key(slug), &body).await;
    }
}

/// A new mark, made now: kept on the device first (so a crash or a dead battery does not
/// lose it), then sent. Returns it.
pub async fn queue_mark(
    store: &Store,
    slug: &str,
    person: RegisterPersonId,
    status: SafetyStatus,
    note: String,
) -> PendingMark {
    let id = format!(
        "{:016x}{:016x}",
        crate::util::random_u64(),
        crate::util::random_u64()
    );
    let entry = PendingMark {
        person,
        mark: NewSafetyMark {
            id,
            status,
            note,
            marked_at: crate::clock::server_now_ms(),
        },
        refused: None,
    };
    exclusive(async {
        let mut list = pending(store, slug).await;
        list.push(entry.clone());
        save_pending(store, slug, &list).await;
    })
    .await;
    entry
}

/// Forgets a refused mark the user has seen.
pub async fn dismiss(store: &Store, slug: &str, id: &str) {
    exclusive(async {
        let mut list = pending(store, slug).await;
        list.retain(|p| p.mark.id != id);
        save_pending(store, slug, &list).await;
    })
    .await
}

/// What sending the outbox did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flushed {
    /// The server stored these (or had them already).
    pub stored: Vec<SafetyMark>,
    /// Still waiting: the network is down.
    pub waiting: usize,
    /// Refused now, with the server's reason.
    pub refused: Vec<(RegisterPersonId, String)>,
    /// The session ended.
    pub unauthorized: bool,
}

/// Sends every waiting mark, oldest first, until the network fails.
pub async fn flush(store: &Store, slug: &str) -> Flushed {
    exclusive(flush_now(store, slug)).await
}

async fn flush_now(store: &Store, slug: &str) -> Flushed {
    let mut out = Flushed::default();
    let list = pending(store, slug).await;
    if list.iter().all(|p| p.refused.is_some()) {
        return out;
    }
    let mut kept = Vec::new();
    let mut offline = false;
    for mut p in list {
        if p.refused.is_some() || offline {
            if p.refused.is_none() {
                out.waiting += 1;
            }
            kept.push(p);
            continue;
        }
        let url = format!("/api/register/{slug}/people/{}/marks", p.person);
        match api::post::<_, SafetyMark>(&url, &p.mark).await {
            Ok(stored) => out.stored.push(stored),
            Err(ApiError::Offline) => {
                offline = true;
                out.waiting += 1;
                kept.push(p);
            }
            Err(e) if e.is_unauthorized() => {
                out.unauthorized = true;
                offline = true;
                out.waiting += 1;
                kept.push(p);
            }
            // A server error may pass: send it again later.
            Err(ApiError::Status { status, .. }) if status >= 500 => {
                offline = true;
                out.waiting += 1;
                kept.push(p);
            }
            Err(e) => {
                let why = e.explain();
                out.refused.push((p.person, why.clone()));
                p.refused = Some(why);
                kept.push(p);
            }
        }
    }
    save_pending(store, slug, &kept).await;
    out
}

/// Applies the marks made here and not yet stored over a list read from the server (or the
/// kept copy), so the list shows what this responder did offline.
pub fn with_pending(
    people: &mut [RegisterPerson],
    pending: &[PendingMark],
    me: UserId,
    my_name: &str,
) {
    for p in pending.iter().filter(|p| p.refused.is_none()) {
        if let Some(person) = people.iter_mut().find(|x| x.id == p.person) {
            if person.safety.is_some() {
                apply_mark(person, p.as_mark(me, my_name));
            }
        }
    }
}

/// The kept copy of a register's list follows a change made here or told by the server, so
/// a reload (offline too) shows the same.
pub async fn keep_people(store: &Store, slug: &str, people: &[RegisterPerson]) {
    if let Ok(body) = serde_json::to_string(people) {
        store.put_cache(&people_url(slug), &body).await;
    }
}
