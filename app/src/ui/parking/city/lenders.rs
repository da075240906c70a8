//! 貸主: the people, shops and temples who lend a space; how they want to be told (電話・FAX・
//! 郵送・アプリ); and, if they have one, their own account (then they see their spaces'
//! bookings and pause them themselves).

use super::{notify_label, City};
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{Colleague, Lender, LenderId, NewLender, NotifyBy};
use renraku_sync::UserId;

#[component]
pub(super) fn LendersSection() -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    // `Some(None)`: a new lender.
    let mut editing = use_signal(|| None::<Option<LenderId>>);
    // The municipality's accounts, for naming a lender's account and choosing one.
    let mut people = use_signal(Vec::<Colleague>::new);
    let me = session.me.user.clone();
    use_effect(move || {
        let me = me.clone();
        spawn(async move {
            if let Ok(mut list) = api::get::<Vec<Colleague>>("/api/directory").await {
                list.push(Colleague {
                    id: me.id,
                    display_name: me.display_name.clone(),
                    display_name_kana: String::new(),
                    profession: me.profession,
                    organization_name: None,
                });
                people.set(list);
            }
        });
    });
    let lenders = city.lenders.read().clone();
    let name_of = move |u: UserId| {
        people
            .read()
            .iter()
            .find(|c| c.id == u)
            .map(|c| c.display_name.clone())
            .unwrap_or_else(|| tr_string(format!("アカウント #{u}"), format!("Account #{u}")))
    };
    rsx! {
        section { class: "parking-section",
            h2 { {tr("貸主", "Lenders")} }
            if editing() == Some(None) {
                LenderForm { lender: None, people: people(), on_close: move |_| editing.set(None) }
            } else {
                button {
                    r#type: "button",
                    class: "primary wide",
                    onclick: move |_| editing.set(Some(None)),
                    {tr("＋ 貸主を登録", "+ Add a lender")}
                }
            }
            if lenders.is_empty() {
                p { class: "muted", {tr("まだ貸主は登録されていません。", "No lenders yet.")} }
            }
            ul { class: "parking-list",
                for l in lenders {
                    li { key: "{l.id}", class: "parking-item",
                        if editing() == Some(Some(l.id)) {
                            LenderForm { lender: Some(l.clone()), people: people(), on_close: move |_| editing.set(None) }
                        } else {
                            div { class: "item-head",
                                strong { "{l.fields.name}" }
                                span { class: "tag", "{notify_label(l.fields.notify_by)}" }
                            }
                            if !l.fields.contact.is_empty() {
                                p { class: "muted", "{l.fields.contact}" }
                            }
                            if let Some(u) = l.fields.user {
                                p { class: "muted", {tr_string(format!("アカウント: {}", name_of(u)), format!("Account: {}", name_of(u)))} }
                            }
                            div { class: "row",
                                button {
                                    r#type: "button",
                                    class: "secondary",
                                    aria_label: tr_string(format!("{} を編集", l.fields.name), format!("Edit {}", l.fields.name)),
                                    onclick: move |_| editing.set(Some(Some(l.id))),
                                    {tr("編集", "Edit")}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn LenderForm(
    lender: Option<Lender>,
    people: Vec<Colleague>,
    on_close: EventHandler<()>,
) -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let start = lender
        .as_ref()
        .map(|l| l.fields.clone())
        .unwrap_or(NewLender {
            name: String::new(),
            contact: String::new(),
            notify_by: NotifyBy::Phone,
            user: None,
        });
    let mut form = use_signal(|| start);
    let mut search = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let id = lender.as_ref().map(|l| l.id);
    let save = move |e: FormEvent| {
        e.prevent_default();
        let body = form.peek().clone();
        if body.name.trim().is_empty() {
            error.set(Some(tr("名前を入力してください。", "Enter a name.").into()));
            return;
        }
        let s = session.clone();
        busy.set(true);
        spawn(async move {
            let answer = match id {
                None => api::post::<_, Lender>(&city.url("/lenders"), &body).await,
                Some(id) => {
                    api::send::<_, Lender>("PUT", &city.url(&format!("/lenders/{id}")), &body).await
                }
            };
            busy.set(false);
            match answer {
                Ok(saved) => {
                    let mut lenders = city.lenders;
                    lenders.with_mut(|list| match list.iter_mut().find(|l| l.id == saved.id) {
                        Some(l) => *l = saved.clone(),
                        None => list.push(saved.clone()),
                    });
                    // Space cards show the lender's name.
                    city.refresh();
                    on_close.call(());
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let f = form();
    let needle = crate::util::fold(&search());
    let matches: Vec<Colleague> = if needle.is_empty() {
        vec![]
    } else {
        people
            .iter()
            .filter(|c| {
                crate::util::matches_filter(&needle, &[&c.display_name, &c.display_name_kana])
            })
            .take(8)
            .cloned()
            .collect()
    };
    let account_name = f.user.map(|u| {
        people
            .iter()
            .find(|c| c.id == u)
            .map(|c| c.display_name.clone())
            .unwrap_or_else(|| format!("#{u}"))
    });
    rsx! {
        form { class: "parking-form", onsubmit: save,
            h3 { if id.is_some() { {tr("貸主を編集", "Edit lender")} } else { {tr("新しい貸主", "New lender")} } }
            label { class: "field",
                {tr("名前（個人名・店名・寺社名）", "Name (person, shop, temple)")}
                input {
                    r#type: "text",
                    name: "lender-name",
                    maxlength: "100",
                    required: true,
                    value: "{f.name}",
                    oninput: move |e| form.with_mut(|f| f.name = e.value()),
                }
            }
            label { class: "field",
                {tr("連絡先（電話・FAX・住所・メール）", "Contact (phone, fax, address, e-mail)")}
                input {
                    r#type: "text",
                    name: "lender-contact",
                    maxlength: "200",
                    value: "{f.contact}",
                    oninput: move |e| form.with_mut(|f| f.contact = e.value()),
                }
            }
            fieldset { class: "choices",
                legend { {tr("予約などの知らせ方", "How they want to be told")} }
                for n in NotifyBy::ALL.iter().copied() {
                    label { key: "{n.as_str()}", class: "check chip-check",
                        input {
                            r#type: "radio",
                            name: "notify-by",
                            value: "{n.as_str()}",
                            checked: f.notify_by == n,
                            onchange: move |_| form.with_mut(|f| f.notify_by = n),
                        }
                        "{notify_label(n)}"
                    }
                }
            }
            fieldset { class: "choices account",
                legend { {tr("本人のアカウント（任意）", "Their own account (optional)")} }
                if let Some(name) = account_name {
                    p {
                        "{name} "
                        button {
                            r#type: "button",
                            class: "link",
                            onclick: move |_| form.with_mut(|f| f.user = None),
                            {tr("外す", "Remove")}
                        }
                    }
                } else {
                    p { class: "muted", {tr("なし（市から電話・FAX・郵送で知らせます）", "None (the city tells them by phone, fax or post)")} }
                }
                input {
                    r#type: "search",
                    aria_label: tr("アカウントを名前で探す", "Find the account by name"),
                    placeholder: tr("アカウントを名前で探す", "Find the account by name"),
                    value: "{search}",
                    oninput: move |e| search.set(e.value()),
                }
                for c in matches {
                    button {
                        key: "{c.id}",
                        r#type: "button",
                        class: "secondary pick",
                        onclick: move |_| {
                            form.with_mut(|f| f.user = Some(c.id));
                            search.set(String::new());
                        },
                        "{c.display_name}"
                    }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            div { class: "row",
                button { r#type: "submit", class: "primary", disabled: busy(), {tr("保存", "Save")} }
                button { r#type: "button", class: "secondary", onclick: move |_| on_close.call(()), {tr("やめる", "Cancel")} }
            }
        }
    }
}
