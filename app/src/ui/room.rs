//! A room's timeline: the patient header and care team, posts pinned for the team, then
//! threads by latest activity (older replies folded), a page at a time so a 1,000-post room
//! paints its first screen at once.

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
    let mut writing = use_signal(|| false);
    use_context_provider(|| RoomCtx { room, members, who });

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
    let back_tab = match d.as_ref().map(|d| d.kind) {
        Some(RoomKind::Project) => Tab::Projects,
        Some(RoomKind::Message) => Tab::Messages,
        _ => Tab::Patients,
    };
    let pinned_ids: HashSet<PostId> = pins.iter().map(|p| p.post.clone()).collect();
    let pinned_posts: Vec<_> = engine.read_room(room, |d| {
        pins.iter()
            .filter_map(|p| d.post(&p.post))
            .filter(|p| !p.deleted)
            .collect()
    });
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
    let visible: Vec<Thread> = threads.into_iter().take(shown).collect();
    let member_count = members.read().len();

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
                {tr_string(format!("チーム {member_count}"), format!("Team {member_count}"))}
            }
            crate::push::RoomMuteToggle { room: room.get() }
        }
        main { class: "timeline",
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
            if writing() {
                Composer { room, on_sent: move |_| writing.set(false) }
            } else {
                button { class: "new-thread", r#type: "button", onclick: move |_| writing.set(true),
                    {tr("＋ 新しい投稿", "+ New post")}
                }
            }
            for thread in visible.iter().take(urgent_n).cloned() {
                ThreadView { key: "{thread.root.id}", thread, pinned: pinned_ids.clone() }
            }
            if !pinned_posts.is_empty() {
                section { class: "pinned", aria_label: tr("ピン留めされた投稿", "Pinned posts"),
                    for post in pinned_posts {
                        PostView { key: "pin-{post.id}", post, pinned: true }
                    }
                }
            }
            if total == 0 {
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
        }
        WhoSheet {}
    }
}

#[component]
fn ThreadView(thread: Thread, pinned: HashSet<PostId>) -> Element {
    let ctx = use_context::<RoomCtx>();
    let mut expanded = use_signal(|| false);
    let mut replying = use_signal(|| false);
    let n = thread.replies.len();
    let hidden = if expanded() {
        0
    } else {
        n.saturating_sub(SHOWN_REPLIES)
    };
    let root_id = thread.root.id.clone();
    rsx! {
        section { class: "thread",
            PostView {
                post: thread.root.clone(),
                pinned: pinned.contains(&thread.root.id),
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
                        PostView { key: "{reply.id}", pinned: pinned.contains(&reply.id), post: reply }
                    }
                }
            }
            if replying() {
                Composer { room: ctx.room, parent: Some(root_id), on_sent: move |_| replying.set(false) }
            }
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
