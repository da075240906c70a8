//! Maintenance windows (system administrators): while one is open, everyone but
//! administrators gets the maintenance page and new connections are refused.

use super::municipalities::MunicipalityRow;
use super::Session;
use super::{
    check, date_time, input_ms, load, now_input, Choice, Field, FormError, LoadState, TextArea,
};
use crate::api;
use crate::i18n::tr;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{MaintenanceWindow as Window, MunicipalityId, NewMaintenance as NewWindow};

#[component]
pub fn Maintenance() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut windows = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Window>>(&s, "/api/admin/maintenance").await }
    });
    let s = session.clone();
    let municipalities = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<MunicipalityRow>>(&s, "/api/admin/municipalities").await }
    });
    let mut creating = use_signal(|| false);
    let mut deleting = use_signal(|| None::<i64>);
    let mut error = use_signal(|| None::<String>);
    let munis = municipalities
        .read()
        .clone()
        .and_then(Result::ok)
        .unwrap_or_default();
    let name_of = |id: Option<MunicipalityId>| match id {
        None => tr("サービス全体", "The whole service").to_owned(),
        Some(id) => munis
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| format!("#{id}"), |m| m.name.clone()),
    };
    let s = session.clone();
    let delete = move |id: i64| {
        let s = s.clone();
        spawn(async move {
            let result = api::delete(&format!("/api/admin/maintenance/{id}")).await;
            deleting.set(None);
            match check(&s, result) {
                Ok(()) => windows.restart(),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let list = windows.read().clone();
    let now = crate::util::now_ms();
    rsx! {
        div { class: "admin-toolbar",
            button { class: "primary", r#type: "button", onclick: move |_| creating.set(true),
                {tr("＋ メンテナンスを予約", "+ Schedule maintenance")}
            }
        }
        p { class: "muted pad",
            {tr(
                "時間帯の間は、管理者以外にはメンテナンス中の画面が表示され、新しい接続は受け付けません。",
                "During a window everyone but administrators sees the maintenance page and new connections are refused.",
            )}
        }
        FormError { error: error() }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(list)) if list.is_empty() => rsx! {
                p { class: "muted pad", {tr("予定されているメンテナンスはありません。", "No maintenance scheduled.")} }
            },
            Some(Ok(list)) => rsx! {
                ul { class: "admin-list",
                    for w in list {
                        li { key: "{w.id}", class: "announcement",
                            div { class: "name",
                                "{name_of(w.municipality)}"
                                if w.starts_at <= now {
                                    span { class: "tag warn", {tr("実施中", "Now")} }
                                } else {
                                    span { class: "tag", {tr("予定", "Scheduled")} }
                                }
                            }
                            p { class: "meta", "{date_time(w.starts_at)} 〜 {date_time(w.ends_at)}" }
                            if !w.message.is_empty() {
                                p { class: "body", "{w.message}" }
                            }
                            if deleting() == Some(w.id) {
                                button {
                                    class: "secondary small danger",
                                    r#type: "button",
                                    onclick: {
                                        let delete = delete.clone();
                                        move |_| delete(w.id)
                                    },
                                    {tr("取り消す（確定）", "Cancel it now")}
                                }
                            } else {
                                button { class: "secondary small danger", r#type: "button", onclick: move |_| deleting.set(Some(w.id)),
                                    if w.starts_at <= now { {tr("終了する", "End")} } else { {tr("取り消す", "Cancel")} }
                                }
                            }
                        }
                    }
                }
            },
        }
        if creating() {
            WindowForm {
                municipalities: munis.clone(),
                on_close: move |_| creating.set(false),
                on_saved: move |_| {
                    windows.restart();
                    creating.set(false);
                },
            }
        }
    }
}

#[component]
fn WindowForm(
    municipalities: Vec<MunicipalityRow>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let scope = use_signal(String::new);
    let starts = use_signal(now_input);
    let ends = use_signal(String::new);
    let message = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let (Some(starts_at), Some(ends_at)) = (input_ms(&starts.peek()), input_ms(&ends.peek()))
        else {
            error.set(Some(super::local_error(
                "開始と終了の日時を入力してください。",
                "Enter the start and the end.",
            )));
            return;
        };
        if ends_at <= starts_at {
            error.set(Some(super::local_error(
                "終了日時は開始日時より後にしてください。",
                "The end must be after the start.",
            )));
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        spawn(async move {
            let m = scope.peek().clone();
            let body = NewWindow {
                municipality: (!m.is_empty()).then_some(m),
                starts_at,
                ends_at,
                message: message.peek().clone(),
            };
            let result = api::post::<_, Window>("/api/admin/maintenance", &body).await;
            busy.set(false);
            match check(&s, result) {
                Ok(_) => on_saved.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let mut options = vec![(
        String::new(),
        tr("サービス全体", "The whole service").to_owned(),
    )];
    options.extend(
        municipalities
            .iter()
            .map(|m| (m.slug.clone(), m.name.clone())),
    );
    rsx! {
        Sheet { title: tr("メンテナンスを予約", "Schedule maintenance").to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Choice { id: "mw-scope", label: tr("対象", "Where").to_owned(), value: scope, options }
                Field { id: "mw-start", label: tr("開始", "Start").to_owned(), value: starts, kind: "datetime-local", required: true }
                Field { id: "mw-end", label: tr("終了", "End").to_owned(), value: ends, kind: "datetime-local", required: true }
                TextArea { id: "mw-message", label: tr("表示するメッセージ", "Message shown").to_owned(), value: message }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("予約する", "Schedule")} }
            }
        }
    }
}
