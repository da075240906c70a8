//! Home: tabs 患者 / プロジェクト / メッセージ, each a list of my rooms with my pinned ones on
//! top (pins live in the personal document, so they follow me to another device), unread
//! counts (per room, and per tab on its button), latest activity and the newest post's first
//! line, and a filter-as-you-type box (name, kana).
//!
//! The list is alive: each new post in my rooms is news (`Engine::on_room_activity`) — told
//! by the server for rooms this device has not opened (`Frame::RoomActivity`), read from the
//! relayed update for those it has, and from the server's `Saved` for my own — and the list
//! applies it at
//! once — unread +1 unless it is my own post, newest line and time, order — and keeps the
//! result as its cached copy, so a reload shows the same. A room it does not know yet (I was
//! just added) and a reconnect (news may have been missed) fetch the list again.

use crate::api::{self, RoomSummary};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::sync::{ConnState, RoomActivity};
use crate::ui::kept_screen;
use crate::ui::session::Session;
use crate::ui::widgets::TopBar;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{RoomId, RoomKind, UserId};
use std::collections::HashMap;
use std::rc::Rc;

pub const ROOMS_URL: &str = "/api/rooms";

/// Applies news of a new post to the list; false when the room is not in it.
fn apply_activity(
    list: &mut [RoomSummary],
    news: &RoomActivity,
    me: UserId,
    open: Option<RoomId>,
) -> bool {
    let Some(room) = list.iter_mut().find(|r| r.id == news.room) else {
        return false;
    };
    // A post written long ago offline, arriving now, is not the newest line.
    if room.last_activity.is_none_or(|last| news.at >= last) {
        room.last_text = Some(news.text.clone());
    }
    room.last_activity = Some(room.last_activity.unwrap_or(i64::MIN).max(news.at));
    if news.author != me && open != Some(news.room) {
        room.unread = Some(room.unread.unwrap_or(0) + 1);
    }
    true
}

/// A room without a patient as its screen is titled: a 1:1 message room by the other person
/// (its stored title names both of us), any other by its title.
pub fn message_title(room: &api::RoomDetail, me: UserId) -> String {
    match room.members.as_slice() {
        [a, b] if room.kind == RoomKind::Message => {
            let other = if a.user == me { b } else { a };
            other.display_name.clone()
        }
        _ => room.title.clone(),
    }
}

/// News kept to re-apply to a list the server answers with (see [`with_news`]).
const KEPT_NEWS: usize = 100;

/// The server's list, with the news that arrived while it was being read: a post committed
/// after the server read the list is not in it (its room's activity is older than the post).
fn with_news(
    mut list: Vec<RoomSummary>,
    news: &[RoomActivity],
    me: UserId,
    open: Option<RoomId>,
) -> Vec<RoomSummary> {
    for n in news {
        let behind = list
            .iter()
            .find(|r| r.id == n.room)
            .is_some_and(|r| r.last_activity.is_none_or(|last| last < n.at));
        if behind {
            apply_activity(&mut list, n, me, open);
        }
    }
    list
}

fn open_room() -> Option<RoomId> {
    match route::current() {
        Route::Room(id) => Some(id),
        _ => None,
    }
}

/// Unread posts of every room of `kind` (archived ones too).
fn unread_total(list: &[RoomSummary], kind: RoomKind) -> i64 {
    list.iter()
        .filter(|r| r.kind == kind)
        .filter_map(|r| r.unread)
        .filter(|n| *n > 0)
        .sum()
}

fn tab_label(tab: Tab) -> &'static str {
    match tab {
        Tab::Patients => tr("患者", "Patients"),
        Tab::Projects => tr("プロジェクト", "Projects"),
        Tab::Messages => tr("メッセージ", "Messages"),
    }
}

