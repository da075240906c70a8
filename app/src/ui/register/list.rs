//! The register as a list: filters (colour, status, area, reason, name or kana) and one row
//! per person in priority order; a row opens the person's card.

use super::labels;
use super::Screen;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{LabelColour, ReasonKind, RegisterPerson, SafetyStatus};

#[component]
pub fn Filters() -> Element {
    let screen = use_context::<Screen>();
    let mut query = screen.query;
    let q = query.read().clone();
    let mut areas: Vec<String> = screen
        .people
        .read()
        .iter()
        .flatten()
        .map(|p| p.fields.area.clone())
        .filter(|a| !a.is_empty())
        .collect();
    areas.sort();
    areas.dedup();
    let disaster = screen.disaster();
    rsx! {
        div { class: "register-filters",
            input {
                r#type: "search",
                aria_label: tr("氏名・ふりがなで検索", "Search by name or kana"),
                placeholder: tr("氏名・ふりがなで検索", "Search by name or kana"),
                value: "{q.q.clone().unwrap_or_default()}",
                oninput: move |e| {
                    let v = e.value();
                    query.with_mut(|q| q.q = (!v.trim().is_empty()).then_some(v));
                },
            }
            div { class: "colour-chips", role: "group", aria_label: tr("色で絞り込み", "Filter by colour"),
                button {
                    r#type: "button",
                    class: "chip",
                    aria_pressed: if q.label.is_none() { "true" } else { "false" },
                    onclick: move |_| query.with_mut(|q| q.label = None),
                    {tr("すべて", "All")}
                }
                for l in LabelColour::ALL.iter().copied() {
                    button {
                        key: "{l.as_str()}",
                        r#type: "button",
                        class: "chip",
                        aria_pressed: if q.label == Some(l) { "true" } else { "false" },
                        onclick: move |_| query.with_mut(|q| q.label = if q.label == Some(l) { None } else { Some(l) }),
                        span { class: "dot label-{l.as_str()}", aria_hidden: "true" }
                        "{labels::colour(l)}"
                    }
                }
            }
            div { class: "selects",
                if disaster {
                    select {
                        aria_label: tr("安否で絞り込み", "Filter by status"),
                        onchange: move |e| {
                            let v = e.value();
                            query.with_mut(|q| q.status = SafetyStatus::parse(&v));
                        },
                        option { value: "", selected: q.status.is_none(), {tr("安否: すべて", "Status: all")} }
                        for s in labels::STATUS_ORDER {
                            option { key: "{s.as_str()}", value: "{s.as_str()}", selected: q.status == Some(s), "{labels::status(s)}" }
                        }
                    }
                }
                select {
                    aria_label: tr("地区で絞り込み", "Filter by area"),
                    onchange: move |e| {
                        let v = e.value();
                        query.with_mut(|q| q.area = (!v.is_empty()).then_some(v));
                    },
                    option { value: "", selected: q.area.is_none(), {tr("地区: すべて", "Area: all")} }
                    for a in areas {
                        option { key: "{a}", value: "{a}", selected: q.area.as_deref() == Some(a.as_str()), "{a}" }
                    }
                }
                select {
                    aria_label: tr("理由で絞り込み", "Filter by reason"),
                    onchange: move |e| {
                        let v = e.value();
                        query.with_mut(|q| q.reason = ReasonKind::parse(&v));
                    },
                    option { value: "", selected: q.reason.is_none(), {tr("理由: すべて", "Reason: all")} }
                    for r in ReasonKind::ALL.iter().copied() {
                        option { key: "{r.as_str()}", value: "{r.as_str()}", selected: q.reason == Some(r), "{labels::reason(r)}" }
                    }
                }
            }
        }
    }
}

#[component]
pub fn PeopleList(people: Vec<RegisterPerson>) -> Element {
    let screen = use_context::<Screen>();
    if screen.people.read().is_none() {
        return rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } };
    }
    if people.is_empty() {
        return rsx! { p { class: "muted pad", {tr("該当する人はいません。", "Nobody matches.")} } };
    }
    rsx! {
        ul { class: "register-list", aria_label: tr("要援護者", "People"),
            for p in people {
                Row { key: "{p.id}", person: p }
            }
        }
    }
}

#[component]
fn Row(person: RegisterPerson) -> Element {
    let screen = use_context::<Screen>();
    let id = person.id;
    let f = &person.fields;
    let waiting = screen
        .pending
        .read()
        .iter()
        .any(|m| m.person == id && m.refused.is_none());
    let mut details = Vec::new();
    if let Some(age) = f.birth_date.as_deref().and_then(crate::util::age) {
        details.push(tr_string(format!("{age}歳"), format!("{age} y")));
    }
    if !f.area.is_empty() {
        details.push(f.area.clone());
    }
    let reasons: Vec<&str> = f
        .reasons
        .iter()
        .take(3)
        .map(|r| labels::reason(r.kind))
        .collect();
    if !reasons.is_empty() {
        details.push(reasons.join("・"));
    }
    let status = person.safety.as_ref().map(|s| s.status);
    let label = f.label;
    rsx! {
        li { class: "register-row label-{label.as_str()}",
            button {
                r#type: "button",
                class: "register-row-button",
                onclick: move |_| { let mut s = screen.selected; s.set(Some(id)) },
                span { class: "label-chip label-{label.as_str()}", "{labels::colour(label)}" }
                span { class: "register-row-main",
                    span { class: "name", "{f.name}" }
                    span { class: "kana", "{f.kana}" }
                    span { class: "details", "{details.join(\" · \")}" }
                }
                if let Some(s) = status {
                    span { class: "status status-{s.as_str()}",
                        span { class: "badge-glyph", aria_hidden: "true", "{labels::status_badge(s)}" }
                        "{labels::status(s)}"
                    }
                }
                if waiting {
                    span { class: "waiting", {tr("未送信", "Not sent")} }
                }
            }
        }
    }
}
