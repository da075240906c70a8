//! One post: author with profession and organization, text, reactions with counts (tap a
//! count to see who), read status 「既読 3/5」 (tap to see who), pin, edit and delete of
//! one's own posts, and 送信待ち / 保存済み for one's own writes.

use crate::i18n::{tr, tr_string};
use crate::ui::room::{RoomCtx, Who};
use crate::ui::session::Session;
use crate::util;
use dioxus::prelude::*;
use renraku_sync::{Post, Reaction};

pub fn reaction_label(kind: Reaction) -> &'static str {
    match kind {
        Reaction::Like => tr("いいね", "Like"),
        Reaction::Ack => tr("了解", "Got it"),
        Reaction::Checked => tr("確認しました", "Checked"),
    }
}

/// A post longer than this many characters or lines is folded behind 続きを読む.
const FOLD_CHARS: usize = 300;
const FOLD_LINES: usize = 6;

/// The beginning of a long text, or `None` when it is short enough to show whole.
fn folded(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if text.chars().count() <= FOLD_CHARS && lines.len() <= FOLD_LINES {
        return None;
    }
    let head = lines[..lines.len().min(FOLD_LINES)].join("\n");
    let mut head: String = head.chars().take(FOLD_CHARS).collect();
    head.push('…');
    Some(head)
}