#[component]
pub fn Home() -> Element {
    let session = use_context::<Session>();
    let tab = match route::current() {
        Route::Home(tab) => tab,
        _ => Tab::Patients,
    };
    let mut rooms = use_signal(|| None::<Vec<RoomSummary>>);
    let mut error = use_signal(|| None::<String>);
    let mut filter = use_signal(String::new);
    // How often the list arrived (cache, then server): the kept copy follows it.
    let mut loads = use_signal(|| 0u64);

    // Asks for the list again (a room unknown to it, a reconnect): counted, so that news
    // arriving while one fetch runs asks for one more after it rather than many at once.
    let mut refetch = use_signal(|| 0u64);
    // The news heard since home opened (the latest few), for lists read meanwhile.
    let heard = use_hook(|| Rc::new(std::cell::RefCell::new(Vec::<RoomActivity>::new())));
    let me = session.me.user.id;

    let s = session.clone();
    let news = heard.clone();
    use_hook(move || {
        spawn(async move {
            // Paint what the device knows at once; then ask the server.
            if let Some(cached) = api::cached_only::<Vec<RoomSummary>>(&s.store, ROOMS_URL).await {
                rooms.set(Some(cached));
                loads += 1;
            }
            match api::cached_get::<Vec<RoomSummary>>(&s.store, ROOMS_URL).await {
                Ok(list) => {
                    rooms.set(Some(with_news(list, &news.borrow(), me, open_room())));
                    loads += 1;
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(api::ApiError::Offline) if rooms.peek().is_some() => {}
                Err(e) => error.set(Some(e.message())),
            }
        });
    });

    // News of new posts in my rooms, while home is on screen.
    let s = session.clone();
    let kept = heard.clone();
    use_hook(move || {
        let store = s.store.clone();
        Rc::new(s.engine.on_room_activity(move |news| {
            // Signals are handles: copies write the same values.
            let (mut rooms, mut loads, mut refetch) = (rooms, loads, refetch);
            {
                let mut kept = kept.borrow_mut();
                if kept.len() == KEPT_NEWS {
                    kept.remove(0);
                }
                kept.push(news.clone());
            }
            let open = open_room();
            let mut known = None;
            rooms.with_mut(|list| {
                if let Some(list) = list.as_mut() {
                    known = Some(apply_activity(list, news, me, open));
                }
            });
            match known {
                Some(true) => {
                    loads += 1;
                    // The kept copy follows, so a reload (offline too) shows the same.
                    if let Ok(body) = serde_json::to_string(&*rooms.peek()) {
                        let store = store.clone();
                        wasm_bindgen_futures::spawn_local(async move {
                            store.put_cache(ROOMS_URL, &body).await;
                        });
                    }
                }
                // A room not listed yet: I was just added to it.
                Some(false) => refetch += 1,
                // The list has not arrived yet: it will hold the post.
                None => {}
            }
        }))
    });

    // Back online after a drop: news sent meanwhile never arrived; ask for the list.
    let status = session.engine.status();
    let was_online = use_hook(|| Rc::new(std::cell::Cell::new(None::<bool>)));
    use_effect(move || {
        let online = status() == ConnState::Online;
        if was_online.replace(Some(online)) == Some(false) && online {
            refetch += 1;
        }
    });
    let s = session.clone();
    let fetching = use_hook(|| Rc::new(std::cell::Cell::new(false)));
    let news = heard.clone();
    use_effect(move || {
        if refetch() == 0 || fetching.get() {
            return;
        }
        fetching.set(true);
        let (s, fetching, news) = (s.clone(), fetching.clone(), news.clone());
        spawn(async move {
            loop {
                let asked = *refetch.peek();
                match api::cached_get::<Vec<RoomSummary>>(&s.store, ROOMS_URL).await {
                    Ok(list) => {
                        rooms.set(Some(with_news(list, &news.borrow(), me, open_room())));
                        loads += 1;
                    }
                    Err(e) if e.is_unauthorized() => s.expired(),
                    Err(_) => {}
                }
                if *refetch.peek() == asked {
                    break;
                }
            }
            fetching.set(false);
        });
    });

    // The list reads the personal document (pinned rooms) and nothing of any room.
    let revision = session.engine.personal_revision()();
    let pins: HashMap<RoomId, i64> = session
        .engine
        .personal(|p| p.pinned_rooms())
        .into_iter()
        .collect();

    let list = rooms();
    let totals: Vec<(Tab, i64)> = Tab::ALL
        .iter()
        .map(|t| {
            let n = list
                .as_deref()
                .map_or(0, |l| unread_total(l, t.room_kind()));
            (*t, n)
        })
        .collect();
    let (mut pinned, mut others): (Vec<RoomSummary>, Vec<RoomSummary>) = list
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.kind == tab.room_kind())
        .filter(|r| {
            let p = r.patient.as_ref();
            util::matches_filter(
                &filter(),
                &[
                    &r.title,
                    p.map(|p| p.name.as_str()).unwrap_or(""),
                    p.map(|p| p.name_kana.as_str()).unwrap_or(""),
                    &r.member_names.join(" "),
                ],
            )
        })
        .partition(|r| pins.contains_key(&r.id));
    pinned.sort_by_key(|r| std::cmp::Reverse(pins.get(&r.id).copied().unwrap_or(0)));
    // Latest activity first once the server reports it; otherwise the server's order (kana).
    if others.iter().any(|r| r.last_activity.is_some()) {
        others.sort_by_key(|r| std::cmp::Reverse(r.last_activity.unwrap_or(0)));
    }
    let total = pinned.len() + others.len();
    if list.is_some() || error().is_some() {
        kept_screen::reveal();
    }
    // The list as a whole is kept, not a filtered part of it.
    kept_screen::use_keep(
        session.me.user.id,
        list.is_some() && filter().is_empty(),
        revision.wrapping_mul(1 << 20).wrapping_add(loads()),
    );

    rsx! {
        TopBar { title: tr("連絡", "Renraku").to_owned(), subtitle: Some(session.me.municipality.name.clone()),
            button {
                class: "icon",
                r#type: "button",
                aria_label: tr("検索", "Search"),
                title: tr("検索", "Search"),
                onclick: move |_| route::go(Route::Search { room: None }),
                "🔍"
            }
            button {
                class: "icon",
                r#type: "button",
                aria_label: tr("設定", "Settings"),
                onclick: move |_| route::go(Route::Settings),
                "⚙"
            }
        }
        nav { class: "tabs", role: "tablist", aria_label: tr("ルームの種類", "Room kinds"),
            for (t, unread) in totals {
                button {
                    key: "{t.as_str()}",
                    role: "tab",
                    r#type: "button",
                    id: "tab-{t.as_str()}",
                    aria_selected: if t == tab { "true" } else { "false" },
                    class: if t == tab { "tab active" } else { "tab" },
                    onclick: move |_| route::replace(Route::Home(t)),
                    "{tab_label(t)}"
                    if unread > 0 {
                        span {
                            class: "badge tab-badge",
                            aria_label: tr_string(format!("未読 {unread} 件"), format!("{unread} unread")),
                            if unread > 99 { "99+" } else { "{unread}" }
                        }
                    }
                }
            }
        }
        main { class: "home", role: "tabpanel", aria_labelledby: "tab-{tab.as_str()}",
            // 確認待ち: requests waiting for me (urgent and overdue first), and mine.
            // 要援護者名簿, and the 災害モード banner while one is in force.
            crate::ui::register::RegisterEntry {}
            crate::ui::parking::ParkingEntry {}
            // 駐車場: the city's screens, or a lender's own spaces.
            crate::ui::parking::city::ParkingEntry {}
            crate::ui::ack_inbox::AckInbox {}
            div { class: "filter",
                input {
                    r#type: "search",
                    aria_label: tr("名前・かなで絞り込み", "Filter by name or kana"),
                    placeholder: tr("名前・かなで絞り込み", "Filter by name or kana"),
                    value: "{filter}",
                    oninput: move |e| filter.set(e.value()),
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if list.is_none() && error().is_none() {
                p { class: "muted pad", {tr("読み込み中…", "Loading…")} }
            } else if total == 0 {
                p { class: "muted pad",
                    if filter().is_empty() { {tr("まだありません。", "Nothing here yet.")} } else { {tr("該当するものはありません。", "No matches.")} }
                }
            }
            ul { class: "rooms", aria_label: "{tab_label(tab)}",
                for room in pinned {
                    RoomRow { key: "{room.id}", room, pinned: true }
                }
                for room in others {
                    RoomRow { key: "{room.id}", room, pinned: false }
                }
            }
            if tab == Tab::Messages {
                button {
                    class: "fab",
                    r#type: "button",
                    onclick: move |_| route::go(Route::NewMessage),
                    {tr("＋ 新規メッセージ", "+ New message")}
                }
            }
        }
    }
}

#[component]
fn RoomRow(room: RoomSummary, pinned: bool) -> Element {
    let session = use_context::<Session>();
    let id = room.id;
    let (title, detail) = match &room.patient {
        Some(p) => {
            let mut bits = vec![p.name_kana.clone()];
            if let Some(age) = util::age(&p.birth_date) {
                bits.push(tr_string(format!("{age}歳"), format!("{age} y")));
            }
            if !p.care_level.is_empty() {
                bits.push(p.care_level.clone());
            }
            (
                format!("{} {}", p.name, tr("様", "")).trim().to_owned(),
                bits.join(" · "),
            )
        }
        // 1:1: the room is the other person (its stored title names both of us).
        None if room.kind == RoomKind::Message && room.member_names.len() == 1 => {
            (room.member_names[0].clone(), String::new())
        }
        None if !room.member_names.is_empty() => (room.title.clone(), room.member_names.join("、")),
        None => (
            room.title.clone(),
            tr_string(
                format!("{} 人", room.member_count),
                format!("{} members", room.member_count),
            ),
        ),
    };
    // The newest post's first line; a post of attachments only has none.
    let last = room.last_text.as_ref().map(|t| {
        if t.is_empty() {
            tr("📎 添付ファイル", "📎 Attachment").to_owned()
        } else {
            t.clone()
        }
    });
    let engine = session.engine.clone();
    let toggle_pin = move |_| {
        let now = crate::clock::server_now_ms();
        if pinned {
            engine.write_personal(|p| p.unpin_room(id));
        } else {
            engine.write_personal(|p| p.pin_room(id, now));
        }
    };
    let href = Route::Room(id).href();
    let unread = room.unread.filter(|n| *n > 0);
    rsx! {
        li { class: match (pinned, unread.is_some()) {
                (true, true) => "room pinned unread",
                (true, false) => "room pinned",
                (false, true) => "room unread",
                (false, false) => "room",
            },
            a {
                class: "room-link",
                href: "{href}",
                onclick: move |e| {
                    e.prevent_default();
                    route::go(Route::Room(id));
                },
                span { class: "room-head",
                    span { class: "room-title", "{title}" }
                    // With a newest line below, the details (kana, age) share the title's line.
                    if last.is_some() && !detail.is_empty() {
                        span { class: "room-detail", "{detail}" }
                    }
                }
                if let Some(text) = &last {
                    span { class: "room-last", "{text}" }
                } else {
                    span { class: "room-last room-detail", "{detail}" }
                }
                if let Some(at) = room.last_activity {
                    span { class: "room-time", "{util::short_time(at)}" }
                }
                if let Some(n) = unread {
                    span {
                        class: "badge",
                        aria_label: tr_string(format!("未読 {n} 件"), format!("{n} unread")),
                        "{n}"
                    }
                }
            }
            button {
                class: if pinned { "icon pin on" } else { "icon pin" },
                r#type: "button",
                aria_pressed: if pinned { "true" } else { "false" },
                aria_label: if pinned { tr("ピン留めを外す", "Unpin") } else { tr("ピン留め", "Pin") },
                onclick: toggle_pin,
                if pinned { "★" } else { "☆" }
            }
        }
    }
}
