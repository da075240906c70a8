//! Acknowledgement requests (要確認) and urgent posts (至急) in a room: the composer's
//! choices (who is asked, by when, 至急), a post's panel (who has acknowledged and when, who
//! has not, and the one-tap 確認しました), the room's order (open urgent threads on top),
//! and the notification setting that lets urgent posts through quiet hours.

use crate::i18n::{tr, tr_string};
use crate::ui::room::RoomCtx;
use crate::ui::session::Session;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{AckRequest, Post, RoomDoc, Thread, UserId};
use wasm_bindgen::JsValue;

/// What the composer's author chose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AckDraft {
    /// Ask for acknowledgement (要確認).
    pub ask: bool,
    /// Ask named members (`to`) rather than the whole care team.
    pub named: bool,
    pub to: Vec<UserId>,
    /// Deadline, Unix ms.
    pub due: Option<i64>,
    /// 至急 (always asks: an urgent post stays on top until it is acknowledged).
    pub urgent: bool,
}

impl AckDraft {
    /// The request to write into the post, if any.
    pub fn request(&self) -> Option<AckRequest> {
        if !self.ask && !self.urgent {
            return None;
        }
        let named = self.named && !self.to.is_empty();
        Some(AckRequest {
            everyone: !named,
            to: if named { self.to.clone() } else { vec![] },
            due: self.due,
        })
    }

    /// Whether a send would leave out what the author meant (named, but nobody picked).
    pub fn incomplete(&self) -> bool {
        (self.ask || self.urgent) && self.named && self.to.is_empty()
    }
}

fn date(ms: i64) -> js_sys::Date {
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
}

/// Local wall-clock time `days` from today at `hour`:00.
fn at_hour(days: i32, hour: i32) -> i64 {
    let now = date(crate::clock::server_now_ms());
    let d = js_sys::Date::new_with_year_month_day_hr_min(
        now.get_full_year(),
        now.get_month() as i32,
        now.get_date() as i32 + days,
        hour,
        0,
    );
    d.get_time() as i64
}

