//! Wide-area agreements (system administrators): municipalities in one agreement may add
//! each other's professionals to their rooms. Leaving removes the memberships it allowed.

use super::municipalities::MunicipalityRow;
use super::Session;
use super::{check, load, Choice, Field, FormError, LoadState};
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{Agreement, LeaveResult, NewAgreement};

#[component]
pub fn Agreements() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut agreements = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Agreement>>(&s, "/api/admin/agreements").await }
    });
    let s = session.clone();
    let municipalities = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<MunicipalityRow>>(&s, "/api/admin/municipalities").await }
    });
    let mut creating = use_signal(|| false);
    let mut notice = use_signal(|| None::<String>);
    let munis = municipalities
        .read()
        .clone()
        .and_then(Result::ok)
        .unwrap_or_default();
    let list = agreements.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            button { class: "primary", r#type: "button", onclick: move |_| creating.set(true),
                {tr("＋ 協定を作成", "+ New agreement")}
            }
        }
        if let Some(msg) = notice() {
            p { class: "admin-notice", role: "status", "{msg}" }
        }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(list)) if list.is_empty() => rsx! {
                p { class: "muted pad", {tr("協定はまだありません。", "No agreements yet.")} }
            },
            Some(Ok(list)) => rsx! {
                for a in list {
                    AgreementCard {
                        key: "{a.id}",
                        agreement: a,
                        municipalities: munis.clone(),
                        on_changed: move |msg: Option<String>| {
                            notice.set(msg);
                            agreements.restart();
                        },
                    }
                }
            },
        }
        if creating() {
            NewAgreementForm {
                on_close: move |_| creating.set(false),
                on_saved: move |_| {
                    agreements.restart();
                    creating.set(false);
                },
            }
        }
    }
}

#[component]
fn AgreementCard(
    agreement: Agreement,
    municipalities: Vec<MunicipalityRow>,
    on_changed: EventHandler<Option<String>>,
) -> Element {
    let session = use_context::<Session>();
    let id = agreement.id;
    let joined: Vec<MunicipalityRow> = municipalities
        .iter()
        .filter(|m| agreement.members.contains(&m.id))
        .cloned()
        .collect();
    let mut options = vec![(String::new(), tr("（自治体を選ぶ）", "(choose)").to_owned())];
    options.extend(
        municipalities
            .iter()
            .filter(|m| !agreement.members.contains(&m.id))
            .map(|m| (m.slug.clone(), m.name.clone())),
    );
    let pick = use_signal(String::new);
    let mut leaving = use_signal(|| None::<String>);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let s = session.clone();
    let join = move |e: FormEvent| {
        e.prevent_default();
        let slug = pick.peek().clone();
        if slug.is_empty() || busy() {
            return;
        }
        busy.set(true);
        let s = s.clone();
        spawn(async move {
            let url = format!("/api/admin/agreements/{id}/members/{slug}");
            let result = api::send::<_, Agreement>("PUT", &url, &()).await;
            busy.set(false);
            match check(&s, result) {
                Ok(_) => on_changed.call(None),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let s = session.clone();
    let leave = move |slug: String| {
        if busy() {
            return;
        }
        busy.set(true);
        let s = s.clone();
        spawn(async move {
            let url = format!("/api/admin/agreements/{id}/members/{slug}");
            let result = api::send::<_, LeaveResult>("DELETE", &url, &()).await;
            busy.set(false);
            leaving.set(None);
            match check(&s, result) {
                Ok(r) => on_changed.call(Some(tr_string(
                    format!("協定から外しました（この協定で認められていたルームのメンバー {} 件を削除）。", r.memberships_removed),
                    format!("Left the agreement ({} room memberships it allowed were removed).", r.memberships_removed),
                ))),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    rsx! {
        section { class: "card", aria_label: "{agreement.name}",
            h2 { "{agreement.name}" }
            if joined.is_empty() {
                p { class: "muted", {tr("参加自治体はまだありません。", "No members yet.")} }
            }
            ul { class: "admin-list",
                for m in joined {
                    li { key: "{m.id}", class: "with-side",
                        div { class: "admin-item static", span { class: "name", "{m.name}" } span { class: "meta", "/{m.slug}/" } }
                        if leaving() == Some(m.slug.clone()) {
                            button {
                                class: "secondary danger side",
                                r#type: "button",
                                onclick: {
                                    let mut leave = leave.clone();
                                    let slug = m.slug.clone();
                                    move |_| leave(slug.clone())
                                },
                                {tr("外す（確定）", "Remove now")}
                            }
                        } else {
                            button {
                                class: "link side danger",
                                r#type: "button",
                                aria_label: tr_string(format!("{}を協定から外す", m.name), format!("Remove {} from the agreement", m.name)),
                                onclick: {
                                    let slug = m.slug.clone();
                                    move |_| leaving.set(Some(slug.clone()))
                                },
                                {tr("外す", "Remove")}
                            }
                        }
                    }
                }
            }
            if leaving().is_some() {
                p { class: "admin-notice warn", role: "alert",
                    {tr(
                        "外すと、この協定によって参加していた他自治体の専門職は、すぐにそのルームから外れます。",
                        "Removing it takes the other side's professionals out of the rooms this agreement let them into, at once.",
                    )}
                }
            }
            form { class: "admin-form", onsubmit: join,
                Choice { id: "agr-{id}-add", label: tr("参加する自治体を追加", "Add a municipality").to_owned(), value: pick, options }
                FormError { error: error() }
                button { class: "secondary", r#type: "submit", disabled: busy(), {tr("追加する", "Add")} }
            }
        }
    }
}

#[component]
fn NewAgreementForm(on_close: EventHandler<()>, on_saved: EventHandler<()>) -> Element {
    let session = use_context::<Session>();
    let name = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        let s = session.clone();
        spawn(async move {
            let body = NewAgreement {
                name: name.peek().clone(),
            };
            let result = api::post::<_, Agreement>("/api/admin/agreements", &body).await;
            busy.set(false);
            match check(&s, result) {
                Ok(_) => on_saved.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    rsx! {
        Sheet { title: tr("協定を作成", "New agreement").to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "agr-name", label: tr("協定の名称", "Name").to_owned(), value: name, required: true }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("作成する", "Create")} }
            }
        }
    }
}