#[component]
pub fn PostView(
    post: Post,
    pinned: bool,
    on_reply: Option<EventHandler<()>>,
    /// Posted by someone else since I last read the room.
    #[props(default)]
    unread: bool,
    /// The 「ここから未読」 divider goes right before this post.
    #[props(default)]
    divider: bool,
) -> Element {
    let session = use_context::<Session>();
    let ctx = use_context::<RoomCtx>();
    let engine = session.engine.clone();
    let me = session.me.user.id;
    let room = ctx.room;
    let mut editing = use_signal(|| None::<String>);
    let mut menu = use_signal(|| false);
    let mut who = ctx.who;
    let mut unfolded = use_signal(|| false);
    // What "copy this thread" did, said once.
    let mut copied = use_signal(|| None::<String>);

    // This room's changes and the outbox's (送信待ち), not every room's.
    let _ = engine.room_revision(room)();
    let _ = engine.outbox_revision()();
    let (reactions, readers) =
        engine.read_room(room, |d| (d.reactions(&post.id), d.readers_of(&post.id)));
    let pending = engine.pending(room).contains(post.id.as_str());
    let members = ctx.members.read();
    let author = members.get(&post.author);
    let author_name = author
        .map(|m| m.display_name.clone())
        .unwrap_or_else(|| tr("（ルーム外のメンバー）", "(former member)").to_owned());
    let author_meta = author.map(|m| {
        let mut s = crate::api::profession_label(m.profession).to_owned();
        if let Some(org) = &m.organization_name {
            s.push_str(" · ");
            s.push_str(org);
        }
        s
    });
    // Read status counts the other members: the author has read their own post.
    let others: Vec<_> = members
        .keys()
        .filter(|u| **u != post.author)
        .copied()
        .collect();
    let read_by: Vec<_> = readers
        .iter()
        .filter(|u| others.contains(u))
        .copied()
        .collect();
    let (read_n, member_n) = (read_by.len(), others.len());
    drop(members);
    let mine = post.author == me;
    let my_reaction = reactions
        .iter()
        .find(|r| r.users.contains(&me))
        .map(|r| r.kind);

    if post.deleted {
        return rsx! {
            if divider {
                crate::ui::room::UnreadDivider {}
            }
            article { class: "post deleted", p { class: "muted", {tr("この投稿は削除されました。", "This post was deleted.")} } }
        };
    }
    let fold = if unfolded() { None } else { folded(&post.text) };

    let post_id = post.id.clone();
    let save_edit = {
        let engine = engine.clone();
        let post_id = post_id.clone();
        move |e: FormEvent| {
            e.prevent_default();
            let Some(text) = editing.peek().clone() else {
                return;
            };
            let text = text.trim().to_owned();
            if text.is_empty() {
                return;
            }
            let now = crate::clock::server_now_ms();
            engine.write_room(room, Some(post_id.to_string()), |d| {
                d.edit(me, &post_id, &text, now).unwrap_or_default()
            });
            editing.set(None);
        }
    };

    rsx! {
        if divider {
            crate::ui::room::UnreadDivider {}
        }
        article {
            class: format!("post{}{}", if post.urgent { " urgent" } else { "" }, if unread { " unread" } else { "" }),
            id: "post-{post.id}",
            div { class: "post-head",
                span { class: "author", "{author_name}" }
                if let Some(meta) = author_meta {
                    span { class: "author-meta", "{meta}" }
                }
                span { class: "time",
                    "{util::short_time(post.created_at)}"
                    if post.edited_at.is_some() {
                        " "
                        {tr("（編集済み）", "(edited)")}
                    }
                }
            }
            if pinned {
                p { class: "pin-note", "📌 " {tr("ピン留め", "Pinned")} }
            }
            if unread {
                span { class: "visually-hidden", {tr("未読", "Unread")} }
            }
            if let Some(draft) = editing() {
                form { class: "composer", onsubmit: save_edit,
                    label { class: "visually-hidden", r#for: "edit-{post.id}", {tr("投稿を編集", "Edit post")} }
                    textarea {
                        id: "edit-{post.id}",
                        rows: "3",
                        value: "{draft}",
                        oninput: move |e| editing.set(Some(e.value())),
                    }
                    div { class: "composer-actions",
                        button { class: "secondary", r#type: "button", onclick: move |_| editing.set(None), {tr("キャンセル", "Cancel")} }
                        button { class: "primary", r#type: "submit", {tr("保存", "Save")} }
                    }
                }
            } else if let Some(head) = fold {
                p { class: "text folded", "{head}" }
                button {
                    class: "link read-more",
                    r#type: "button",
                    aria_expanded: "false",
                    onclick: move |_| unfolded.set(true),
                    {tr("続きを読む", "Read more")}
                }
            } else {
                p { class: "text", "{post.text}" }
            }
            if !post.attachments.is_empty() {
                crate::attachments::AttachmentThumbs { room, ids: post.attachments.clone() }
            }
            if post.urgent || post.ack.is_some() {
                crate::ui::ack::AckPanel { post: post.clone() }
            }
            div { class: "reactions", role: "group", aria_label: tr("リアクション", "Reactions"),
                // A post that asks for acknowledgement has its own 確認しました (ack.rs).
                for kind in Reaction::ALL.into_iter().filter(|k| post.ack.is_none() || *k != Reaction::Checked) {
                    {
                        let count = reactions.iter().find(|r| r.kind == kind).map(|r| r.count).unwrap_or(0);
                        let users = reactions.iter().find(|r| r.kind == kind).map(|r| r.users.clone()).unwrap_or_default();
                        let on = my_reaction == Some(kind);
                        let engine = engine.clone();
                        let pid = post.id.clone();
                        let pid2 = post.id.clone();
                        rsx! {
                            span { key: "{kind.as_str()}", class: "reaction",
                                button {
                                    class: if on { "react on" } else { "react" },
                                    r#type: "button",
                                    aria_pressed: if on { "true" } else { "false" },
                                    onclick: move |_| {
                                        engine.write_room(room, None, |d| {
                                            if on { d.unreact(me, &pid) } else { d.react(me, &pid, kind) }
                                        });
                                    },
                                    "{reaction_label(kind)}"
                                }
                                if count > 0 {
                                    button {
                                        class: "count",
                                        r#type: "button",
                                        aria_label: tr_string(format!("{}した人 {count} 人", reaction_label(kind)), format!("{count} pressed {}", reaction_label(kind))),
                                        onclick: move |_| who.set(Some(Who {
                                            title: tr_string(format!("「{}」した人", reaction_label(kind)), format!("Pressed “{}”", reaction_label(kind))),
                                            users: users.clone(),
                                            post: Some(pid2.clone()),
                                        })),
                                        "{count}"
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "post-foot",
                button {
                    class: "read-status",
                    r#type: "button",
                    aria_label: tr_string(format!("既読 {read_n} / {member_n} 人。既読者を表示"), format!("Read by {read_n} of {member_n}. Show who")),
                    onclick: {
                        let read_by = read_by.clone();
                        move |_| who.set(Some(Who {
                            title: tr("既読", "Read by").to_owned(),
                            users: read_by.clone(),
                            post: None,
                        }))
                    },
                    {tr_string(format!("既読 {read_n}/{member_n}"), format!("Read {read_n}/{member_n}"))}
                }
                if mine {
                    span { class: if pending { "state pending" } else { "state saved" }, role: "status",
                        if pending { {tr("送信待ち", "Waiting to send")} } else { {tr("保存済み", "Saved")} }
                    }
                }
                span { class: "spacer" }
                if let Some(reply) = on_reply {
                    button { class: "link", r#type: "button", onclick: move |_| reply.call(()), {tr("返信", "Reply")} }
                }
                button {
                    class: "icon post-menu",
                    r#type: "button",
                    aria_label: tr("その他の操作", "More actions"),
                    aria_haspopup: "dialog",
                    onclick: move |_| menu.set(true),
                    "⋯"
                }
            }
            if let Some(said) = copied() {
                p { class: "notice", role: "status", onclick: move |_| copied.set(None), "{said}" }
            }
            if menu() {
                crate::ui::widgets::Sheet { title: tr("投稿の操作", "Post actions").to_owned(), on_close: move |_| menu.set(false),
                    div { class: "menu",
                        button {
                            class: "menu-item",
                            r#type: "button",
                            onclick: {
                                let engine = engine.clone();
                                let pid = post.id.clone();
                                move |_| {
                                    let now = crate::clock::server_now_ms();
                                    engine.write_room(room, None, |d| if pinned { d.unpin(&pid) } else { d.pin(me, &pid, now) });
                                    menu.set(false);
                                }
                            },
                            if pinned { {tr("ピン留めを外す", "Unpin")} } else { {tr("チームにピン留め", "Pin for the team")} }
                        }
                        button {
                            class: "menu-item",
                            r#type: "button",
                            onclick: {
                                let thread = post.parent.clone().unwrap_or(post.id.clone());
                                move |_| {
                                    let thread = thread.clone();
                                    spawn(async move {
                                        let said = crate::ui::record::copy_thread(room, &thread).await;
                                        copied.set(Some(said));
                                        menu.set(false);
                                    });
                                }
                            },
                            {tr("このスレッドをコピー", "Copy this thread")}
                        }
                        if mine {
                            button {
                                class: "menu-item",
                                r#type: "button",
                                onclick: {
                                    let text = post.text.clone();
                                    move |_| {
                                        editing.set(Some(text.clone()));
                                        menu.set(false);
                                    }
                                },
                                {tr("編集", "Edit")}
                            }
                            button {
                                class: "menu-item danger",
                                r#type: "button",
                                onclick: {
                                    let engine = engine.clone();
                                    let pid = post.id.clone();
                                    move |_| {
                                        let sure = web_sys::window()
                                            .and_then(|w| w.confirm_with_message(tr("この投稿を削除しますか？", "Delete this post?")).ok())
                                            .unwrap_or(false);
                                        if sure {
                                            let now = crate::clock::server_now_ms();
                                            engine.write_room(room, Some(pid.to_string()), |d| d.delete(me, &pid, now).unwrap_or_default());
                                        }
                                        menu.set(false);
                                    }
                                },
                                {tr("削除", "Delete")}
                            }
                        }
                    }
                }
            }
        }
    }
}
