//! Writing a new thread or a reply. The post is written to the local replica at once (it
//! shows as 送信待ち) and reaches the server through the outbox, online or not.
//!
//! A room's composer for new threads is docked at the bottom of the screen, as in a chat
//! app: a one-line field that grows while one writes, with the attach buttons and the
//! 至急 / 要確認 choices once there is something to send. Replies are written in their thread.

use crate::i18n::tr;
use crate::ui::session::Session;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{PostId, RoomId};

/// Longest post text accepted here (the server's size limits are far above it).
pub const MAX_TEXT: usize = 10_000;
/// From this many characters on, the composer shows how many are left.
pub const COUNTER_FROM: usize = 9_000;

/// `9,123 / 10,000`: the counter near the limit.
fn counter_text(n: usize) -> String {
    format!("{} / {}", grouped(n), grouped(MAX_TEXT))
}

fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes a reply with one tap (「了解しました」「確認します」 under a post).
pub fn quick_reply(session: &Session, room: RoomId, parent: &PostId, text: &str) {
    let me = session.me.user.id;
    let id = util::new_post_id();
    let now = crate::clock::server_now_ms();
    session
        .engine
        .write_room(room, Some(id.to_string()), |doc| {
            doc.reply_with(me, id.clone(), parent, text, Vec::new(), now)
                .unwrap_or_default()
        });
}

#[component]
pub fn Composer(
    room: RoomId,
    /// The thread replied to; `None` starts a new thread.
    parent: Option<PostId>,
    on_sent: Option<EventHandler<()>>,
) -> Element {
    let session = use_context::<Session>();
    let mut text = use_signal(String::new);
    // Attachment ids, filled by the attach button.
    let mut attachments = use_signal(Vec::<String>::new);
    // Picked files still being stored: sending now would leave them out of the post.
    let mut adding = use_signal(|| 0u32);
    // 至急 / 要確認 (new threads only).
    let mut ack = use_signal(crate::ui::ack::AckDraft::default);
    let is_reply = parent.is_some();

    let engine = session.engine.clone();
    let me = session.me.user.id;
    let p = parent.clone();
    let send = move |e: FormEvent| {
        e.prevent_default();
        let body = text.peek().trim().to_owned();
        if *adding.peek() > 0
            || body.is_empty() && attachments.peek().is_empty()
            || ack.peek().incomplete()
        {
            return;
        }
        let body: String = body.chars().take(MAX_TEXT).collect();
        let id = util::new_post_id();
        let now = crate::clock::server_now_ms();
        let parent = p.clone();
        let files = attachments.peek().clone();
        let draft = ack.peek().clone();
        engine.write_room(room, Some(id.to_string()), |doc| match &parent {
            Some(parent) => doc
                .reply_with(me, id.clone(), parent, &body, files.clone(), now)
                .unwrap_or_default(),
            None => doc.start_thread_asking(
                me,
                id.clone(),
                &body,
                files.clone(),
                draft.request(),
                draft.urgent,
                now,
            ),
        });
        crate::attachments::forget_picked(&files);
        text.set(String::new());
        attachments.set(Vec::new());
        ack.set(Default::default());
        if let Some(cb) = on_sent {
            cb.call(());
        }
    };
    let label = if is_reply {
        tr("返信を書く", "Write a reply")
    } else {
        tr("新しい投稿を書く", "Write a new post")
    };
    let field_id = match &parent {
        Some(p) => format!("reply-{p}"),
        None => "compose".to_owned(),
    };
    let length = text.read().chars().count();
    // The docked composer stays one line until there is something to send.
    let open = is_reply || length > 0 || !attachments.read().is_empty();
    let class = match (is_reply, open) {
        (true, _) => "composer reply",
        (false, true) => "composer docked open",
        (false, false) => "composer docked",
    };
    let can_send =
        adding() == 0 && (length > 0 || !attachments.read().is_empty()) && !ack.read().incomplete();
    rsx! {
        form { class, onsubmit: send, aria_label: if is_reply { tr("返信の入力", "Reply form") } else { tr("新規投稿", "New post form") },
            label { class: "visually-hidden", r#for: "{field_id}", "{label}" }
            textarea {
                id: "{field_id}",
                rows: if is_reply { "2" } else { "1" },
                placeholder: "{label}",
                maxlength: "{MAX_TEXT}",
                value: "{text}",
                oninput: move |e| text.set(e.value()),
            }
            if length >= COUNTER_FROM {
                p {
                    class: if length >= MAX_TEXT { "counter full" } else { "counter" },
                    aria_live: "polite",
                    title: tr("文字数", "Characters"),
                    "{counter_text(length)}"
                    if length >= MAX_TEXT {
                        " "
                        {tr("（上限です）", "(the limit)")}
                    }
                }
            }
            crate::attachments::PickedChips {
                ids: attachments.read().clone(),
                on_removed: move |id: String| attachments.write().retain(|a| *a != id),
            }
            if !is_reply && open {
                crate::ui::ack::AckPicker { draft: ack }
            }
            div { class: "composer-actions",
                crate::ui::templates::TemplatePicker { on_pick: move |t: String| text.set(t) }
                crate::attachments::AttachButton {
                    room,
                    on_attached: move |id| attachments.write().push(id),
                    on_busy: move |busy: bool| {
                        let now = *adding.peek();
                        adding.set(if busy { now + 1 } else { now.saturating_sub(1) });
                    },
                }
                span { class: "spacer" }
                button {
                    class: "primary send",
                    r#type: "submit",
                    disabled: !can_send,
                    if is_reply { {tr("返信する", "Send reply")} } else { {tr("投稿する", "Post")} }
                }
            }
        }
    }
}

/// The one-tap replies offered under a post written by someone else: posted as shown.
pub fn quick_replies() -> [&'static str; 2] {
    [
        tr("了解しました", "Understood."),
        tr("確認します", "I will check."),
    ]
}
