//! Patient and project rooms of the municipality and their members. The member picker asks
//! the server for candidates (`GET /api/admin/rooms/{id}/candidates`): professionals of this
//! municipality and of those sharing a wide-area agreement with it, and no one else.

use super::Session;
use super::{check, go, load, murl, Field, FormError, LoadState};
use crate::api::{self, profession_label};
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use crate::util;
use dioxus::prelude::*;
use renraku_contract::{
    AdminRoom, Candidate, Member, MemberRole, NewMember, NewRoom, RoomKind, RoomUpdate, UserId,
};

fn kind_label(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Patient => tr("患者", "Patient"),
        RoomKind::Project => tr("プロジェクト", "Project"),
        RoomKind::Message => tr("メッセージ", "Message"),
    }
}

#[component]
pub fn Rooms() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut rooms = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<AdminRoom>>(&s, &murl(&s.slug, "rooms")).await }
    });
    let mut filter = use_signal(String::new);
    let mut creating = use_signal(|| false);
    let list = rooms.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            input {
                r#type: "search",
                aria_label: tr("ルーム名で絞り込み", "Filter by room name"),
                placeholder: tr("ルーム名で絞り込み", "Filter by room name"),
                value: "{filter}",
                oninput: move |e| filter.set(e.value()),
            }
            button { class: "primary", r#type: "button", onclick: move |_| creating.set(true),
                {tr("＋ プロジェクトを作成", "+ New project")}
            }
        }
        p { class: "muted pad",
            {tr(
                "患者のルームは患者の登録と同時に作られます。メッセージのルームは本人たちだけのものなので、ここには表示されません。",
                "A patient's room is created with the patient. Message rooms belong to their members and are not listed.",
            )}
        }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(list)) => rsx! {
                ul { class: "admin-list", aria_label: tr("ルーム一覧", "Rooms"),
                    for r in list.into_iter().filter(|r| util::matches_filter(&filter(), &[&r.title])) {
                        li { key: "{r.id}",
                            button {
                                r#type: "button",
                                class: if r.archived { "admin-item disabled" } else { "admin-item" },
                                onclick: move |_| go(format!("rooms/{}", r.id)),
                                span { class: "name",
                                    "{r.title}"
                                    span { class: "tag", "{kind_label(r.kind)}" }
                                    if r.archived {
                                        span { class: "tag off", {tr("アーカイブ", "Archived")} }
                                    }
                                }
                                span { class: "meta",
                                    {tr_string(format!("メンバー {} 人", r.member_count), format!("{} members", r.member_count))}
                                }
                            }
                        }
                    }
                }
            },
        }
        if creating() {
            NewProject {
                on_close: move |_| creating.set(false),
                on_created: move |id: i64| {
                    rooms.restart();
                    creating.set(false);
                    go(format!("rooms/{id}"));
                },
            }
        }
    }
}

#[component]
fn NewProject(on_close: EventHandler<()>, on_created: EventHandler<i64>) -> Element {
    let session = use_context::<Session>();
    let title = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        spawn(async move {
            let body = NewRoom {
                kind: RoomKind::Project,
                title: title.peek().clone(),
                patient: None,
            };
            let result = api::post::<_, AdminRoom>(&murl(&s.slug, "rooms"), &body).await;
            busy.set(false);
            match check(&s, result) {
                Ok(room) => on_created.call(room.id.get()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    rsx! {
        Sheet { title: tr("プロジェクトを作成", "New project").to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "project-title", label: tr("プロジェクト名", "Project name").to_owned(), value: title, required: true }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("作成する", "Create")} }
            }
        }
    }
}

