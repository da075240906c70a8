//! Search (issue 18): the posts of my rooms, from home's 🔍 or a room's (then that room
//! only, by default), with filters (自分の投稿, 添付あり, 確認待ち, a period). The server
//! answers (`GET /api/search`); offline, the rooms kept on the device are searched with the
//! same rule (`renraku_sync::search`), and the screen says so.
//!
//! Results are patient data: they are never written to IndexedDB. The last search stays in
//! memory only, so that coming back from a hit shows it again.

use crate::api::{self, ApiError, RoomDetail, RoomSummary};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::ui::session::Session;
use crate::ui::widgets::TopBar;
use crate::util;
use dioxus::prelude::*;
use renraku_contract::{SearchHit, SearchResults};
use renraku_sync::search::{highlights, matches, terms, MAX_QUERY_CHARS};
use renraku_sync::{RoomId, RoomKind, UserId};
use std::collections::HashMap;

/// Hits per answer (the server's default too).
const LIMIT: usize = 30;
/// A longer text is shown as an excerpt of this many characters around its first match.
const EXCERPT_CHARS: usize = 120;
/// Characters shown before the first match in an excerpt.
const BEFORE_MATCH: usize = 30;

/// What was asked.
#[derive(Clone, Debug, Default, PartialEq)]
struct Query {
    text: String,
    /// This room only.
    room: Option<RoomId>,
    mine: bool,
    attachment: bool,
    unacknowledged: bool,
    /// `YYYY-MM-DD` (an `<input type=date>`'s value), or empty.
    from: String,
    to: String,
}

impl Query {
    fn start_ms(&self) -> Option<i64> {
        day_start_ms(&self.from, 0)
    }

    /// The end of the `to` day (its last millisecond).
    fn end_ms(&self) -> Option<i64> {
        day_start_ms(&self.to, 1).map(|ms| ms - 1)
    }

    fn url(&self, before: Option<&(i64, String)>) -> String {
        let q = js_sys::encode_uri_component(self.text.trim());
        let mut url = format!("/api/search?q={q}&limit={LIMIT}");
        if let Some(room) = self.room {
            url.push_str(&format!("&room={room}"));
        }
        for (on, name) in [
            (self.mine, "mine"),
            (self.attachment, "has_attachment"),
            (self.unacknowledged, "unacknowledged"),
        ] {
            if on {
                url.push_str(&format!("&{name}=true"));
            }
        }
        for (value, name) in [(self.start_ms(), "from"), (self.end_ms(), "to")] {
            if let Some(ms) = value {
                url.push_str(&format!("&{name}={ms}"));
            }
        }
        if let Some((at, post)) = before {
            url.push_str(&format!("&before={at}&before_post={post}"));
        }
        url
    }
}

