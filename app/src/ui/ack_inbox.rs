//! Home's 「確認待ち」: acknowledgement requests waiting for me (overdue first, then
//! urgent) and my requests still waiting for others. The list is the server's answer kept
//! in IndexedDB (`/api/acks`), so it shows offline; what this device has acknowledged since
//! (its replica of the room says so) leaves the list at once, online or not.

use crate::api::{self, AckInbox as Inbox, AckItem};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route};
use crate::ui::session::Session;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::PostId;

pub const ACKS_URL: &str = "/api/acks";

#[component]
pub fn AckInbox() -> Element {
    let session = use_context::<Session>();
    let mut inbox = use_signal(|| None::<Inbox>);
    let s = session.clone();
    use_hook(move || {
        spawn(async move {
            if let Some(kept) = api::cached_only::<Inbox>(&s.store, ACKS_URL).await {
                inbox.set(Some(kept));
            }
            match api::cached_get::<Inbox>(&s.store, ACKS_URL).await {
                Ok(fresh) => inbox.set(Some(fresh)),
                Err(e) if e.is_unauthorized() => s.expired(),
                // Offline or failing: the kept list stays.
                Err(_) => {}
            }
        });
    });
    let Some(inbox) = inbox() else {
        return rsx! {};
    };
    let me = session.me.user.id;
    let engine = session.engine.clone();
    let _ = engine.outbox_revision()();
    // Acknowledged on this device since the list was fetched: no longer waiting.
    let now = crate::clock::server_now_ms();
    let mut waiting: Vec<AckItem> = inbox
        .waiting_for_me
        .into_iter()
        .filter(|item| {
            let Some(post) = PostId::parse(&item.post) else {
                return true;
            };
            !engine
                .read_room_if_any(item.room, |d| d.acks(&post).iter().any(|a| a.user == me))
                .unwrap_or(false)
        })
        .collect();
    waiting.sort_by_key(|i| {
        (
            i.due_at.is_none_or(|d| d > now),
            !i.urgent,
            i.due_at.unwrap_or(i64::MAX),
            std::cmp::Reverse(i.created_at),
        )
    });
    let mine = inbox.mine;
    if waiting.is_empty() && mine.is_empty() {
        return rsx! {};
    }
    let n = waiting.len();
    rsx! {
        section { class: "ack-inbox", aria_labelledby: "ack-inbox-title",
            h2 { id: "ack-inbox-title",
                {tr("確認待ち", "Waiting for acknowledgement")}
                if n > 0 {
                    span { class: "badge", aria_label: tr_string(format!("{n} 件"), format!("{n} items")), "{n}" }
                }
            }
            if !waiting.is_empty() {
                ul { class: "ack-items", aria_label: tr("あなたの確認を待っています", "Waiting for you"),
                    for item in waiting {
                        AckRow { key: "w-{item.room}-{item.post}", item, now, mine: false }
                    }
                }
            }
            if !mine.is_empty() {
                h3 { {tr("あなたの依頼（未確認の人がいます）", "Your requests (not everyone yet)")} }
                ul { class: "ack-items", aria_label: tr("あなたの依頼", "Your requests"),
                    for item in mine {
                        AckRow { key: "m-{item.room}-{item.post}", item, now, mine: true }
                    }
                }
            }
        }
    }
}

#[component]
fn AckRow(item: AckItem, now: i64, mine: bool) -> Element {
    let overdue = item.due_at.is_some_and(|d| d <= now);
    let room = item.room;
    let href = Route::Room(room).href();
    let class = match (item.urgent, overdue) {
        (true, _) => "ack-item urgent",
        (false, true) => "ack-item overdue",
        _ => "ack-item",
    };
    let who = if item.room_title.is_empty() {
        item.author_name.clone()
    } else if item.room_kind == renraku_sync::RoomKind::Patient {
        format!(
            "{} {} · {}",
            item.room_title,
            tr("様", ""),
            item.author_name
        )
        .replace("  ", " ")
    } else {
        format!("{} · {}", item.room_title, item.author_name)
    };
    rsx! {
        li { class: "{class}",
            a {
                href: "{href}",
                onclick: move |e| {
                    e.prevent_default();
                    route::go(Route::Room(room));
                },
                span { class: "ack-item-head",
                    if item.urgent {
                        span { class: "urgent-badge", {tr("至急", "Urgent")} }
                    }
                    if let Some(due) = item.due_at {
                        span { class: if overdue { "ack-due late" } else { "ack-due" },
                            if overdue {
                                {tr_string(format!("期限切れ {}", util::short_time(due)), format!("Overdue {}", util::short_time(due)))}
                            } else {
                                {tr_string(format!("期限 {}", util::short_time(due)), format!("By {}", util::short_time(due)))}
                            }
                        }
                    }
                    if mine {
                        span { class: "ack-count",
                            {tr_string(format!("確認済み {}/{}", item.acked, item.asked), format!("Acknowledged {}/{}", item.acked, item.asked))}
                        }
                    }
                }
                span { class: "ack-item-who", "{who}" }
                span { class: "ack-item-text", "{item.excerpt}" }
            }
        }
    }
}
