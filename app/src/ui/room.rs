//! A room's timeline: the patient header and care team, posts pinned for the team, then
//! threads by latest activity (older replies folded), a page at a time so a 1,000-post room
//! paints its first screen at once, and the composer docked at the bottom.
//!
//! Opening a room with unread posts starts at a 「ここから未読」 divider before the oldest of
//! them; while the room is open a reply does not move its thread (the screen does not jump
//! away from what one reads); the next opening sorts by latest activity again.

use crate::api::{self, Member, RoomDetail};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::ui::composer::Composer;
use crate::ui::kept_screen;
use crate::ui::post::PostView;
use crate::ui::session::Session;
use crate::ui::widgets::{PersonLine, Sheet, TopBar};
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{PostId, RoomId, RoomKind, Thread, UserId};
use std::collections::{HashMap, HashSet};

/// Threads per page.
const PAGE: usize = 15;
/// Threads in the very first frame: enough to fill a phone's screen. The rest of the first
/// page follows right after that frame is painted, so a big room shows its newest posts
/// without first laying out fifteen threads (issue 3's 300 ms budget for a 1,000-post room).
const FIRST_SCREEN: usize = 4;
/// Replies shown before "show older replies".
const SHOWN_REPLIES: usize = 2;
/// The unread divider is looked for in this many pages of threads; beyond them the room
/// opens at the top (a long absence is better read newest first than 1,000 posts down).
const DIVIDER_PAGES: usize = 4;

/// Where unread posts begin, as the room was when it was opened (marking them read must
/// not move the divider away while one reads).
#[derive(Clone, Debug, PartialEq)]
pub struct Unread {
    /// The oldest unread post: the divider goes right before it.
    pub first: PostId,
    /// Unread posts by others.
    pub count: usize,
    /// Posts newer than this (by others) are unread.
    pub after: Option<PostId>,
}

/// The order threads are shown in while the room stays open: newest activity first as it
/// was when the room came in sync, new threads on top. A reply (mine or a colleague's) does
/// not move its thread while one reads; the next opening sorts again.
fn stable_order(order: &std::cell::RefCell<Vec<PostId>>, threads: Vec<Thread>) -> Vec<Thread> {
    let mut order = order.borrow_mut();
    let known: HashSet<&PostId> = order.iter().collect();
    let fresh: Vec<PostId> = threads
        .iter()
        .map(|t| t.root.id.clone())
        .filter(|id| !known.contains(id))
        .collect();
    if !fresh.is_empty() {
        let mut next = fresh;
        next.append(&mut order);
        *order = next;
    }
    let position: HashMap<&PostId, usize> =
        order.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut threads = threads;
    threads.sort_by_key(|t| position.get(&t.root.id).copied().unwrap_or(0));
    threads
}

/// A list of people to show in a sheet: who reacted, who has read.
#[derive(Clone, Debug, PartialEq)]
pub struct Who {
    pub title: String,
    pub users: Vec<UserId>,
    pub post: Option<PostId>,
}

/// What every post of the room needs.
#[derive(Clone, Copy, PartialEq)]
pub struct RoomCtx {
    pub room: RoomId,
    pub members: Signal<HashMap<UserId, Member>>,
    pub who: Signal<Option<Who>>,
    /// Unread posts when the room was opened.
    pub unread: Signal<Option<Unread>>,
    /// The post the room was opened at (a search hit): shown even in folded replies.
    pub focus: Signal<Option<PostId>>,
}

fn detail_url(room: RoomId) -> String {
    format!("/api/rooms/{room}")
}

