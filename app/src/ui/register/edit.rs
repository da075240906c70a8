//! Creating or editing one entry (administrators and register editors, online): every field of
//! the register; a refusal names each field the server refused. The pin is placed on the map
//! (the card's button); the linked patient room is kept as it is.

use super::labels;
use super::Screen;
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::session::Session;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{
    Household, LabelColour, NewRegisterPerson, Reason, ReasonKind, RegisterContact,
    RegisterPersonDetail, RegisterPersonId, Sex,
};

/// Contact rows the form offers (the server takes up to 10; the 名簿 import more).
const CONTACT_ROWS: usize = 3;

fn blank() -> NewRegisterPerson {
    NewRegisterPerson {
        external_id: None,
        name: String::new(),
        kana: String::new(),
        birth_date: None,
        sex: Sex::Unknown,
        address: String::new(),
        area: String::new(),
        phone: String::new(),
        household: Household::Other,
        reasons: Vec::new(),
        emergency_contacts: Vec::new(),
        helpers: Vec::new(),
        consent: false,
        location: None,
        label: LabelColour::Blue,
        room: None,
        notes: String::new(),
    }
}

fn padded(mut list: Vec<RegisterContact>) -> Vec<RegisterContact> {
    while list.len() < CONTACT_ROWS {
        list.push(RegisterContact {
            name: String::new(),
            relation: String::new(),
            phone: String::new(),
        });
    }
    list
}