/// The `datetime-local` value of `ms`.
fn local_input(ms: i64) -> String {
    let d = date(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// A deadline as people say it: 「12/4 9:00」, 「9:00」 today.
pub fn due_label(ms: i64) -> String {
    util::short_time(ms)
}

/// The composer's 至急 / 要確認 choices, for a new thread.
#[component]
pub fn AckPicker(mut draft: Signal<AckDraft>) -> Element {
    let session = use_context::<Session>();
    let me = session.me.user.id;
    let ctx = try_use_context::<RoomCtx>();
    let d = draft();
    let mut others: Vec<(UserId, String)> = ctx
        .map(|c| {
            c.members
                .read()
                .values()
                .filter(|m| m.user != me)
                .map(|m| (m.user, m.display_name.clone()))
                .collect()
        })
        .unwrap_or_default();
    others.sort_by(|a, b| a.1.cmp(&b.1));
    let asking = d.ask || d.urgent;
    let today_17 = at_hour(0, 17);
    let presets: Vec<(String, i64)> = [
        (tr("今日 17:00", "Today 17:00").to_owned(), today_17),
        (tr("明日 9:00", "Tomorrow 9:00").to_owned(), at_hour(1, 9)),
        (
            tr("明日 17:00", "Tomorrow 17:00").to_owned(),
            at_hour(1, 17),
        ),
    ]
    .into_iter()
    .filter(|(_, at)| *at > crate::clock::server_now_ms())
    .collect();
    rsx! {
        div { class: "ack-picker",
            div { class: "ack-choices",
                label { class: if d.urgent { "ack-choice urgent-choice on" } else { "ack-choice urgent-choice" },
                    input {
                        r#type: "checkbox",
                        checked: d.urgent,
                        onchange: move |e: Event<FormData>| draft.write().urgent = e.checked(),
                    }
                    span { {tr("至急", "Urgent")} }
                }
                label { class: if asking { "ack-choice on" } else { "ack-choice" },
                    input {
                        r#type: "checkbox",
                        checked: asking,
                        disabled: d.urgent,
                        onchange: move |e: Event<FormData>| draft.write().ask = e.checked(),
                    }
                    span { {tr("確認をお願いする", "Ask to acknowledge")} }
                }
            }
            if d.urgent {
                p { class: "hint", {tr("至急の投稿は、お願いした全員が確認するまでルームとホームの先頭に表示されます。",
                    "An urgent post stays at the top of the room and of home until everyone asked has acknowledged it.")} }
            }
            if asking {
                fieldset { class: "ack-who",
                    legend { {tr("確認する人", "Who")} }
                    label { class: "ack-choice",
                        input {
                            r#type: "radio",
                            name: "ack-who",
                            checked: !d.named,
                            onchange: move |_| draft.write().named = false,
                        }
                        span { {tr("ケアチーム全員", "The whole care team")} }
                    }
                    label { class: "ack-choice",
                        input {
                            r#type: "radio",
                            name: "ack-who",
                            checked: d.named,
                            onchange: move |_| draft.write().named = true,
                        }
                        span { {tr("メンバーを指定", "Chosen members")} }
                    }
                    if d.named {
                        div { class: "ack-members",
                            for (user, name) in others {
                                label { key: "{user}", class: "ack-choice",
                                    input {
                                        r#type: "checkbox",
                                        checked: d.to.contains(&user),
                                        onchange: move |e: Event<FormData>| {
                                            let mut w = draft.write();
                                            w.to.retain(|u| *u != user);
                                            if e.checked() {
                                                w.to.push(user);
                                                w.to.sort();
                                            }
                                        },
                                    }
                                    span { "{name}" }
                                }
                            }
                        }
                        if d.to.is_empty() {
                            p { class: "hint", {tr("確認してほしい人を選んでください。", "Choose who should acknowledge.")} }
                        }
                    }
                }
                fieldset { class: "ack-deadline",
                    legend { {tr("期限", "Deadline")} }
                    div { class: "ack-presets",
                        button {
                            class: if d.due.is_none() { "chip on" } else { "chip" },
                            r#type: "button",
                            aria_pressed: if d.due.is_none() { "true" } else { "false" },
                            onclick: move |_| draft.write().due = None,
                            {tr("なし", "None")}
                        }
                        for (label, at) in presets {
                            button {
                                key: "{at}",
                                class: if d.due == Some(at) { "chip on" } else { "chip" },
                                r#type: "button",
                                aria_pressed: if d.due == Some(at) { "true" } else { "false" },
                                onclick: move |_| draft.write().due = Some(at),
                                "{label}"
                            }
                        }
                    }
                    label { class: "visually-hidden", r#for: "ack-due-at", {tr("期限の日時", "Deadline date and time")} }
                    input {
                        id: "ack-due-at",
                        r#type: "datetime-local",
                        value: d.due.map(local_input).unwrap_or_default(),
                        onchange: move |e: Event<FormData>| {
                            let v = e.value();
                            draft.write().due = if v.is_empty() {
                                None
                            } else {
                                let t = js_sys::Date::new(&JsValue::from_str(&v)).get_time();
                                (!t.is_nan()).then_some(t as i64)
                            };
                        },
                    }
                    if let Some(due) = d.due {
                        p { class: "hint",
                            {tr_string(format!("{} までに確認してください", due_label(due)), format!("Please acknowledge by {}", due_label(due)))}
                        }
                    }
                }
            }
        }
    }
}

/// The 至急 badge and the 要確認 panel of a post: who was asked, who acknowledged and when,
/// who has not, and the button for me if I am asked.
#[component]
pub fn AckPanel(post: Post) -> Element {
    let session = use_context::<Session>();
    let ctx = use_context::<RoomCtx>();
    let engine = session.engine.clone();
    let me = session.me.user.id;
    let room = ctx.room;
    let _ = engine.room_revision(room)();
    let _ = engine.outbox_revision()();
    let members = ctx.members.read();
    let member_ids: Vec<UserId> = members.keys().copied().collect();
    let status = engine.read_room(room, |d| d.ack_status(&post.id, member_ids.clone()));
    let name = |u: &UserId| {
        members
            .get(u)
            .map(|m| m.display_name.clone())
            .unwrap_or_else(|| tr("（ルーム外のメンバー）", "(former member)").to_owned())
    };
    let Some(status) = status else {
        drop(members);
        return rsx! {
            if post.urgent {
                p { class: "urgent-badge", {tr("至急", "Urgent")} }
            }
        };
    };
    let now = crate::clock::server_now_ms();
    let overdue = status.overdue(now);
    let complete = status.complete();
    let asked_n = status.acked.len() + status.missing.len();
    let acked: Vec<(String, i64)> = status.acked.iter().map(|a| (name(&a.user), a.at)).collect();
    let missing: String = status
        .missing
        .iter()
        .map(name)
        .collect::<Vec<_>>()
        .join("、");
    drop(members);
    let asks_me = status.request.asks(me, post.author);
    let my_ack = status.acked.iter().find(|a| a.user == me).map(|a| a.at);
    let pending = engine.pending(room).contains(&format!("ack:{}", post.id));
    let pid = post.id.clone();
    let class = if complete {
        "ack-panel done"
    } else if overdue {
        "ack-panel overdue"
    } else {
        "ack-panel"
    };
    rsx! {
        section { class: "{class}", aria_label: tr("確認のお願い", "Acknowledgement request"),
            div { class: "ack-head",
                if post.urgent {
                    span { class: "urgent-badge", {tr("至急", "Urgent")} }
                }
                span { class: "ack-badge", {tr("要確認", "Please acknowledge")} }
                if let Some(due) = status.request.due {
                    span { class: if overdue { "ack-due late" } else { "ack-due" },
                        {tr_string(format!("期限 {}", due_label(due)), format!("By {}", due_label(due)))}
                        if overdue { " " {tr("（期限切れ）", "(overdue)")} }
                    }
                }
                span { class: "ack-count", role: "status",
                    if complete {
                        {tr("✓ 全員確認済み", "✓ Everyone acknowledged")}
                        " "
                    }
                    {tr_string(format!("確認済み {}/{}", acked.len(), asked_n), format!("Acknowledged {}/{}", acked.len(), asked_n))}
                }
            }
            if !acked.is_empty() {
                ul { class: "ack-list",
                    for (i, (n, at)) in acked.into_iter().enumerate() {
                        li { key: "a{i}", class: "ack-yes",
                            "✓ {n} "
                            span { class: "ack-at", "{util::short_time(at)}" }
                        }
                    }
                }
            }
            if !missing.is_empty() {
                p { class: "ack-missing",
                    {tr("未確認: ", "Not yet: ")}
                    "{missing}"
                }
            }
            if asks_me {
                if let Some(at) = my_ack {
                    p { class: "ack-mine",
                        {tr_string(format!("✓ 確認しました（{}）", util::short_time(at)), format!("✓ You acknowledged ({})", util::short_time(at)))}
                        if pending { " · " {tr("送信待ち", "Waiting to send")} }
                    }
                } else {
                    button {
                        class: "primary ack-button",
                        r#type: "button",
                        onclick: move |_| {
                            let at = crate::clock::server_now_ms();
                            engine.write_room(room, Some(format!("ack:{pid}")), |d| d.acknowledge(me, &pid, at));
                        },
                        {tr("確認しました", "Acknowledge")}
                    }
                }
            }
        }
    }
}

/// Whether a thread stays on top: urgent, and someone asked has not acknowledged yet.
fn open_urgent(doc: &RoomDoc, post: &Post, members: &[UserId]) -> bool {
    post.urgent
        && !post.deleted
        && doc
            .ack_status(&post.id, members.iter().copied())
            .is_some_and(|s| !s.missing.is_empty())
}

/// The room's threads with the open urgent ones first (each group keeps its order), and how
/// many those are (they are shown above the pinned posts too).
pub fn urgent_first(
    doc: &RoomDoc,
    threads: Vec<Thread>,
    members: &[UserId],
) -> (Vec<Thread>, usize) {
    let (mut top, rest): (Vec<Thread>, Vec<Thread>) = threads
        .into_iter()
        .partition(|t| open_urgent(doc, &t.root, members));
    let n = top.len();
    top.extend(rest);
    (top, n)
}

/// The notification setting for urgent posts during quiet hours (off by default).
#[component]
pub fn UrgentInQuiet(
    settings: renraku_contract::PushSettings,
    busy: bool,
    on_change: EventHandler<renraku_contract::PushSettings>,
) -> Element {
    let on = settings.urgent_in_quiet;
    rsx! {
        crate::push::Switch {
            label: tr("至急の投稿は通知しない時間帯にも通知する", "Notify urgent posts during quiet hours").to_owned(),
            hint: Some(tr("オンにすると、「至急」の投稿とその確認のお願いは、通知しない時間帯でも届きます。",
                "When on, posts marked urgent and their reminders reach you during quiet hours too.").to_owned()),
            on,
            disabled: busy,
            on_change: move |checked: bool| {
                let mut next = settings.clone();
                next.urgent_in_quiet = checked;
                on_change.call(next);
            },
        }
    }
}