/// Local midnight of `YYYY-MM-DD` plus `days`, in unix ms.
fn day_start_ms(date: &str, days: i32) -> Option<i64> {
    let mut parts = date.split('-').map(|p| p.parse::<i32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let date = js_sys::Date::new_with_year_month_day(y.max(0) as u32, m - 1, d + days);
    let ms = date.get_time();
    ms.is_finite().then_some(ms as i64)
}

/// What was found.
#[derive(Clone, Debug, PartialEq)]
struct Found {
    query: Query,
    hits: Vec<SearchHit>,
    more: bool,
    /// Searched on the device (the server could not be reached).
    offline: bool,
}

/// The last search, in memory only (never stored), with whose it is and the room the screen
/// was opened from: shown again on coming back from a hit.
static LAST: GlobalSignal<Option<(UserId, Option<RoomId>, Found)>> = Signal::global(|| None);

/// Asks the server; offline, searches the rooms kept on the device.
async fn search(
    session: &Session,
    query: &Query,
    before: Option<(i64, String)>,
) -> Result<(Vec<SearchHit>, bool, bool), ApiError> {
    match api::get::<SearchResults>(&query.url(before.as_ref())).await {
        Ok(r) => Ok((r.hits, r.more, false)),
        Err(ApiError::Offline) => {
            let (hits, more) = search_device(session, query, before).await;
            Ok((hits, more, true))
        }
        Err(e) => Err(e),
    }
}

/// The server's search, over the replicas of the rooms this device keeps (the room list's
/// kept copy names them; each replica is read from IndexedDB if it is not in memory yet).
async fn search_device(
    session: &Session,
    query: &Query,
    before: Option<(i64, String)>,
) -> (Vec<SearchHit>, bool) {
    let terms = terms(&query.text);
    if terms.is_empty() {
        return (Vec::new(), false);
    }
    let me = session.me.user.id;
    let mut rooms: Vec<(RoomId, RoomKind, String)> =
        api::cached_only::<Vec<RoomSummary>>(&session.store, crate::ui::home::ROOMS_URL)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let title = r.patient.map_or(r.title, |p| p.name);
                (r.id, r.kind, title)
            })
            .collect();
    if let Some(room) = query.room {
        rooms.retain(|r| r.0 == room);
        if rooms.is_empty() {
            rooms.push((room, RoomKind::Patient, String::new()));
        }
    }
    let (from, to) = (query.start_ms(), query.end_ms());
    let mut hits = Vec::new();
    for (room, kind, title) in rooms {
        session.engine.load_kept_room(room).await;
        let posts = session
            .engine
            .read_room_if_any(room, |d| {
                d.posts()
                    .into_iter()
                    .filter(|p| !p.deleted && matches(&p.text, &terms))
                    .filter(|p| !query.mine || p.author == me)
                    .filter(|p| !query.attachment || !p.attachments.is_empty())
                    .filter(|p| {
                        !query.unacknowledged
                            || p.ack.as_ref().is_some_and(|r| r.asks(me, p.author))
                                && !d.acks(&p.id).iter().any(|a| a.user == me)
                    })
                    .filter(|p| from.is_none_or(|f| p.created_at >= f))
                    .filter(|p| to.is_none_or(|t| p.created_at <= t))
                    .filter(|p| {
                        before.as_ref().is_none_or(|(at, id)| {
                            (p.created_at, p.id.as_str()) < (*at, id.as_str())
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if posts.is_empty() {
            continue;
        }
        let names: HashMap<UserId, String> =
            api::cached_only::<RoomDetail>(&session.store, &format!("/api/rooms/{room}"))
                .await
                .map(|d| {
                    d.members
                        .into_iter()
                        .map(|m| (m.user, m.display_name))
                        .collect()
                })
                .unwrap_or_default();
        for p in posts {
            let author_name = match names.get(&p.author) {
                Some(name) => name.clone(),
                None if p.author == me => session.me.user.display_name.clone(),
                None => String::new(),
            };
            hits.push(SearchHit {
                room,
                room_kind: kind,
                room_title: title.clone(),
                post: p.id.to_string(),
                parent: p.parent.map(|id| id.to_string()),
                author: p.author,
                author_name,
                created_at: p.created_at,
                highlights: highlights(&p.text, &terms)
                    .into_iter()
                    .map(|(s, e)| [s, e])
                    .collect(),
                text: p.text,
                // Offline, a post is found by its text only: the files' names are the
                // server's (`post_attachments`).
                attachments: Vec::new(),
            });
        }
    }
    hits.sort_by(|a, b| (b.created_at, &b.post).cmp(&(a.created_at, &a.post)));
    let more = hits.len() > LIMIT;
    hits.truncate(LIMIT);
    (hits, more)
}

/// A text as a hit shows it: the parts that matched marked, and a long text cut to an
/// excerpt around its first match. Pieces of (text, matched).
fn excerpt(text: &str, highlights: &[[usize; 2]]) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let (start, end) = if n <= EXCERPT_CHARS {
        (0, n)
    } else {
        let first = highlights.first().map_or(0, |h| h[0].min(n));
        let start = first.saturating_sub(BEFORE_MATCH).min(n - EXCERPT_CHARS);
        (start, start + EXCERPT_CHARS)
    };
    let piece = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
    let mut out = Vec::new();
    if start > 0 {
        out.push(("…".to_owned(), false));
    }
    let mut at = start;
    for h in highlights {
        let s = h[0].clamp(at, end);
        let e = h[1].clamp(s, end);
        if e == s {
            continue;
        }
        if s > at {
            out.push((piece(at, s), false));
        }
        out.push((piece(s, e), true));
        at = e;
    }
    if at < end {
        out.push((piece(at, end), false));
    }
    if end < n {
        out.push(("…".to_owned(), false));
    }
    out
}

#[component]
pub fn SearchScreen(room: Option<RoomId>) -> Element {
    let session = use_context::<Session>();
    let me = session.me.user.id;
    // Coming back from a hit: the last search as it was.
    let last = use_hook(|| {
        LAST.peek()
            .as_ref()
            .filter(|(user, opened_from, _)| *user == me && *opened_from == room)
            .map(|(_, _, found)| found.clone())
    });
    let mut query = use_signal(|| {
        last.as_ref().map_or(
            Query {
                room,
                ..Query::default()
            },
            |f| f.query.clone(),
        )
    });
    let mut found = use_signal(|| last.clone());
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let room_title = use_signal(|| None::<String>);

    let s = session.clone();
    use_hook(move || {
        if let Some(room) = room {
            let mut room_title = room_title;
            spawn(async move {
                let url = format!("/api/rooms/{room}");
                if let Some(d) = api::cached_only::<RoomDetail>(&s.store, &url).await {
                    room_title.set(Some(match &d.patient {
                        Some(p) => format!("{} {}", p.name, tr("様", "")).trim().to_owned(),
                        None => crate::ui::home::message_title(&d, s.me.user.id),
                    }));
                }
            });
        }
    });

    let s = session.clone();
    let run = move |more: bool| {
        let q = query.peek().clone();
        if terms(&q.text).is_empty() || *busy.peek() {
            return;
        }
        let before = if more {
            found
                .peek()
                .as_ref()
                .and_then(|f| f.hits.last().map(|h| (h.created_at, h.post.clone())))
        } else {
            None
        };
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            let paging = before.is_some();
            match search(&s, &q, before).await {
                Ok((hits, more_left, offline)) => {
                    let mut next = match found.peek().clone() {
                        Some(mut f) if paging => {
                            f.hits.extend(hits);
                            f.more = more_left;
                            f.offline |= offline;
                            f
                        }
                        _ => Found {
                            query: q,
                            hits,
                            more: more_left,
                            offline,
                        },
                    };
                    next.hits
                        .dedup_by(|a, b| a.post == b.post && a.room == b.room);
                    *LAST.write() = Some((me, room, next.clone()));
                    found.set(Some(next));
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
            busy.set(false);
        });
    };
    let mut run_more = run.clone();
    let mut run_new = run;

    let q = query();
    let toggle = |on: bool| if on { "chip on" } else { "chip" };
    let pressed = |on: bool| if on { "true" } else { "false" };
    let f = found();
    let fresh = f.is_none();
    let room_label = match room_title() {
        Some(t) => tr_string(format!("{t} のみ"), format!("Only {t}")),
        None => tr("このルームのみ", "This room only").to_owned(),
    };
    let back = match room {
        Some(id) => Route::Room(id),
        None => Route::Home(Tab::Patients),
    };
    rsx! {
        TopBar { title: tr("検索", "Search").to_owned(), on_back: move |_| route::back(back.clone()) }
        main { class: "search",
            form {
                class: "search-form",
                role: "search",
                onsubmit: move |e: FormEvent| {
                    e.prevent_default();
                    run_new(false);
                },
                div { class: "search-row",
                    input {
                        id: "search-q",
                        r#type: "search",
                        maxlength: "{MAX_QUERY_CHARS}",
                        aria_label: tr("検索する言葉", "Words to search for"),
                        placeholder: tr("検索する言葉（例: 発熱 褥瘡）", "Words (e.g. fever wound)"),
                        autofocus: fresh,
                        value: "{q.text}",
                        oninput: move |e| query.write().text = e.value(),
                    }
                    button {
                        class: "primary",
                        r#type: "submit",
                        disabled: busy() || terms(&q.text).is_empty(),
                        {tr("検索", "Search")}
                    }
                }
                div { class: "search-filters", role: "group", aria_label: tr("絞り込み", "Filters"),
                    if let Some(id) = room {
                        button {
                            class: toggle(q.room.is_some()),
                            r#type: "button",
                            aria_pressed: pressed(q.room.is_some()),
                            onclick: move |_| {
                                let mut q = query.write();
                                q.room = if q.room.is_some() { None } else { Some(id) };
                            },
                            "{room_label}"
                        }
                    }
                    button {
                        class: toggle(q.mine),
                        r#type: "button",
                        aria_pressed: pressed(q.mine),
                        onclick: move |_| query.with_mut(|q| q.mine = !q.mine),
                        {tr("自分の投稿", "My posts")}
                    }
                    button {
                        class: toggle(q.attachment),
                        r#type: "button",
                        aria_pressed: pressed(q.attachment),
                        onclick: move |_| query.with_mut(|q| q.attachment = !q.attachment),
                        {tr("添付あり", "With attachments")}
                    }
                    button {
                        class: toggle(q.unacknowledged),
                        r#type: "button",
                        aria_pressed: pressed(q.unacknowledged),
                        onclick: move |_| query.with_mut(|q| q.unacknowledged = !q.unacknowledged),
                        {tr("確認待ち", "Awaiting my OK")}
                    }
                }
                fieldset { class: "search-period",
                    legend { {tr("期間", "Period")} }
                    input {
                        r#type: "date",
                        aria_label: tr("いつから", "From"),
                        value: "{q.from}",
                        oninput: move |e| query.write().from = e.value(),
                    }
                    span { aria_hidden: "true", "〜" }
                    input {
                        r#type: "date",
                        aria_label: tr("いつまで", "To"),
                        value: "{q.to}",
                        oninput: move |e| query.write().to = e.value(),
                    }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if let Some(f) = f {
                if f.offline {
                    p { class: "notice offline", role: "status",
                        {tr("オフラインのため、この端末に保存されたルームだけを検索しました。", "You are offline: only the rooms kept on this device were searched.")}
                    }
                }
                if f.hits.is_empty() {
                    p { class: "muted pad", role: "status", {tr("見つかりませんでした。", "Nothing found.")} }
                } else {
                    p { class: "muted pad search-count", role: "status",
                        {
                            let n = f.hits.len();
                            if f.more {
                                tr_string(format!("{n} 件以上"), format!("{n}+ posts"))
                            } else {
                                tr_string(format!("{n} 件"), format!("{n} posts"))
                            }
                        }
                    }
                    ul { class: "hits",
                        for hit in f.hits.iter().cloned() {
                            HitRow { key: "{hit.room}-{hit.post}", hit }
                        }
                    }
                }
                if f.more {
                    button {
                        class: "secondary more",
                        r#type: "button",
                        disabled: busy(),
                        onclick: move |_| run_more(true),
                        {tr("さらに表示", "Show more")}
                    }
                }
            }
            if busy() {
                p { class: "muted pad", role: "status", {tr("検索中…", "Searching…")} }
            }
        }
    }
}

/// One post found: its room, who wrote it and when, and its text with the matches marked;
/// tapping it opens the room at the post.
#[component]
fn HitRow(hit: SearchHit) -> Element {
    let title = if hit.room_kind == RoomKind::Patient && !hit.room_title.is_empty() {
        format!("{} {}", hit.room_title, tr("様", ""))
            .trim()
            .to_owned()
    } else {
        hit.room_title.clone()
    };
    let pieces = excerpt(&hit.text, &hit.highlights);
    let files = hit.attachments.join("、");
    let href = format!("{}?post={}", Route::Room(hit.room).href(), hit.post);
    let (room, post) = (hit.room, hit.post.clone());
    rsx! {
        li { class: "hit",
            a {
                class: "hit-link",
                href: "{href}",
                onclick: move |e| {
                    e.prevent_default();
                    route::go_to_post(room, &post);
                },
                span { class: "hit-head",
                    span { class: "hit-room", "{title}" }
                    span { class: "hit-time", "{util::short_time(hit.created_at)}" }
                }
                span { class: "hit-author",
                    "{hit.author_name}"
                    if hit.parent.is_some() {
                        span { class: "muted", {tr("（返信）", " (reply)")} }
                    }
                }
                span { class: "hit-text",
                    for (text, marked) in pieces {
                        if marked {
                            mark { "{text}" }
                        } else {
                            "{text}"
                        }
                    }
                }
                if !files.is_empty() {
                    span { class: "hit-files", "📎 {files}" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(pieces: &[(String, bool)]) -> Vec<&str> {
        pieces
            .iter()
            .filter(|p| p.1)
            .map(|p| p.0.as_str())
            .collect()
    }

    #[test]
    fn a_short_text_is_shown_whole_with_its_matches_marked() {
        let text = "夜間のＳｐＯ２が低下、SpO2 88%";
        let h: Vec<[usize; 2]> = highlights(text, &terms("spo2"))
            .into_iter()
            .map(|(s, e)| [s, e])
            .collect();
        let pieces = excerpt(text, &h);
        assert_eq!(marked(&pieces), ["ＳｐＯ２", "SpO2"]);
        let whole: String = pieces.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(whole, text);
    }

    #[test]
    fn a_long_text_is_cut_around_its_first_match() {
        let text = format!("{}褥瘡{}", "あ".repeat(200), "い".repeat(200));
        let pieces = excerpt(&text, &[[200, 202]]);
        assert_eq!(marked(&pieces), ["褥瘡"]);
        assert_eq!(pieces.first().unwrap().0, "…");
        assert_eq!(pieces.last().unwrap().0, "…");
        let shown: usize = pieces[1..pieces.len() - 1]
            .iter()
            .map(|p| p.0.chars().count())
            .sum();
        assert_eq!(shown, EXCERPT_CHARS);
        assert_eq!(pieces[1].0.chars().count(), BEFORE_MATCH);
    }
}