/// `id`: the entry to edit; `None`: a new one.
#[component]
pub fn EditSheet(id: Option<RegisterPersonId>) -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut form = use_signal(|| None::<NewRegisterPerson>);
    let mut error = use_signal(|| None::<String>);
    let mut saving = use_signal(|| false);
    let slug = screen.slug.read().clone();
    let s = slug.clone();
    use_hook(move || match id {
        None => form.set(Some(blank())),
        Some(id) => {
            spawn(async move {
                match api::get::<RegisterPersonDetail>(&format!("/api/register/{s}/people/{id}"))
                    .await
                {
                    Ok(d) => form.set(Some(d.person.fields)),
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    });
    let close = move |_| {
        let mut e = screen.editing;
        e.set(None);
    };
    let save = move |_| {
        let Some(mut body) = form.peek().clone() else {
            return;
        };
        body.emergency_contacts
            .retain(|c| !c.name.trim().is_empty() || !c.phone.trim().is_empty());
        body.helpers
            .retain(|c| !c.name.trim().is_empty() || !c.phone.trim().is_empty());
        if body
            .birth_date
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            body.birth_date = None;
        }
        if body
            .external_id
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            body.external_id = None;
        }
        let (slug, sess) = (slug.clone(), session.clone());
        saving.set(true);
        spawn(async move {
            let result = match id {
                None => {
                    api::post::<_, serde_json::Value>(
                        &format!("/api/register/{slug}/people"),
                        &body,
                    )
                    .await
                }
                Some(id) => {
                    api::send::<_, serde_json::Value>(
                        "PUT",
                        &format!("/api/register/{slug}/people/{id}"),
                        &body,
                    )
                    .await
                }
            };
            saving.set(false);
            match result {
                Ok(_) => {
                    let mut sc = screen;
                    sc.editing.set(None);
                    sc.notice
                        .set(Some(tr("保存しました。", "Saved.").to_owned()));
                    sc.reload += 1;
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let title = if id.is_some() {
        tr("登録内容の編集", "Edit entry")
    } else {
        tr("新しく登録", "New entry")
    };
    let Some(f) = form() else {
        return rsx! {
            Sheet { title: title.to_owned(), on_close: close,
                if let Some(msg) = error() { p { class: "error", role: "alert", "{msg}" } } else { p { class: "muted", {tr("読み込み中…", "Loading…")} } }
            }
        };
    };
    let text = |get: fn(&NewRegisterPerson) -> &String, put: fn(&mut NewRegisterPerson, String)| {
        (get(&f).clone(), move |e: FormEvent| {
            form.with_mut(|f| {
                if let Some(f) = f {
                    put(f, e.value())
                }
            })
        })
    };
    let (name, on_name) = text(|f| &f.name, |f, v| f.name = v);
    let (kana, on_kana) = text(|f| &f.kana, |f, v| f.kana = v);
    let (address, on_address) = text(|f| &f.address, |f, v| f.address = v);
    let (area, on_area) = text(|f| &f.area, |f, v| f.area = v);
    let (phone, on_phone) = text(|f| &f.phone, |f, v| f.phone = v);
    let (notes, on_notes) = text(|f| &f.notes, |f, v| f.notes = v);
    let contacts = padded(f.emergency_contacts.clone());
    let helpers = padded(f.helpers.clone());
    rsx! {
        Sheet { title: title.to_owned(), on_close: close,
            div { class: "edit-person",
                label { class: "field", {tr("氏名（必須）", "Name (required)")}
                    input { r#type: "text", maxlength: "100", value: "{name}", oninput: on_name }
                }
                label { class: "field", {tr("ふりがな（必須）", "Kana (required)")}
                    input { r#type: "text", maxlength: "100", value: "{kana}", oninput: on_kana }
                }
                label { class: "field", {tr("宛名番号（自治体の番号）", "Municipality's person id")}
                    input {
                        r#type: "text",
                        maxlength: "50",
                        value: "{f.external_id.clone().unwrap_or_default()}",
                        oninput: move |e| form.with_mut(|f| if let Some(f) = f { f.external_id = Some(e.value()) }),
                    }
                }
                div { class: "two",
                    label { class: "field", {tr("生年月日", "Birth date")}
                        input {
                            r#type: "date",
                            value: "{f.birth_date.clone().unwrap_or_default()}",
                            oninput: move |e| form.with_mut(|f| if let Some(f) = f { f.birth_date = Some(e.value()) }),
                        }
                    }
                    label { class: "field", {tr("性別", "Sex")}
                        select {
                            onchange: move |e| form.with_mut(|f| if let Some(f) = f { f.sex = Sex::parse(&e.value()).unwrap_or(Sex::Unknown) }),
                            for s in Sex::ALL.iter().copied() {
                                option { key: "{s.as_str()}", value: "{s.as_str()}", selected: f.sex == s,
                                    if labels::sex(s).is_empty() { {tr("不明", "Unknown")} } else { "{labels::sex(s)}" }
                                }
                            }
                        }
                    }
                }
                label { class: "field", {tr("住所", "Address")}
                    input { r#type: "text", maxlength: "200", value: "{address}", oninput: on_address }
                }
                div { class: "two",
                    label { class: "field", {tr("町丁目", "Area")}
                        input { r#type: "text", maxlength: "50", value: "{area}", oninput: on_area }
                    }
                    label { class: "field", {tr("電話", "Phone")}
                        input { r#type: "tel", maxlength: "50", value: "{phone}", oninput: on_phone }
                    }
                }
                div { class: "two",
                    label { class: "field", {tr("世帯", "Household")}
                        select {
                            onchange: move |e| form.with_mut(|f| if let Some(f) = f { f.household = Household::parse(&e.value()).unwrap_or(Household::Other) }),
                            for h in Household::ALL.iter().copied() {
                                option { key: "{h.as_str()}", value: "{h.as_str()}", selected: f.household == h, "{labels::household(h)}" }
                            }
                        }
                    }
                    label { class: "field", {tr("ラベル", "Label")}
                        select {
                            onchange: move |e| form.with_mut(|f| if let Some(f) = f { f.label = LabelColour::parse(&e.value()).unwrap_or(LabelColour::Blue) }),
                            for l in LabelColour::ALL.iter().copied() {
                                option { key: "{l.as_str()}", value: "{l.as_str()}", selected: f.label == l, "{labels::colour(l)}" }
                            }
                        }
                    }
                }
                label { class: "check",
                    input {
                        r#type: "checkbox",
                        checked: f.consent,
                        onchange: move |e| form.with_mut(|f| if let Some(f) = f { f.consent = e.checked() }),
                    }
                    {tr("平常時の情報提供に同意している", "Consents to sharing in normal times")}
                }
                fieldset { class: "reasons-edit",
                    legend { {tr("支援が必要な理由", "Reasons")} }
                    for kind in ReasonKind::ALL.iter().copied() {
                        ReasonRow { key: "{kind.as_str()}", kind, form }
                    }
                }
                fieldset {
                    legend { {tr("緊急連絡先（氏名・続柄・電話）", "Emergency contacts (name, relation, phone)")} }
                    for (i, c) in contacts.into_iter().enumerate() {
                        ContactRow { key: "{i}", index: i, contact: c, helpers: false, form }
                    }
                }
                fieldset {
                    legend { {tr("支援者（氏名・続柄・電話）", "Helpers (name, relation, phone)")} }
                    for (i, c) in helpers.into_iter().enumerate() {
                        ContactRow { key: "{i}", index: i, contact: c, helpers: true, form }
                    }
                }
                label { class: "field", {tr("備考", "Notes")}
                    textarea { maxlength: "2000", rows: "3", value: "{notes}", oninput: on_notes }
                }
                if let Some(l) = &f.location {
                    p { class: "muted", {tr_string(format!("位置: {:.5}, {:.5}（地図の「ピンを移動」で変更）", l.latitude, l.longitude), format!("Location: {:.5}, {:.5} (change it on the map)", l.latitude, l.longitude))} }
                } else {
                    p { class: "muted", {tr("位置は保存後に地図でピンを置いて登録します。", "Place the pin on the map after saving.")} }
                }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
                button {
                    r#type: "button",
                    class: "primary",
                    disabled: saving() || f.name.trim().is_empty() || f.kana.trim().is_empty(),
                    onclick: save,
                    {tr("保存する", "Save")}
                }
            }
        }
    }
}

/// One reason kind: checked or not, with its detail (要介護3, 酸素2L/分 …).
#[component]
fn ReasonRow(kind: ReasonKind, form: Signal<Option<NewRegisterPerson>>) -> Element {
    let mut form = form;
    let current = form
        .read()
        .as_ref()
        .and_then(|f| f.reasons.iter().find(|r| r.kind == kind).cloned());
    let checked = current.is_some();
    rsx! {
        div { class: "reason-row",
            label { class: "check",
                input {
                    r#type: "checkbox",
                    checked,
                    onchange: move |e| form.with_mut(|f| if let Some(f) = f {
                        if e.checked() {
                            if !f.reasons.iter().any(|r| r.kind == kind) {
                                f.reasons.push(Reason { kind, detail: String::new() });
                            }
                        } else {
                            f.reasons.retain(|r| r.kind != kind);
                        }
                    }),
                }
                "{labels::reason(kind)}"
            }
            if let Some(r) = current {
                input {
                    r#type: "text",
                    maxlength: "200",
                    aria_label: tr_string(format!("{}の詳細", labels::reason(kind)), format!("{} details", labels::reason(kind))),
                    placeholder: tr("詳細（例: 要介護3）", "Details"),
                    value: "{r.detail}",
                    oninput: move |e| form.with_mut(|f| if let Some(f) = f {
                        if let Some(r) = f.reasons.iter_mut().find(|r| r.kind == kind) {
                            r.detail = e.value();
                        }
                    }),
                }
            }
        }
    }
}

#[component]
fn ContactRow(
    index: usize,
    contact: RegisterContact,
    helpers: bool,
    form: Signal<Option<NewRegisterPerson>>,
) -> Element {
    let mut form = form;
    let mut edit = move |put: fn(&mut RegisterContact, String), value: String| {
        form.with_mut(|f| {
            if let Some(f) = f {
                let list = if helpers {
                    &mut f.helpers
                } else {
                    &mut f.emergency_contacts
                };
                *list = padded(std::mem::take(list));
                put(&mut list[index], value);
            }
        })
    };
    rsx! {
        div { class: "contact-row",
            input { r#type: "text", maxlength: "100", aria_label: tr("氏名", "Name"), placeholder: tr("氏名", "Name"), value: "{contact.name}",
                oninput: move |e| edit(|c, v| c.name = v, e.value()) }
            input { r#type: "text", maxlength: "50", aria_label: tr("続柄", "Relation"), placeholder: tr("続柄", "Relation"), value: "{contact.relation}",
                oninput: move |e| edit(|c, v| c.relation = v, e.value()) }
            input { r#type: "tel", maxlength: "50", aria_label: tr("電話", "Phone"), placeholder: tr("電話", "Phone"), value: "{contact.phone}",
                oninput: move |e| edit(|c, v| c.phone = v, e.value()) }
        }
    }
}
