//! One person's card: the essentials a responder needs at the door (address, phone, reasons,
//! contacts, helpers), a call link, the patient room, the safety check and its history, and
//! for the city's staff placing the person's pin on the map.

use super::labels;
use super::{Screen, View};
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::register as kept;
use crate::route::{self, Route};
use crate::ui::session::Session;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{
    apply_mark, RegisterContact, RegisterPersonDetail, RegisterPersonId, SafetyMark, SafetyStatus,
};

#[component]
pub fn PersonCard(id: RegisterPersonId) -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut history = use_signal(|| None::<Result<Vec<SafetyMark>, String>>);
    let slug = screen.slug.read().clone();

    // The history of marks (and the audited view of the person) from the server; offline,
    // the card shows what the kept list holds.
    let s = slug.clone();
    let sess = session.clone();
    use_hook(move || {
        spawn(async move {
            let url = format!("/api/register/{s}/people/{id}");
            match api::get::<RegisterPersonDetail>(&url).await {
                Ok(d) => history.set(Some(Ok(d.marks))),
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(ApiError::Offline) => history.set(Some(Err(tr(
                    "オフラインのため、記録の履歴は電波のある場所で表示されます。",
                    "Offline: the history shows where there is a signal.",
                )
                .to_owned()))),
                Err(e) => history.set(Some(Err(e.message()))),
            }
        });
    });

    let Some(person) = screen.person(id) else {
        return rsx! {};
    };
    let f = person.fields.clone();
    let close = move |_| {
        let mut s = screen.selected;
        s.set(None)
    };
    let meaning = screen
        .overview
        .read()
        .as_ref()
        .and_then(|o| o.legend.iter().find(|e| e.label == f.label))
        .map(|e| e.meaning.clone())
        .unwrap_or_default();
    let age = f.birth_date.as_deref().and_then(crate::util::age);
    let sex = labels::sex(f.sex);
    let phone = tel(&f.phone);
    let refused: Vec<(String, String)> = screen
        .pending
        .read()
        .iter()
        .filter(|m| m.person == id)
        .filter_map(|m| Some((m.mark.id.clone(), m.refused.clone()?)))
        .collect();
    let current = person.safety.clone();
    let located = f.location;
    rsx! {
        Sheet { title: format!("{} {}", f.name, tr("様", "")).trim().to_owned(), on_close: close,
            div { class: "person-card",
                p { class: "kana", "{f.kana}"
                    if let Some(a) = age { " · " {tr_string(format!("{a}歳"), format!("{a} y"))} }
                    if !sex.is_empty() { " · {sex}" }
                }
                p { class: "label-line",
                    span { class: "label-chip label-{f.label.as_str()}", "{labels::colour(f.label)}" }
                    " {meaning}"
                }
                if let Some(state) = &current {
                    p { class: "status-line status-{state.status.as_str()}",
                        span { class: "badge-glyph", aria_hidden: "true", "{labels::status_badge(state.status)}" }
                        strong { " {labels::status(state.status)}" }
                        if let Some(m) = &state.mark {
                            span { class: "muted",
                                {tr_string(format!(" — {} {}", m.by_name, crate::util::short_time(m.marked_at)), format!(" — {} {}", m.by_name, crate::util::short_time(m.marked_at)))}
                            }
                            if !m.note.is_empty() {
                                span { class: "note", " 「{m.note}」" }
                            }
                        }
                    }
                }
                for (mark_id, why) in refused {
                    p { class: "error", role: "alert", key: "{mark_id}",
                        {tr_string(format!("送信できなかった記録: {why}"), format!("A mark was refused: {why}"))}
                        button {
                            r#type: "button",
                            class: "secondary small",
                            onclick: {
                                let (store, slug, mark_id) = (session.store.clone(), slug.clone(), mark_id.clone());
                                move |_| {
                                    let (store, slug, mark_id) = (store.clone(), slug.clone(), mark_id.clone());
                                    let mut pending = screen.pending;
                                    spawn(async move {
                                        kept::dismiss(&store, &slug, &mark_id).await;
                                        pending.set(kept::pending(&store, &slug).await);
                                    });
                                }
                            },
                            {tr("閉じる", "Dismiss")}
                        }
                    }
                }
                div { class: "card-actions",
                    if let Some(p) = &phone {
                        a { class: "button call", href: "tel:{p}", {tr_string(format!("📞 電話する {}", f.phone), format!("📞 Call {}", f.phone))} }
                    }
                    if let Some(room) = f.room {
                        a {
                            class: "button secondary",
                            href: "{Route::Room(room).href()}",
                            onclick: move |e| { e.prevent_default(); route::go(Route::Room(room)); },
                            {tr("患者ルームを開く", "Open the patient room")}
                        }
                    }
                    if let Some(l) = &located {
                        button {
                            r#type: "button",
                            class: "secondary",
                            onclick: {
                                let (lat, lon) = (l.latitude, l.longitude);
                                move |_| {
                                    let (mut v, mut sel) = (screen.view, screen.selected);
                                    super::map_view::focus_on(lat, lon);
                                    v.set(View::Map);
                                    sel.set(None);
                                }
                            },
                            {tr("地図で見る", "Show on the map")}
                        }
                    }
                    if screen.manages() {
                        button {
                            r#type: "button",
                            class: "secondary",
                            onclick: move |_| {
                                let (mut v, mut sel, mut placing) = (screen.view, screen.selected, screen.placing);
                                placing.set(Some(id));
                                v.set(View::Map);
                                sel.set(None);
                            },
                            if located.is_some() { {tr("ピンを移動", "Move the pin")} } else { {tr("地図にピンを置く", "Place on the map")} }
                        }
                    }
                }
                if screen.manages() {
                    button {
                        r#type: "button",
                        class: "secondary small",
                        onclick: move |_| {
                            let (mut sel, mut ed) = (screen.selected, screen.editing);
                            sel.set(None);
                            ed.set(Some(Some(id)));
                        },
                        {tr("登録内容を編集", "Edit")}
                    }
                }
                if screen.manages() && !person.retired {
                    button {
                        r#type: "button",
                        class: "secondary danger small retire",
                        onclick: {
                            let (slug, sess) = (slug.clone(), session.clone());
                            move |_| {
                                let (slug, sess) = (slug.clone(), sess.clone());
                                let confirmed = web_sys::window()
                                    .and_then(|w| w.confirm_with_message(&tr_string(
                                        format!("{} 様を名簿から除外しますか？（記録は残り、「管理」から戻せます）", f.name),
                                        format!("Retire {} from the register? (Kept; restore it under Manage.)", f.name),
                                    )).ok())
                                    .unwrap_or(false);
                                if !confirmed {
                                    return;
                                }
                                spawn(async move {
                                    let mut sc = screen;
                                    match super::manage::retire(&slug, id).await {
                                        Ok(()) => {
                                            sc.selected.set(None);
                                            sc.reload += 1;
                                        }
                                        Err(e) if e.is_unauthorized() => sess.expired(),
                                        Err(e) => sc.notice.set(Some(e.explain())),
                                    }
                                });
                            }
                        },
                        {tr("名簿から除外", "Retire")}
                    }
                }
                if screen.marks() && !person.retired {
                    MarkForm { id }
                }
                dl { class: "facts",
                    if !f.address.is_empty() {
                        dt { {tr("住所", "Address")} }
                        dd { "{f.address}" if !f.area.is_empty() { "（{f.area}）" } }
                    }
                    dt { {tr("世帯", "Household")} }
                    dd { "{labels::household(f.household)}" }
                    if !f.reasons.is_empty() {
                        dt { {tr("理由", "Reasons")} }
                        dd {
                            ul { class: "reasons",
                                for (i, r) in f.reasons.iter().enumerate() {
                                    li { key: "{i}",
                                        strong { "{labels::reason(r.kind)}" }
                                        if !r.detail.is_empty() { " {r.detail}" }
                                    }
                                }
                            }
                        }
                    }
                    if !f.emergency_contacts.is_empty() {
                        dt { {tr("緊急連絡先", "Emergency contacts")} }
                        dd { Contacts { people: f.emergency_contacts.clone() } }
                    }
                    if !f.helpers.is_empty() {
                        dt { {tr("支援者", "Helpers")} }
                        dd { Contacts { people: f.helpers.clone() } }
                    }
                    if !f.notes.is_empty() {
                        dt { {tr("備考", "Notes")} }
                        dd { class: "notes", "{f.notes}" }
                    }
                    if !f.consent {
                        dt { {tr("同意", "Consent")} }
                        dd { {tr("平常時の情報提供に同意なし（災害時のみ表示）", "No consent to share in normal times (shown in a disaster only)")} }
                    }
                }
                if current.is_some() {
                    h3 { {tr("安否確認の記録", "Safety check history")} }
                    match history() {
                        None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                        Some(Err(msg)) => rsx! { p { class: "muted", "{msg}" } },
                        Some(Ok(marks)) if marks.is_empty() => rsx! { p { class: "muted", {tr("まだ記録はありません。", "No marks yet.")} } },
                        Some(Ok(marks)) => rsx! {
                            ol { class: "marks",
                                for m in marks {
                                    li { key: "{m.id}",
                                        span { class: "status status-{m.status.as_str()}", "{labels::status(m.status)}" }
                                        " {m.by_name} · {crate::util::short_time(m.marked_at)}"
                                        if !m.note.is_empty() { " 「{m.note}」" }
                                    }
                                }
                            }
                        },
                    }
                }
            }
        }
    }
}

