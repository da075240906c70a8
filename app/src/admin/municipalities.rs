//! Municipalities (system administrators): add one, rename it, set its second-factor policy.

use super::Session;
use super::{check, load, Check, Field, FormError, LoadState};
use crate::api;
use crate::api::ErrorCode;
use crate::i18n::tr;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{MunicipalityUpdate, NewMunicipality};

/// A municipality as the admin API lists it.
pub use renraku_contract::Municipality as MunicipalityRow;

#[component]
pub fn Municipalities() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut list = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<MunicipalityRow>>(&s, "/api/admin/municipalities").await }
    });
    let mut open = use_signal(|| None::<Option<MunicipalityRow>>);
    let items = list.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            button { class: "primary", r#type: "button", onclick: move |_| open.set(Some(None)),
                {tr("＋ 自治体を追加", "+ New municipality")}
            }
        }
        match items {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(items)) => rsx! {
                ul { class: "admin-list", aria_label: tr("自治体一覧", "Municipalities"),
                    for m in items {
                        li { key: "{m.id}",
                            button {
                                r#type: "button",
                                class: "admin-item",
                                onclick: {
                                    let m = m.clone();
                                    move |_| open.set(Some(Some(m.clone())))
                                },
                                span { class: "name",
                                    "{m.name}"
                                    if m.require_second_factor {
                                        span { class: "tag", {tr("二段階認証必須", "2FA required")} }
                                    }
                                }
                                span { class: "meta", "/{m.slug}/" }
                            }
                        }
                    }
                }
            },
        }
        if let Some(editing) = open() {
            MunicipalityForm {
                municipality: editing,
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
fn MunicipalityForm(
    municipality: Option<MunicipalityRow>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let m = municipality.clone();
    let slug = use_signal(|| m.as_ref().map(|m| m.slug.clone()).unwrap_or_default());
    let name = use_signal(|| m.as_ref().map(|m| m.name.clone()).unwrap_or_default());
    let second = use_signal(|| m.as_ref().is_some_and(|m| m.require_second_factor));
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let existing = municipality.as_ref().map(|m| m.slug.clone());
    let is_new = existing.is_none();
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        let existing = existing.clone();
        spawn(async move {
            let result = match existing {
                Some(slug) => {
                    let body = MunicipalityUpdate {
                        name: Some(name.peek().clone()),
                        require_second_factor: Some(*second.peek()),
                    };
                    api::send::<_, MunicipalityRow>(
                        "PATCH",
                        &format!("/api/admin/municipalities/{slug}"),
                        &body,
                    )
                    .await
                }
                None => {
                    let body = NewMunicipality {
                        slug: slug.peek().trim().to_owned(),
                        name: name.peek().clone(),
                    };
                    api::post::<_, MunicipalityRow>("/api/admin/municipalities", &body).await
                }
            };
            busy.set(false);
            match result {
                Err(e) if e.code() == Some(ErrorCode::Conflict) => error.set(Some(
                    tr("この URL 名はすでに使われています。", "This slug is taken.").into(),
                )),
                other => match check(&s, other) {
                    Ok(_) => on_saved.call(()),
                    Err(msg) => error.set(Some(msg)),
                },
            }
        });
    };
    rsx! {
        Sheet { title: if is_new { tr("自治体を追加", "New municipality").to_owned() } else { tr("自治体を編集", "Edit municipality").to_owned() }, on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                if is_new {
                    Field { id: "muni-slug", label: tr("URL 名", "Slug").to_owned(), value: slug, required: true,
                        hint: tr("半角小文字・数字・-（2〜40 文字）。/{URL 名}/ で開きます。", "Lower-case letters, digits, - (2–40); opened at /{slug}/.").to_owned() }
                }
                Field { id: "muni-name", label: tr("名称", "Name").to_owned(), value: name, required: true }
                if !is_new {
                    Check { id: "muni-2fa", label: tr("全員に二段階認証を求める", "Require a second factor for everyone").to_owned(), value: second }
                }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("保存する", "Save")} }
            }
        }
    }
}