/// `/{m}/admin/rooms/{id}`: a room's members, removing them, and adding candidates.
#[component]
pub fn RoomMembers(room: i64) -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut info = use_resource(move || {
        let s = s.clone();
        async move {
            load::<Vec<AdminRoom>>(&s, &murl(&s.slug, "rooms"))
                .await
                .map(|rooms| rooms.into_iter().find(|r| r.id.get() == room))
        }
    });
    let s = session.clone();
    let mut members = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Member>>(&s, &format!("/api/admin/rooms/{room}/members")).await }
    });
    let mut query = use_signal(String::new);
    let s = session.clone();
    let mut candidates = use_resource(move || {
        let s = s.clone();
        let q = query();
        async move {
            let q = String::from(js_sys::encode_uri_component(q.trim()));
            load::<Vec<Candidate>>(&s, &format!("/api/admin/rooms/{room}/candidates?q={q}")).await
        }
    });
    let mut removing = use_signal(|| None::<UserId>);
    let mut error = use_signal(|| None::<String>);
    let mut notice = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let s = session.clone();
    let add = move |user: UserId, name: String| {
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            let url = format!("/api/admin/rooms/{room}/members/{user}");
            let result = api::send::<_, ()>(
                "PUT",
                &url,
                &NewMember {
                    role: Some(MemberRole::Member),
                },
            )
            .await;
            busy.set(false);
            match check(&s, result) {
                Ok(()) => {
                    notice.set(Some(tr_string(
                        format!("{name} さんを追加しました。"),
                        format!("{name} was added."),
                    )));
                    members.restart();
                    candidates.restart();
                    info.restart();
                }
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let s = session.clone();
    let remove = move |user: UserId, name: String| {
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            let result = api::delete(&format!("/api/admin/rooms/{room}/members/{user}")).await;
            busy.set(false);
            removing.set(None);
            match check(&s, result) {
                Ok(()) => {
                    notice.set(Some(tr_string(
                        format!("{name} さんをルームから外しました。"),
                        format!("{name} was removed from the room."),
                    )));
                    members.restart();
                    candidates.restart();
                    info.restart();
                }
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let s = session.clone();
    let room_info = info.read().clone();
    let archived = matches!(&room_info, Some(Ok(Some(r))) if r.archived);
    let toggle_archive = move |_| {
        if busy() {
            return;
        }
        busy.set(true);
        let s = s.clone();
        spawn(async move {
            let result = api::send::<_, ()>(
                "PATCH",
                &format!("/api/admin/rooms/{room}"),
                &RoomUpdate {
                    title: None,
                    archived: Some(!archived),
                },
            )
            .await;
            busy.set(false);
            match check(&s, result) {
                Ok(()) => info.restart(),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    let (title, kind) = match &room_info {
        Some(Ok(Some(r))) => (r.title.clone(), kind_label(r.kind).to_owned()),
        Some(Ok(None)) => (tr("見つかりません", "Not found").to_owned(), String::new()),
        _ => (String::new(), String::new()),
    };
    let member_list = members.read().clone();
    let candidate_list = candidates.read().clone();
    rsx! {
        section { class: "card admin-room", aria_label: "{title}",
            div { class: "row spread",
                button { class: "link", r#type: "button", onclick: move |_| go("rooms"), {tr("‹ ルーム一覧", "‹ Rooms")} }
                if !kind.is_empty() {
                    span { class: "tag", "{kind}" }
                }
            }
            h2 { "{title}"
                if archived {
                    span { class: "tag off", {tr("アーカイブ", "Archived")} }
                }
            }
            if matches!(&room_info, Some(Ok(Some(_)))) {
                button { class: "secondary small", r#type: "button", disabled: busy(), onclick: toggle_archive,
                    if archived { {tr("アーカイブから戻す", "Restore")} } else { {tr("アーカイブする", "Archive")} }
                }
            }
        }
        if let Some(msg) = notice() {
            p { class: "admin-notice", role: "status", "{msg}" }
        }
        if let Some(msg) = error() {
            p { class: "error", role: "alert", "{msg}" }
        }
        section { class: "admin-block", aria_labelledby: "members-heading",
            h2 { id: "members-heading", class: "pad", {tr("メンバー", "Members")} }
            match member_list {
                None => rsx! { LoadState {} },
                Some(Err(e)) => rsx! { LoadState { error: e } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "muted pad", {tr("まだメンバーがいません。", "No members yet.")} }
                },
                Some(Ok(list)) => rsx! {
                    ul { class: "admin-list", aria_label: tr("メンバー一覧", "Members"),
                        for m in list {
                            li { key: "{m.user}", class: "with-side",
                                div { class: "admin-item static",
                                    span { class: "name",
                                        "{m.display_name}"
                                        if m.role == MemberRole::Owner {
                                            span { class: "tag", {tr("オーナー", "Owner")} }
                                        }
                                    }
                                    span { class: "meta",
                                        "{m.display_name_kana} · {profession_label(m.profession)}"
                                        if let Some(org) = &m.organization_name {
                                            " · {org}"
                                        }
                                    }
                                }
                                if removing() == Some(m.user) {
                                    button {
                                        class: "secondary danger side",
                                        r#type: "button",
                                        disabled: busy(),
                                        aria_label: tr_string(format!("{} さんを外す（確定）", m.display_name), format!("Remove {} now", m.display_name)),
                                        onclick: {
                                            let name = m.display_name.clone();
                                            let mut remove = remove.clone();
                                            move |_| remove(m.user, name.clone())
                                        },
                                        {tr("外す（確定）", "Remove now")}
                                    }
                                } else {
                                    button {
                                        class: "link side danger",
                                        r#type: "button",
                                        aria_label: tr_string(format!("{} さんを外す", m.display_name), format!("Remove {}", m.display_name)),
                                        onclick: move |_| removing.set(Some(m.user)),
                                        {tr("外す", "Remove")}
                                    }
                                }
                            }
                        }
                    }
                },
            }
        }
        section { class: "admin-block", aria_labelledby: "add-heading",
            h2 { id: "add-heading", class: "pad", {tr("メンバーを追加", "Add members")} }
            p { class: "muted pad",
                {tr(
                    "この自治体と、広域連携協定を結んでいる自治体の専門職だけが候補に出ます。",
                    "Only professionals of this municipality and of municipalities sharing an agreement with it are offered.",
                )}
            }
            div { class: "filter",
                input {
                    r#type: "search",
                    aria_label: tr("候補を名前・かな・事業所で検索", "Search candidates by name, kana or organization"),
                    placeholder: tr("名前・かな・事業所で検索", "Search by name or organization"),
                    value: "{query}",
                    oninput: move |e| query.set(e.value()),
                }
            }
            match candidate_list {
                None => rsx! { LoadState {} },
                Some(Err(e)) => rsx! { LoadState { error: e } },
                Some(Ok(list)) => rsx! {
                    ul { class: "admin-list", aria_label: tr("追加できる人", "Candidates"),
                        for c in list.into_iter().filter(|c| !c.already_member) {
                            li { key: "{c.id}", class: "with-side",
                                div { class: "admin-item static",
                                    span { class: "name",
                                        "{c.display_name}"
                                        if c.municipality_name != session.me.municipality.name {
                                            span { class: "tag", "{c.municipality_name}" }
                                        }
                                    }
                                    span { class: "meta",
                                        "{c.display_name_kana} · {profession_label(c.profession)}"
                                        if let Some(org) = &c.organization_name {
                                            " · {org}"
                                        }
                                    }
                                }
                                button {
                                    class: "secondary side",
                                    r#type: "button",
                                    disabled: busy(),
                                    aria_label: tr_string(format!("{} さんを追加", c.display_name), format!("Add {}", c.display_name)),
                                    onclick: {
                                        let name = c.display_name.clone();
                                        let mut add = add.clone();
                                        move |_| add(c.id, name.clone())
                                    },
                                    {tr("追加", "Add")}
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}