/// Digits and `+` of a phone number as written (03-1234-5678), for a `tel:` link.
fn tel(phone: &str) -> Option<String> {
    let digits: String = phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    (digits.len() >= 3).then_some(digits)
}

#[component]
fn Contacts(people: Vec<RegisterContact>) -> Element {
    rsx! {
        ul { class: "contacts",
            for (i, c) in people.into_iter().enumerate() {
                li { key: "{i}",
                    "{c.name}"
                    if !c.relation.is_empty() { "（{c.relation}）" }
                    if let Some(t) = tel(&c.phone) {
                        " "
                        a { href: "tel:{t}", "{c.phone}" }
                    }
                }
            }
        }
    }
}

/// The safety check: four large buttons and a note; kept on the device first, then sent.
#[component]
fn MarkForm(id: RegisterPersonId) -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let mut choice = use_signal(|| None::<SafetyStatus>);
    let mut note = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let record = move |_| {
        let Some(status) = choice() else { return };
        if busy() {
            return;
        }
        busy.set(true);
        let (store, slug) = (session.store.clone(), screen.slug.peek().clone());
        let (me, my_name) = (session.me.user.id, session.me.user.display_name.clone());
        let text = note.peek().trim().to_owned();
        let sess = session.clone();
        spawn(async move {
            let mut sc = screen;
            let entry = kept::queue_mark(&store, &slug, id, status, text).await;
            sc.pending.with_mut(|p| p.push(entry.clone()));
            sc.people.with_mut(|list| {
                if let Some(list) = list.as_mut() {
                    if let Some(p) = list.iter_mut().find(|p| p.id == id) {
                        apply_mark(p, entry.as_mark(me, &my_name));
                    }
                    renraku_contract::sort_register(list);
                }
            });
            choice.set(None);
            note.set(String::new());
            busy.set(false);
            let flushed = kept::flush(&store, &slug).await;
            if flushed.unauthorized {
                sess.expired();
                return;
            }
            sc.pending.set(kept::pending(&store, &slug).await);
            sc.people.with_mut(|list| {
                if let Some(list) = list.as_mut() {
                    for m in &flushed.stored {
                        if let Some(p) = list.iter_mut().find(|p| p.id == m.person) {
                            apply_mark(p, m.clone());
                        }
                    }
                    renraku_contract::sort_register(list);
                }
            });
            let list = sc.people.peek().clone().unwrap_or_default();
            kept::keep_people(&store, &slug, &list).await;
            if flushed.waiting > 0 {
                sc.notice.set(Some(
                    tr(
                        "オフラインのため安否記録を端末に保存しました。電波が戻ると送信します。",
                        "Offline: the mark is kept on this device and sent when the signal returns.",
                    )
                    .to_owned(),
                ));
            } else if flushed.refused.is_empty() {
                sc.notice
                    .set(Some(tr("安否を記録しました。", "Recorded.").to_owned()));
            } else {
                super::report(sc, &flushed);
            }
        });
    };
    rsx! {
        section { class: "mark-form", aria_label: tr("安否を記録", "Record safety"),
            h3 { {tr("安否を記録", "Record safety")} }
            div { class: "mark-buttons", role: "radiogroup",
                for s in labels::STATUS_ORDER {
                    button {
                        key: "{s.as_str()}",
                        r#type: "button",
                        role: "radio",
                        class: "mark status-{s.as_str()}",
                        aria_checked: if choice() == Some(s) { "true" } else { "false" },
                        onclick: move |_| choice.set(Some(s)),
                        span { class: "badge-glyph", aria_hidden: "true", "{labels::status_badge(s)}" }
                        " {labels::status(s)}"
                    }
                }
            }
            input {
                r#type: "text",
                class: "mark-note",
                maxlength: "500",
                aria_label: tr("メモ（任意）", "Note (optional)"),
                placeholder: tr("メモ（任意）例: 避難所へ移動", "Note (optional)"),
                value: "{note}",
                oninput: move |e| note.set(e.value()),
            }
            button {
                r#type: "button",
                class: "primary",
                disabled: choice().is_none() || busy(),
                onclick: record,
                {tr("記録する", "Record")}
            }
        }
    }
}
