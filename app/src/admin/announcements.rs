//! お知らせ shown on the portal: the municipality's, and for system administrators also the
//! system-wide ones. The server has no "edit": a change replaces the announcement (a new one
//! is posted, then the old one deleted), which the form says.

use super::Session;
use super::{
    check, date_time, input_ms, load, murl, now_input, Field, FormError, LoadState, TextArea,
};
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
pub use renraku_contract::Announcement;
use renraku_contract::NewAnnouncement;

/// Where announcements are listed and posted.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scope {
    Municipality,
    System,
}

/// `2026-11-24T09:05` for a `datetime-local` input.
fn to_input(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn status(a: &Announcement) -> (&'static str, &'static str) {
    let now = crate::util::now_ms();
    if a.starts_at > now {
        ("scheduled", tr("予定", "Scheduled"))
    } else if a.ends_at.is_some_and(|e| e <= now) {
        ("ended", tr("終了", "Ended"))
    } else {
        ("live", tr("表示中", "Showing"))
    }
}

#[component]
pub fn Announcements() -> Element {
    let session = use_context::<Session>();
    let system = super::is_system(&session);
    rsx! {
        AnnouncementList { scope: Scope::Municipality }
        if system {
            AnnouncementList { scope: Scope::System }
        }
    }
}

#[component]
fn AnnouncementList(scope: Scope) -> Element {
    let session = use_context::<Session>();
    let url = match scope {
        Scope::Municipality => murl(&session.slug, "announcements"),
        Scope::System => "/api/admin/announcements".to_owned(),
    };
    let s = session.clone();
    let u = url.clone();
    let mut list = use_resource(move || {
        let s = s.clone();
        let u = u.clone();
        async move { load::<Vec<Announcement>>(&s, &u).await }
    });
    // `Some(None)`: a new one; `Some(Some(a))`: replacing `a`.
    let mut open = use_signal(|| None::<Option<Announcement>>);
    let mut deleting = use_signal(|| None::<i64>);
    let mut error = use_signal(|| None::<String>);
    let s = session.clone();
    let delete = move |id: i64| {
        let s = s.clone();
        spawn(async move {
            let result = api::delete(&format!("/api/admin/announcements/{id}")).await;
            deleting.set(None);
            match check(&s, result) {
                Ok(()) => list.restart(),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let (heading, add) = match scope {
        Scope::Municipality => (
            tr_string(
                format!("{}のお知らせ", session.me.municipality.name),
                format!("Announcements of {}", session.me.municipality.name),
            ),
            tr("＋ お知らせを作成", "+ New announcement"),
        ),
        Scope::System => (
            tr(
                "全自治体向けのお知らせ",
                "Announcements for every municipality",
            )
            .to_owned(),
            tr("＋ 全自治体向けに作成", "+ New for everyone"),
        ),
    };
    let items = list.read().clone();
    rsx! {
        section { class: "admin-block", aria_label: "{heading}",
            div { class: "admin-toolbar",
                h2 { "{heading}" }
                button { class: "primary", r#type: "button", onclick: move |_| open.set(Some(None)), "{add}" }
            }
            FormError { error: error() }
            match items {
                None => rsx! { LoadState {} },
                Some(Err(e)) => rsx! { LoadState { error: e } },
                Some(Ok(items)) if items.is_empty() => rsx! {
                    p { class: "muted pad", {tr("お知らせはありません。", "No announcements.")} }
                },
                Some(Ok(items)) => rsx! {
                    ul { class: "admin-list",
                        for a in items {
                            li { key: "{a.id}", class: "announcement",
                                div { class: "name",
                                    "{a.title}"
                                    span { class: "tag {status(&a).0}", "{status(&a).1}" }
                                }
                                p { class: "body", "{a.body}" }
                                p { class: "meta",
                                    "{date_time(a.starts_at)} 〜 "
                                    if let Some(end) = a.ends_at {
                                        "{date_time(end)}"
                                    } else {
                                        {tr("（削除するまで）", "(until deleted)")}
                                    }
                                }
                                div { class: "row",
                                    button {
                                        class: "secondary small",
                                        r#type: "button",
                                        onclick: {
                                            let a = a.clone();
                                            move |_| open.set(Some(Some(a.clone())))
                                        },
                                        {tr("編集", "Edit")}
                                    }
                                    if deleting() == Some(a.id) {
                                        button {
                                            class: "secondary small danger",
                                            r#type: "button",
                                            onclick: {
                                                let delete = delete.clone();
                                                move |_| delete(a.id)
                                            },
                                            {tr("削除する（確定）", "Delete now")}
                                        }
                                    } else {
                                        button { class: "secondary small danger", r#type: "button", onclick: move |_| deleting.set(Some(a.id)),
                                            {tr("削除", "Delete")}
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            }
        }
        if let Some(editing) = open() {
            AnnouncementForm {
                url: url.clone(),
                replacing: editing,
                on_close: move |_| open.set(None),
                on_saved: move |_| {
                    list.restart();
                    open.set(None);
                },
            }
        }
    }
}

#[component]
fn AnnouncementForm(
    url: String,
    replacing: Option<Announcement>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let r = replacing.clone();
    let title = use_signal(|| r.as_ref().map(|a| a.title.clone()).unwrap_or_default());
    let body = use_signal(|| r.as_ref().map(|a| a.body.clone()).unwrap_or_default());
    let starts = use_signal(|| {
        r.as_ref()
            .map(|a| to_input(a.starts_at))
            .unwrap_or_else(now_input)
    });
    let ends = use_signal(|| {
        r.as_ref()
            .and_then(|a| a.ends_at)
            .map(to_input)
            .unwrap_or_default()
    });
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let old = replacing.as_ref().map(|a| a.id);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let starts_at = input_ms(&starts.peek());
        let ends_at = input_ms(&ends.peek());
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            if e <= s {
                error.set(Some(super::local_error(
                    "終了日時は開始日時より後にしてください。",
                    "The end must be after the start.",
                )));
                return;
            }
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        let url = url.clone();
        spawn(async move {
            let body = NewAnnouncement {
                title: title.peek().clone(),
                body: body.peek().clone(),
                starts_at,
                ends_at,
            };
            let mut result = api::post::<_, Announcement>(&url, &body).await.map(|_| ());
            if let (Ok(()), Some(id)) = (&result, old) {
                result = api::delete(&format!("/api/admin/announcements/{id}")).await;
            }
            busy.set(false);
            match check(&s, result) {
                Ok(()) => on_saved.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let heading = if old.is_some() {
        tr("お知らせを編集", "Edit announcement")
    } else {
        tr("お知らせを作成", "New announcement")
    };
    rsx! {
        Sheet { title: heading.to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "ann-title", label: tr("タイトル", "Title").to_owned(), value: title, required: true }
                TextArea { id: "ann-body", label: tr("本文", "Text").to_owned(), value: body, required: true }
                Field { id: "ann-start", label: tr("表示開始", "Show from").to_owned(), value: starts, kind: "datetime-local" }
                Field { id: "ann-end", label: tr("表示終了（空欄なら削除するまで）", "Show until (empty: until deleted)").to_owned(), value: ends, kind: "datetime-local" }
                if old.is_some() {
                    p { class: "muted", {tr("保存すると、新しい内容で作り直し、元のお知らせは削除されます。", "Saving posts it anew and deletes the original.")} }
                }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("保存する", "Save")} }
            }
        }
    }
}
