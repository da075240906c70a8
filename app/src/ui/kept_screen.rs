//! The kept first screen: a copy of what a room or the home list last showed, kept on the
//! device so the next start paints it before the wasm app is even running.
//!
//! A phone opening Renraku from its home screen spends most of its first 300 ms fetching
//! and instantiating the app and opening IndexedDB. `app/early.js` (a plain script that runs
//! while the page is parsed) puts the copy for the page's path on screen at once, inert;
//! the app renders the live screen underneath (hidden by app.css) and, when that screen has
//! its data, [`reveal`] swaps them in one frame.
//!
//! Patient data is at stake, so the copy follows the device's other rules: it is kept per
//! user (and removed at sign-out), it is shown only for the user the device remembers as
//! signed in, and never when the app lock applies (early.js reads the lock's own keys).

use crate::util::{self, local_get, local_remove, local_set};
use dioxus::prelude::*;
use renraku_sync::UserId;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// Pages kept per user: home's tabs and the rooms opened last.
const KEPT_PATHS: usize = 8;
/// Threads kept of a room: more than a tall phone shows.
const KEPT_THREADS: usize = 6;
/// A copy larger than this is not kept (local storage is small and read synchronously).
const MAX_BYTES: usize = 96 * 1024;
/// How long a screen must stay unchanged before it is copied: a burst of sync updates
/// is copied once.
const SETTLE_MS: i32 = 700;
/// The element early.js puts the copy in.
const ELEMENT_ID: &str = "kept-screen";

fn key(user: UserId) -> String {
    format!("renraku.kept.{user}")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    /// When it was copied (ms): the oldest path goes first.
    at: i64,
    html: String,
}

/// Removes the user's kept screens (signing out).
pub fn forget(user: UserId) {
    local_remove(&key(user));
}

/// Removes the user's kept copy of `page` (a room they are no longer a member of).
pub fn forget_page(user: UserId, page: &str) {
    let Some(mut all) =
        local_get(&key(user)).and_then(|v| serde_json::from_str::<BTreeMap<String, Kept>>(&v).ok())
    else {
        return;
    };
    if all.remove(page).is_some() {
        if let Ok(text) = serde_json::to_string(&all) {
            local_set(&key(user), &text);
        }
    }
}

/// Shows the live app in place of the kept copy (if one is shown). Idempotent and cheap:
/// every screen calls it once it has something real to show.
pub fn reveal() {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ELEMENT_ID))
    {
        el.remove();
    }
}

/// [`reveal`] as an element of a screen that has no kept copy.
#[component]
pub fn Reveal() -> Element {
    reveal();
    rsx! {}
}

/// Copies the screen for the next start once it has `ready` content and has not changed for
/// a moment. `version` is anything that changes when the screen does (the sync revision).
pub fn use_keep(user: UserId, ready: bool, version: u64) {
    let generation = use_hook(|| Rc::new(Cell::new(0u64)));
    let last = use_hook(|| Rc::new(Cell::new(None::<u64>)));
    if !ready || last.get() == Some(version) {
        return;
    }
    last.set(Some(version));
    let mine = generation.get() + 1;
    generation.set(mine);
    let page = util::page();
    spawn(async move {
        util::sleep_ms(SETTLE_MS).await;
        // A newer change (or another screen) took over meanwhile.
        if generation.get() != mine || util::page() != page {
            return;
        }
        util::after_next_paint().await;
        keep(user, &page);
    });
}

/// The page as it is now, without what is not a first screen.
fn copy_of_screen() -> Option<String> {
    let main = web_sys::window()?.document()?.get_element_by_id("main")?;
    let copy: web_sys::Element = main.clone_node_with_deep(true).ok()?.dyn_into().ok()?;
    let remove_all = |selector: &str, skip: usize| {
        if let Ok(list) = copy.query_selector_all(selector) {
            for i in skip as u32..list.length() {
                if let Some(el) = list
                    .get(i)
                    .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                {
                    el.remove();
                }
            }
        }
    };
    remove_all("main.timeline > section.thread", KEPT_THREADS);
    // Open sheets, composers with drafts, banners about this moment's state.
    remove_all(
        ".sheet, .sheet-backdrop, form, .banner, [role=dialog], [role=alert]",
        0,
    );
    Some(copy.inner_html())
}

fn keep(user: UserId, page: &str) {
    let Some(html) = copy_of_screen() else { return };
    if html.len() > MAX_BYTES || html.is_empty() {
        return;
    }
    let mut all: BTreeMap<String, Kept> = local_get(&key(user))
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    all.insert(
        page.to_owned(),
        Kept {
            at: util::now_ms(),
            html,
        },
    );
    while all.len() > KEPT_PATHS {
        let Some(oldest) = all.iter().min_by_key(|(_, k)| k.at).map(|(p, _)| p.clone()) else {
            break;
        };
        all.remove(&oldest);
    }
    // Full storage keeps the older copies: the app works the same without a new one.
    if let Ok(text) = serde_json::to_string(&all) {
        local_set(&key(user), &text);
    }
}
