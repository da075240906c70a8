//! The municipality's shared 定型文 (templates): every professional of the municipality
//! finds them in the composer's 定型文 sheet (`ui/templates.rs`). A blank to fill follows a
//! 「：」, and the composer puts the cursor on the first one. Create, edit, delete; the
//! order is ascending (equal orders by age).

use super::Session;
use super::{check, load, murl, Field, FormError, LoadState, TextArea};
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{NewTemplate, Template, TemplateId, TEMPLATE_BODY_MAX};

#[component]
pub fn Templates() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut list = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<Template>>(&s, &murl(&s.slug, "templates")).await }
    });
    // `None`: closed; `Some(None)`: a new one; `Some(Some(t))`: editing `t`.
    let mut open = use_signal(|| None::<Option<Template>>);
    let mut deleting = use_signal(|| None::<TemplateId>);
    let mut error = use_signal(|| None::<String>);
    let s = session.clone();
    let delete = move |id: TemplateId| {
        let s = s.clone();
        spawn(async move {
            let result = api::delete(&format!("/api/admin/templates/{id}")).await;
            deleting.set(None);
            match check(&s, result) {
                Ok(()) => list.restart(),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let heading = tr_string(
        format!("{}の共有定型文", session.me.municipality.name),
        format!("Shared templates of {}", session.me.municipality.name),
    );
    let items = list.read().clone();
    rsx! {
        section { class: "admin-block", aria_label: "{heading}",
            div { class: "admin-toolbar",
                h2 { "{heading}" }
                button { class: "primary", r#type: "button", onclick: move |_| open.set(Some(None)),
                    {tr("＋ 定型文を作成", "+ New template")}
                }
            }
            p { class: "muted pad",
                {tr(
                    "投稿欄の「定型文」から全員が使えます。「：」の後ろが記入欄になり、挿入すると最初の記入欄にカーソルが移ります。",
                    "Everyone can insert these from the composer's Templates button. A blank to fill follows a 「：」; inserting moves the cursor to the first one.",
                )}
            }
            FormError { error: error() }
            match items {
                None => rsx! { LoadState {} },
                Some(Err(e)) => rsx! { LoadState { error: e } },
                Some(Ok(items)) if items.is_empty() => rsx! {
                    p { class: "muted pad", {tr("共有の定型文はありません。", "No shared templates.")} }
                },
                Some(Ok(items)) => rsx! {
                    ul { class: "admin-list", aria_label: tr("共有定型文の一覧", "Shared templates"),
                        for t in items {
                            li { key: "{t.id}", class: "announcement template",
                                div { class: "name", "{t.title}" }
                                p { class: "body", "{t.body}" }
                                p { class: "meta", {tr_string(format!("表示順 {}", t.sort_order), format!("Order {}", t.sort_order))} }
                                div { class: "row",
                                    button {
                                        class: "secondary small",
                                        r#type: "button",
                                        onclick: {
                                            let t = t.clone();
                                            move |_| open.set(Some(Some(t.clone())))
                                        },
                                        {tr("編集", "Edit")}
                                    }
                                    if deleting() == Some(t.id) {
                                        button {
                                            class: "secondary small danger",
                                            r#type: "button",
                                            onclick: {
                                                let delete = delete.clone();
                                                move |_| delete(t.id)
                                            },
                                            {tr("削除する（確定）", "Delete now")}
                                        }
                                    } else {
                                        button { class: "secondary small danger", r#type: "button", onclick: move |_| deleting.set(Some(t.id)),
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
            TemplateForm {
                template: editing,
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
fn TemplateForm(
    template: Option<Template>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let t = template.clone();
    let title = use_signal(|| t.as_ref().map(|t| t.title.clone()).unwrap_or_default());
    let body = use_signal(|| t.as_ref().map(|t| t.body.clone()).unwrap_or_default());
    let order = use_signal(|| {
        t.as_ref()
            .map(|t| t.sort_order.to_string())
            .unwrap_or_else(|| "0".into())
    });
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let id = template.as_ref().map(|t| t.id);
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let Ok(sort_order) = order.peek().trim().parse::<i64>() else {
            error.set(Some(super::local_error(
                "表示順は整数で入力してください。",
                "The order must be a whole number.",
            )));
            return;
        };
        if body.peek().chars().count() > TEMPLATE_BODY_MAX {
            error.set(Some(tr_string(
                format!("本文は {TEMPLATE_BODY_MAX} 文字までです。"),
                format!("The text may have at most {TEMPLATE_BODY_MAX} characters."),
            )));
            return;
        }
        busy.set(true);
        error.set(None);
        let s = session.clone();
        spawn(async move {
            let new = NewTemplate {
                title: title.peek().clone(),
                body: body.peek().clone(),
                sort_order,
            };
            let result = match id {
                Some(id) => {
                    api::send::<_, Template>("PUT", &format!("/api/admin/templates/{id}"), &new)
                        .await
                }
                None => api::post::<_, Template>(&murl(&s.slug, "templates"), &new).await,
            };
            busy.set(false);
            match check(&s, result) {
                Ok(_) => on_saved.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let heading = if id.is_some() {
        tr("定型文を編集", "Edit template")
    } else {
        tr("定型文を作成", "New template")
    };
    rsx! {
        Sheet { title: heading.to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "tpl-title", label: tr("タイトル", "Title").to_owned(), value: title, required: true }
                TextArea { id: "tpl-body", label: tr("本文（「：」の後ろが記入欄）", "Text (blanks follow 「：」)").to_owned(), value: body, required: true }
                Field { id: "tpl-order", label: tr("表示順（小さいほど上）", "Order (lower first)").to_owned(), value: order, kind: "number" }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(), {tr("保存する", "Save")} }
            }
        }
    }
}
