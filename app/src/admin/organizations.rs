//! Organizations (facilities) of the municipality: list, create, rename or change kind.

use super::Session;
use super::{check, load, murl, Choice, Field, FormError, LoadState};
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{NewOrganization, OrganizationKind, OrganizationUpdate};

pub use renraku_contract::Organization;

fn kind_label(kind: OrganizationKind) -> &'static str {
    match kind {
        OrganizationKind::Clinic => tr("診療所", "Clinic"),
        OrganizationKind::Hospital => tr("病院", "Hospital"),
        OrganizationKind::NursingStation => tr("訪問看護ステーション", "Visiting nursing station"),
        OrganizationKind::CareOffice => tr("居宅介護支援事業所", "Care management office"),
        OrganizationKind::Pharmacy => tr("薬局", "Pharmacy"),
        OrganizationKind::City => tr("市役所・地域包括", "City"),
        OrganizationKind::Other => tr("その他", "Other"),
    }
}

fn kind_options() -> Vec<(String, String)> {
    OrganizationKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), kind_label(*k).to_owned()))
        .collect()
}

#[component]
pub fn Organizations() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut orgs = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Organization>>(&s, &murl(&s.slug, "organizations")).await }
    });
    // `None`: closed; `Some(None)`: a new one; `Some(Some(o))`: editing `o`.
    let mut open = use_signal(|| None::<Option<Organization>>);
    let list = orgs.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            button { class: "primary", r#type: "button", onclick: move |_| open.set(Some(None)),
                {tr("＋ 事業所を追加", "+ New organization")}
            }
        }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(list)) => rsx! {
                ul { class: "admin-list", aria_label: tr("事業所一覧", "Organizations"),
                    for o in list {
                        li { key: "{o.id}",
                            button {
                                r#type: "button",
                                class: "admin-item",
                                onclick: {
                                    let o = o.clone();
                                    move |_| open.set(Some(Some(o.clone())))
                                },
                                span { class: "name", "{o.name}" }
                                span { class: "meta",
                                    "{kind_label(o.kind)} · "
                                    {tr_string(format!("{} 人", o.user_count), format!("{} people", o.user_count))}
                                }
                            }
                        }
                    }
                }
            },
        }
        if let Some(editing) = open() {
            OrganizationForm {
                org: editing,
                on_close: move |_| open.set(None),
                on_saved: move |_| {
                    orgs.restart();
                    open.set(None);
                },
            }
        }
    }
}

#[component]
fn OrganizationForm(
    org: Option<Organization>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let o = org.clone();
    let name = use_signal(|| o.as_ref().map(|o| o.name.clone()).unwrap_or_default());
    let kind = use_signal(|| {
        o.as_ref()
            .map_or(OrganizationKind::Clinic, |o| o.kind)
            .as_str()
            .to_owned()
    });
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let id = org.as_ref().map(|o| o.id);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        spawn(async move {
            let body = NewOrganization {
                name: name.peek().clone(),
                kind: OrganizationKind::parse(&kind.peek()).unwrap_or(OrganizationKind::Other),
            };
            let result = match id {
                Some(id) => {
                    let change = OrganizationUpdate {
                        name: Some(body.name.clone()),
                        kind: Some(body.kind),
                    };
                    api::send::<_, ()>("PATCH", &format!("/api/admin/organizations/{id}"), &change)
                        .await
                }
                None => api::post::<_, Organization>(&murl(&s.slug, "organizations"), &body)
                    .await
                    .map(|_| ()),
            };
            busy.set(false);
            match check(&s, result) {
                Ok(()) => on_saved.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let title = if org.is_some() {
        tr("事業所を編集", "Edit organization")
    } else {
        tr("事業所を追加", "New organization")
    };
    rsx! {
        Sheet { title: title.to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "org-name", label: tr("名称", "Name").to_owned(), value: name, required: true }
                Choice { id: "org-kind", label: tr("種別", "Kind").to_owned(), value: kind, options: kind_options() }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("保存する", "Save")} }
            }
        }
    }
}
