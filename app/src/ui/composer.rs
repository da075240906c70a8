//! Writing a new thread or a reply. The post is written to the local replica at once (it
//! shows as 送信待ち) and reaches the server through the outbox, online or not.

use crate::i18n::tr;
use crate::ui::session::Session;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{PostId, RoomId};

/// Longest post text accepted here (the server's size limits are far above it).
pub const MAX_TEXT: usize = 10_000;

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
                .reply_with(me, id.clone(), parent, &body, files, now)
                .unwrap_or_default(),
            None => doc.start_thread_asking(
                me,
                id.clone(),
                &body,
                files,
                draft.request(),
                draft.urgent,
                now,
            ),
        });
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
    rsx! {
        form { class: if is_reply { "composer reply" } else { "composer" }, onsubmit: send,
            label { class: "visually-hidden", r#for: "{field_id}", "{label}" }
            textarea {
                id: "{field_id}",
                rows: if is_reply { "2" } else { "3" },
                placeholder: "{label}",
                maxlength: "{MAX_TEXT}",
                value: "{text}",
                oninput: move |e| text.set(e.value()),
            }
            if !is_reply {
                crate::ui::ack::AckPicker { draft: ack }
            }
            div { class: "composer-actions",
                crate::ui::templates::TemplatePicker { on_pick: move |t: String| text.set(t) }
                crate::attachments::AttachButton {
                    room,
                    on_attached: move |id| attachments.write().push(id),
                    attached: Some(attachments.read().clone()),
                    on_busy: move |busy: bool| {
                        let now = *adding.peek();
                        adding.set(if busy { now + 1 } else { now.saturating_sub(1) });
                    },
                }
                button {
                    class: "primary",
                    r#type: "submit",
                    disabled: adding() > 0 || text().trim().is_empty() && attachments.read().is_empty() || ack.read().incomplete(),
                    if is_reply { {tr("返信する", "Send reply")} } else { {tr("投稿する", "Post")} }
                }
            }
        }
    }
}