#[component]
pub fn RoomScreen(room: RoomId) -> Element {
    let session = use_context::<Session>();
    let engine = session.engine.clone();
    let mut detail = use_signal(|| None::<RoomDetail>);
    let mut error = use_signal(|| None::<String>);
    let mut members = use_signal(HashMap::<UserId, Member>::new);
    let who = use_signal(|| None::<Who>);
    let mut pages = use_signal(|| 1usize);
    let mut first_frame = use_signal(|| true);
    // Whether the rest of the first page has been scheduled (not a signal: set in render).
    let rest_scheduled = use_hook(|| std::rc::Rc::new(std::cell::Cell::new(false)));
    // Whether the room's kept data has been forgotten after a membership refusal.
    let forgotten = use_hook(|| std::rc::Rc::new(std::cell::Cell::new(false)));
    let mut team = use_signal(|| false);
    let mut exporting = use_signal(|| false);
    let mut unread = use_signal(|| None::<Unread>);
    // Whether the divider has been placed (once per opening) and scrolled to.
    let divider_placed = use_hook(|| std::rc::Rc::new(std::cell::Cell::new(false)));
    let divider_shown = use_hook(|| std::rc::Rc::new(std::cell::Cell::new(false)));
    // The thread order of this visit, fixed once the room is in sync (see `stable_order`).
    let order = use_hook(|| std::rc::Rc::new(std::cell::RefCell::new(Vec::<PostId>::new())));
    // Opened at a post (`?post=`, a search hit), and whether it has been scrolled to.
    let focus = use_signal(route::take_post);
    let focus_shown = use_hook(|| std::rc::Rc::new(std::cell::Cell::new(false)));
    use_context_provider(|| RoomCtx {
        room,
        members,
        who,
        unread,
        focus,
    });

    let s = session.clone();
    use_hook(move || {
        s.engine.open_room(room);
        spawn(async move {
            let url = detail_url(room);
            let mut got = |d: RoomDetail| {
                members.set(d.members.iter().map(|m| (m.user, m.clone())).collect());
                detail.set(Some(d));
            };
            if let Some(d) = api::cached_only::<RoomDetail>(&s.store, &url).await {
                got(d);
            }
            match api::cached_get::<RoomDetail>(&s.store, &url).await {
                Ok(d) => got(d),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(api::ApiError::Offline) => {}
                Err(e) => error.set(Some(e.message())),
            }
        });
    });

    let revision = engine.room_revision(room)();
    let member_ids: Vec<UserId> = members.read().keys().copied().collect();
    let ((threads, urgent_n), pins, my_marker) = engine.read_room(room, |d| {
        let me = session.me.user.id;
        (
            // Open urgent (至急) threads stay on top until they are acknowledged.
            crate::ui::ack::urgent_first(d, d.threads(), &member_ids),
            d.pins(),
            d.read_markers()
                .into_iter()
                .find(|m| m.user == me)
                .map(|m| m.post),
        )
    });
    let denied = engine.denied(room);
    let synced = engine.is_synced(room);
    // Until the room is in sync the replica may be behind: the natural order then.
    let threads = if synced {
        let (urgent, rest) = threads.split_at(urgent_n);
        let mut all = urgent.to_vec();
        all.extend(stable_order(&order, rest.to_vec()));
        all
    } else {
        threads
    };

    // Where unread posts begin, once, from the marker as it was before this visit marks
    // them read.
    if synced && !divider_placed.get() {
        divider_placed.set(true);
        let me = session.me.user.id;
        let limit = DIVIDER_PAGES * PAGE;
        let mut found: Option<(usize, PostId)> = None;
        let mut count = 0;
        for (i, t) in threads.iter().enumerate() {
            for post in std::iter::once(&t.root).chain(t.replies.iter()) {
                let is_unread = post.author != me
                    && !post.deleted
                    && my_marker.as_ref().is_none_or(|m| &post.id > m);
                if is_unread {
                    count += 1;
                    if found.as_ref().is_none_or(|(_, f)| &post.id < f) {
                        found = Some((i, post.id.clone()));
                    }
                }
            }
        }
        if let Some((index, first)) = found.filter(|(i, _)| *i < limit) {
            let after = my_marker.clone();
            // Not during render: the room re-renders with the divider in its page.
            spawn(async move {
                if index >= PAGE {
                    pages.set(index / PAGE + 1);
                }
                unread.set(Some(Unread {
                    first,
                    count,
                    after,
                }));
            });
        }
    }
    // Start at the divider, once the page holding it is on screen.
    if unread.read().is_some() && !first_frame() && !divider_shown.get() && focus.peek().is_none() {
        divider_shown.set(true);
        spawn(async move {
            util::after_next_paint().await;
            if let Some(el) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("unread-divider"))
            {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Center);
                el.scroll_into_view_with_scroll_into_view_options(&options);
            }
        });
    }

    // Mark read: everything shown is seen once the room is in sync (never behind the marker).
    let newest = threads
        .iter()
        .flat_map(|t| std::iter::once(&t.root.id).chain(t.replies.iter().map(|r| &r.id)))
        .max()
        .cloned();
    if let Some(newest) = newest.filter(|n| synced && my_marker.as_ref().is_none_or(|m| m < n)) {
        let engine = engine.clone();
        let me = session.me.user.id;
        // Not during render: the write bumps the revision this render just read.
        spawn(async move {
            let still_behind = engine.read_room(room, |d| {
                d.read_markers()
                    .into_iter()
                    .find(|m| m.user == me)
                    .is_none_or(|m| m.post < newest)
            });
            if still_behind {
                let now = crate::clock::server_now_ms();
                engine.write_room(room, None, |d| d.mark_read(me, &newest, now));
            }
        });
    }

    let d = detail();
    let title = d
        .as_ref()
        .map(|d| match &d.patient {
            Some(p) => format!("{} {}", p.name, tr("様", "")).trim().to_owned(),
            None => crate::ui::home::message_title(d, session.me.user.id),
        })
        .unwrap_or_default();
    let subtitle = d.as_ref().and_then(|d| d.patient.as_ref()).map(|p| {
        let mut bits = vec![p.name_kana.clone()];
        if let Some(age) = util::age(&p.birth_date) {
            bits.push(tr_string(format!("{age}歳"), format!("{age} y")));
        }
        if !p.care_level.is_empty() {
            bits.push(p.care_level.clone());
        }
        bits.join(" · ")
    });
    let is_patient_room = d.as_ref().is_some_and(|d| d.kind == RoomKind::Patient);
    let back_tab = match d.as_ref().map(|d| d.kind) {
        Some(RoomKind::Project) => Tab::Projects,
        Some(RoomKind::Message) => Tab::Messages,
        _ => Tab::Patients,
    };
    let pinned_ids: HashSet<PostId> = pins.iter().map(|p| p.post.clone()).collect();
    // A pinned post shows once: a pinned thread start takes its whole thread up into the
    // pinned section; a pinned reply stays in its thread, with a link to it up there.
    let pinned_threads: Vec<Thread> = pins
        .iter()
        .filter_map(|p| {
            threads
                .iter()
                .find(|t| t.root.id == p.post && !t.root.deleted)
        })
        .cloned()
        .collect();
    let pinned_replies: Vec<renraku_sync::Post> = engine.read_room(room, |d| {
        pins.iter()
            .filter_map(|p| d.post(&p.post))
            .filter(|p| !p.deleted && p.parent.is_some())
            .collect()
    });
    let urgent_ids: HashSet<PostId> = threads
        .iter()
        .take(urgent_n)
        .map(|t| t.root.id.clone())
        .collect();
    // An open urgent thread stays on top even when pinned (and is then not repeated below).
    let pinned_threads: Vec<Thread> = pinned_threads
        .into_iter()
        .filter(|t| !urgent_ids.contains(&t.root.id))
        .collect();
    let in_pinned: HashSet<PostId> = pinned_threads.iter().map(|t| t.root.id.clone()).collect();
    let threads: Vec<Thread> = threads
        .into_iter()
        .filter(|t| !in_pinned.contains(&t.root.id))
        .collect();
    let total = threads.len();
    // The first frame that has threads shows a screenful; the rest of the page comes after
    // it is painted.
    if total > 0 && !rest_scheduled.get() {
        rest_scheduled.set(true);
        util::mark("renraku:room-render");
        spawn(async move {
            util::after_next_paint().await;
            first_frame.set(false);
        });
    }
    let shown = if first_frame() {
        FIRST_SCREEN
    } else {
        pages() * PAGE
    };
    // The live screen replaces the kept copy once it has the room's posts (or knows why not).
    if total > 0 || synced || denied.is_some() || error().is_some() {
        kept_screen::reveal();
    }
    // Not (or no longer) a member: nothing of the room is shown, and what the device kept of
    // it goes (the engine drops the replica; the room's details and kept screen go here).
    let gone = denied
        .as_deref()
        .is_some_and(renraku_sync::frame::denied::is_membership);
    kept_screen::use_keep(
        session.me.user.id,
        total > 0 && !first_frame() && !gone,
        revision,
    );
    if gone {
        if !forgotten.get() {
            forgotten.set(true);
            kept_screen::forget_page(session.me.user.id, &util::page());
            let store = session.store.clone();
            spawn(async move { store.delete_cache(&detail_url(room)).await });
        }
        let reason = denied.unwrap_or_default();
        return rsx! {
            TopBar { title: String::new(), on_back: move |_| route::back(Route::Home(back_tab)) }
            main { class: "timeline",
                p { class: "error", role: "alert",
                    {tr("このルームを開けません。", "This room cannot be opened.")}
                    " ({reason})"
                }
            }
        };
    }
    // Opened at a post: the page holding its thread is shown, then it is scrolled to (once it
    // is in the replica; a room in sync without it gives up).
    // (A room of pinned threads only has no first frame to wait for.)
    let settled = !first_frame() || total == 0;
    if let Some(target) = focus
        .peek()
        .clone()
        .filter(|_| settled && !focus_shown.get())
    {
        let index = threads
            .iter()
            .position(|t| t.root.id == target || t.replies.iter().any(|r| r.id == target));
        if index.is_some() || synced || engine.read_room(room, |d| d.post(&target).is_some()) {
            focus_shown.set(true);
            spawn(async move {
                if let Some(i) = index.filter(|i| *i >= pages.peek().saturating_mul(PAGE)) {
                    pages.set(i / PAGE + 1);
                }
                scroll_to_post(&target).await;
            });
        }
    }
    let visible: Vec<Thread> = threads.into_iter().take(shown).collect();
    let member_count = members.read().len();
    let parking_href = Route::Parking { room: Some(room) }.href();

    rsx! {
        TopBar {
            title,
            subtitle,
            on_back: move |_| route::back(Route::Home(back_tab)),
            button {
                class: "chip",
                r#type: "button",
                aria_expanded: if team() { "true" } else { "false" },
                onclick: move |_| team.toggle(),
                // Short on screen (the patient's name needs the top bar's width), whole for a
                // screen reader.
                aria_label: tr_string(format!("ケアチーム {member_count} 人"), format!("Care team: {member_count}")),
                span { aria_hidden: "true", "👥 {member_count}" }
            }
            button {
                class: "icon",
                r#type: "button",
                aria_label: tr("このルームを検索", "Search this room"),
                onclick: move |_| route::go(Route::Search { room: Some(room) }),
                "🔍"
            }
            if is_patient_room {
                button {
                    class: "icon",
                    r#type: "button",
                    aria_label: tr("記録を出力", "Export the record"),
                    title: tr("記録を出力", "Export the record"),
                    onclick: move |_| exporting.set(true),
                    "📄"
                }
            }
            crate::push::RoomMuteToggle { room: room.get() }
        }
        if exporting() {
            crate::ui::record::RecordSheet { room, on_close: move |_| exporting.set(false) }
        }
        main { class: "timeline",
            if is_patient_room {
                a {
                    class: "room-tool",
                    href: "{parking_href}",
                    onclick: move |e: MouseEvent| {
                        e.prevent_default();
                        route::go(Route::Parking { room: Some(room) });
                    },
                    {tr("🅿 近くの駐車場", "🅿 Parking nearby")}
                }
            }
            if let Some(reason) = denied {
                p { class: "error", role: "alert",
                    {tr("このルームを開けません。", "This room cannot be opened.")} " ({reason})"
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if team() {
                section { class: "card team", aria_label: tr("ケアチーム", "Care team"),
                    h2 { {tr("ケアチーム", "Care team")} }
                    ul { class: "people",
                        for m in members.read().values().cloned().collect::<Vec<_>>() {
                            li { key: "{m.user}",
                                PersonLine { name: m.display_name.clone(), profession: m.profession, organization: m.organization_name.clone() }
                            }
                        }
                    }
                }
            }
            for thread in visible.iter().take(urgent_n).cloned() {
                ThreadView { key: "{thread.root.id}", thread, pinned: pinned_ids.clone() }
            }
            if !pinned_threads.is_empty() || !pinned_replies.is_empty() {
                section { class: "pinned", aria_label: tr("ピン留めされた投稿", "Pinned posts"),
                    h2 { class: "pinned-title", "📌 " {tr("ピン留め", "Pinned")} }
                    for thread in pinned_threads {
                        ThreadView { key: "pin-{thread.root.id}", thread, pinned: pinned_ids.clone() }
                    }
                    for post in pinned_replies {
                        PinnedReplyLink { key: "pin-{post.id}", post }
                    }
                }
            }
            if total == 0 && in_pinned.is_empty() {
                p { class: "muted pad",
                    if synced { {tr("まだ投稿はありません。", "No posts yet.")} } else { {tr("読み込み中…", "Loading…")} }
                }
            }
            for thread in visible.into_iter().skip(urgent_n) {
                ThreadView { key: "{thread.root.id}", thread, pinned: pinned_ids.clone() }
            }
            if total > pages() * PAGE {
                button { class: "secondary more", r#type: "button", onclick: move |_| pages += 1,
                    {tr_string(format!("さらに表示（残り {} 件）", total - pages() * PAGE), format!("Show more ({} left)", total - pages() * PAGE))}
                }
            }
            Composer {
                room,
                // A new thread goes on top: show it, with its 送信待ち / 保存済み.
                on_sent: move |_| {
                    if let Some(w) = web_sys::window() {
                        w.scroll_to_with_x_and_y(0.0, 0.0);
                    }
                },
            }
        }
        WhoSheet {}
    }
}

#[component]
fn ThreadView(thread: Thread, pinned: HashSet<PostId>) -> Element {
    let session = use_context::<Session>();
    let ctx = use_context::<RoomCtx>();
    let mut expanded = use_signal(|| false);
    let mut replying = use_signal(|| false);
    let n = thread.replies.len();
    let unread = ctx.unread.read().clone();
    // The divider's reply is never folded away.
    let divider_at = unread
        .as_ref()
        .and_then(|u| thread.replies.iter().position(|r| r.id == u.first));
    // Nor is the reply the room was opened at.
    let focus_at = ctx
        .focus
        .read()
        .as_ref()
        .and_then(|f| thread.replies.iter().position(|r| &r.id == f));
    let hidden = if expanded() {
        0
    } else {
        let folded = n.saturating_sub(SHOWN_REPLIES);
        divider_at
            .into_iter()
            .chain(focus_at)
            .fold(folded, usize::min)
    };
    let root_id = thread.root.id.clone();
    let section_id = format!("thread-{root_id}");
    let divider_before_root = unread.as_ref().is_some_and(|u| u.first == root_id);
    let is_unread = |post: &renraku_sync::Post| {
        unread.as_ref().is_some_and(|u| {
            post.author != session.me.user.id && u.after.as_ref().is_none_or(|a| &post.id > a)
        })
    };
    let root_unread = is_unread(&thread.root);
    // One-tap replies to someone else's thread start.
    let quick = thread.root.author != session.me.user.id && !thread.root.deleted;
    rsx! {
        section { class: "thread", id: "{section_id}",
            PostView {
                post: thread.root.clone(),
                pinned: pinned.contains(&thread.root.id),
                unread: root_unread,
                divider: divider_before_root,
                on_reply: move |_| replying.set(true),
            }
            if n > 0 {
                div { class: "replies",
                    if hidden > 0 {
                        button { class: "link fold", r#type: "button", aria_expanded: "false", onclick: move |_| expanded.set(true),
                            {tr_string(format!("以前の返信 {hidden} 件を表示"), format!("Show {hidden} earlier replies"))}
                        }
                    }
                    for reply in thread.replies.iter().skip(hidden).cloned() {
                        PostView {
                            key: "{reply.id}",
                            pinned: pinned.contains(&reply.id),
                            unread: is_unread(&reply),
                            divider: unread.as_ref().is_some_and(|u| u.first == reply.id),
                            post: reply,
                        }
                    }
                }
            }
            if replying() {
                Composer {
                    room: ctx.room,
                    parent: Some(root_id.clone()),
                    on_sent: move |_| replying.set(false),
                }
            } else if quick {
                div { class: "quick-replies", role: "group", aria_label: tr("ひとことで返信", "Quick replies"),
                    for text in crate::ui::composer::quick_replies() {
                        {
                            let session = session.clone();
                            let root = root_id.clone();
                            rsx! {
                                button {
                                    key: "{text}",
                                    class: "chip quick",
                                    r#type: "button",
                                    onclick: move |_| crate::ui::composer::quick_reply(&session, ctx.room, &root, text),
                                    "{text}"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scrolls `article#post-{id}` to the middle of the screen once it is rendered (its page may
/// be a render or two away), and marks it for a moment.
async fn scroll_to_post(post: &PostId) {
    let id = format!("post-{post}");
    for _ in 0..30 {
        util::after_next_paint().await;
        let el = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&id));
        if let Some(el) = el {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            el.scroll_into_view_with_scroll_into_view_options(&options);
            let _ = el.set_attribute("data-focus", "");
            return;
        }
    }
}

/// 「ここから未読」: where the posts not yet read begin.
#[component]
pub fn UnreadDivider() -> Element {
    let ctx = use_context::<RoomCtx>();
    let count = ctx.unread.read().as_ref().map_or(0, |u| u.count);
    rsx! {
        div { class: "unread-divider", id: "unread-divider", role: "separator",
            span { {tr_string(format!("ここから未読（{count} 件）"), format!("Unread from here ({count})"))} }
        }
    }
}

/// A pinned reply in the pinned section: who wrote it and its first line; tapping it goes
/// to the reply in its thread.
#[component]
fn PinnedReplyLink(post: renraku_sync::Post) -> Element {
    let ctx = use_context::<RoomCtx>();
    let author = ctx
        .members
        .read()
        .get(&post.author)
        .map(|m| m.display_name.clone())
        .unwrap_or_default();
    let first_line: String = post
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    let target = format!("post-{}", post.id);
    rsx! {
        button {
            class: "pinned-reply",
            r#type: "button",
            onclick: move |_| {
                if let Some(el) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id(&target))
                {
                    el.scroll_into_view();
                }
            },
            span { class: "author", "{author}" }
            span { class: "pinned-reply-text", "{first_line}" }
            span { class: "muted", {tr("返信へ", "Go to reply")} " ›" }
        }
    }
}

/// Who reacted / who has read, with profession and organization.
#[component]
fn WhoSheet() -> Element {
    let ctx = use_context::<RoomCtx>();
    let mut who = ctx.who;
    let Some(list) = who() else {
        return rsx! {};
    };
    let members = ctx.members.read();
    let people: Vec<(String, renraku_contract::Profession, Option<String>)> = list
        .users
        .iter()
        .map(|u| match members.get(u) {
            Some(m) => (
                m.display_name.clone(),
                m.profession,
                m.organization_name.clone(),
            ),
            None => (
                tr("（ルーム外のメンバー）", "(former member)").to_owned(),
                // Shown as その他 (Other), as an unknown profession always was.
                renraku_contract::Profession::Other,
                None,
            ),
        })
        .collect();
    rsx! {
        Sheet { title: list.title.clone(), on_close: move |_| who.set(None),
            if people.is_empty() {
                p { class: "muted pad", {tr("まだいません。", "Nobody yet.")} }
            }
            ul { class: "people",
                for (i, (name, profession, organization)) in people.into_iter().enumerate() {
                    li { key: "{i}", PersonLine { name, profession, organization } }
                }
            }
        }
    }
}
