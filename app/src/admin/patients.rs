//! Patients of the municipality: register (the server creates their room with them), edit,
//! archive and bring back; a link to the patient room's members.

use super::Session;
use super::{check, go, load, murl, Check, Choice, Field, FormError, LoadState};
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::ui::widgets::Sheet;
use crate::util;
use dioxus::prelude::*;
use renraku_contract::{
    AdminRoom, CreatedPatient, NewPatientRequest, PatientId, PatientListing, PatientUpdate, RoomId,
};

const CARE_LEVELS: [&str; 8] = [
    "",
    "要支援1",
    "要支援2",
    "要介護1",
    "要介護2",
    "要介護3",
    "要介護4",
    "要介護5",
];

fn triage_label(t: &str) -> &'static str {
    match t {
        "red" => tr("赤（最優先）", "Red (first)"),
        "yellow" => tr("黄", "Yellow"),
        "green" => tr("緑", "Green"),
        "black" => tr("黒", "Black"),
        _ => tr("なし", "None"),
    }
}

/// Kana, age and care level, as the home screen shows a patient.
fn meta(p: &PatientListing) -> String {
    let mut bits = vec![p.name_kana.clone()];
    if let Some(age) = util::age(&p.birth_date) {
        bits.push(tr_string(format!("{age}歳"), format!("{age} y")));
    }
    if !p.care_level.is_empty() {
        bits.push(p.care_level.clone());
    }
    bits.join(" · ")
}

#[component]
pub fn Patients() -> Element {
    let session = use_context::<Session>();
    let s = session.clone();
    let mut patients = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<PatientListing>>(&s, &murl(&s.slug, "patients")).await }
    });
    let s = session.clone();
    let mut rooms = use_resource(move || {
        let s = s.clone();
        async move { load::<Vec<AdminRoom>>(&s, &murl(&s.slug, "rooms")).await }
    });
    let mut filter = use_signal(String::new);
    let mut show_archived = use_signal(|| false);
    let mut open = use_signal(|| None::<Option<PatientListing>>);
    let mut notice = use_signal(|| None::<String>);

    let room_of = |patient: PatientId| -> Option<RoomId> {
        rooms
            .read()
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.iter().find(|r| r.patient == Some(patient)).map(|r| r.id))
    };
    let list = patients.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            input {
                r#type: "search",
                aria_label: tr("名前・かなで絞り込み", "Filter by name or kana"),
                placeholder: tr("名前・かなで絞り込み", "Filter by name or kana"),
                value: "{filter}",
                oninput: move |e| filter.set(e.value()),
            }
            div { class: "admin-check",
                input { id: "show-archived", r#type: "checkbox", checked: show_archived(), onchange: move |e| show_archived.set(e.checked()) }
                label { r#for: "show-archived", {tr("アーカイブ済みも表示", "Show archived")} }
            }
            button { class: "primary", r#type: "button", onclick: move |_| open.set(Some(None)),
                {tr("＋ 患者を登録", "+ New patient")}
            }
        }
        if let Some(msg) = notice() {
            p { class: "admin-notice", role: "status", "{msg}" }
        }
        match list {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok(list)) => rsx! {
                ul { class: "admin-list", aria_label: tr("患者一覧", "Patients"),
                    for p in list.into_iter().filter(|p| show_archived() || !p.archived).filter(|p| util::matches_filter(&filter(), &[&p.name, &p.name_kana])) {
                        li { key: "{p.id}", class: "with-side",
                            button {
                                r#type: "button",
                                class: if p.archived { "admin-item disabled" } else { "admin-item" },
                                onclick: {
                                    let p = p.clone();
                                    move |_| open.set(Some(Some(p.clone())))
                                },
                                span { class: "name",
                                    "{p.name}"
                                    if p.archived {
                                        span { class: "tag off", {tr("アーカイブ", "Archived")} }
                                    }
                                    if p.disaster_flag {
                                        span { class: "tag warn", {tr("要援護", "Needs help in disasters")} }
                                    }
                                }
                                span { class: "meta", "{meta(&p)}" }
                            }
                            if let Some(room) = room_of(p.id) {
                                button {
                                    r#type: "button",
                                    class: "link side",
                                    aria_label: tr_string(format!("{} 様のルームのメンバー", p.name), format!("Members of {}'s room", p.name)),
                                    onclick: move |_| go(format!("rooms/{room}")),
                                    {tr("メンバー", "Members")}
                                }
                            }
                        }
                    }
                }
            },
        }
        if let Some(editing) = open() {
            PatientForm {
                patient: editing,
                on_close: move |_| open.set(None),
                on_saved: move |msg: String| {
                    patients.restart();
                    rooms.restart();
                    notice.set(Some(msg));
                    open.set(None);
                },
            }
        }
    }
}

#[component]
fn PatientForm(
    patient: Option<PatientListing>,
    on_close: EventHandler<()>,
    on_saved: EventHandler<String>,
) -> Element {
    let session = use_context::<Session>();
    let p = patient.clone().unwrap_or(PatientListing {
        id: PatientId::new(0),
        name: String::new(),
        name_kana: String::new(),
        birth_date: String::new(),
        address: String::new(),
        care_level: String::new(),
        disaster_flag: false,
        triage: None,
        archived: false,
    });
    let q = p.clone();
    let name = use_signal(|| q.name.clone());
    let kana = use_signal(|| q.name_kana.clone());
    let birth = use_signal(|| q.birth_date.clone());
    let address = use_signal(|| q.address.clone());
    let care = use_signal(|| q.care_level.clone());
    let disaster = use_signal(|| q.disaster_flag);
    let triage = use_signal(|| q.triage.clone().unwrap_or_default());
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let existing = patient.as_ref().map(|p| p.id);
    let archived = p.archived;

    let s = session.clone();
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            // The same fields both ways; an empty triage clears it.
            let body = NewPatientRequest {
                name: name.peek().clone(),
                name_kana: kana.peek().clone(),
                birth_date: birth.peek().clone(),
                address: address.peek().clone(),
                care_level: care.peek().clone(),
                disaster_flag: *disaster.peek(),
                triage: Some(triage.peek().clone()),
            };
            let change = PatientUpdate {
                name: Some(body.name.clone()),
                name_kana: Some(body.name_kana.clone()),
                birth_date: Some(body.birth_date.clone()),
                address: Some(body.address.clone()),
                care_level: Some(body.care_level.clone()),
                disaster_flag: Some(body.disaster_flag),
                triage: body.triage.clone(),
                archived: None,
            };
            let result = match existing {
                Some(id) => api::send::<_, ()>("PATCH", &format!("/api/admin/patients/{id}"), &change)
                    .await
                    .map(|_| tr("保存しました。", "Saved.").to_owned()),
                None => api::post::<_, CreatedPatient>(&murl(&s.slug, "patients"), &body)
                    .await
                    .map(|c| {
                        tr_string(
                            format!("{} 様を登録し、ルームを作成しました（ルーム {}）。「メンバー」からケアチームを追加してください。", body.name.trim(), c.room),
                            format!("{} is registered with a room ({}). Add the care team under Members.", body.name.trim(), c.room),
                        )
                    }),
            };
            busy.set(false);
            match check(&s, result) {
                Ok(msg) => on_saved.call(msg),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    let s = session.clone();
    let toggle_archive = move |_| {
        let Some(id) = existing else { return };
        if busy() {
            return;
        }
        busy.set(true);
        let s = s.clone();
        spawn(async move {
            let result = api::send::<_, ()>(
                "PATCH",
                &format!("/api/admin/patients/{id}"),
                &PatientUpdate {
                    archived: Some(!archived),
                    ..Default::default()
                },
            )
            .await;
            busy.set(false);
            match check(&s, result) {
                Ok(()) => on_saved.call(if archived {
                    tr("アーカイブから戻しました。", "Restored from the archive.").into()
                } else {
                    tr("アーカイブしました。", "Archived.").into()
                }),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    let care_options: Vec<(String, String)> = CARE_LEVELS
        .iter()
        .map(|c| {
            let label = if c.is_empty() {
                tr("（なし）", "(none)")
            } else {
                c
            };
            (c.to_string(), label.to_owned())
        })
        .collect();
    let triage_options: Vec<(String, String)> = ["", "red", "yellow", "green", "black"]
        .iter()
        .map(|t| (t.to_string(), triage_label(t).to_owned()))
        .collect();
    let title = if existing.is_some() {
        tr("患者を編集", "Edit patient")
    } else {
        tr("患者を登録", "New patient")
    };
    rsx! {
        Sheet { title: title.to_owned(), on_close: move |_| on_close.call(()),
            form { class: "admin-form", onsubmit: submit,
                Field { id: "patient-name", label: tr("氏名", "Name").to_owned(), value: name, required: true }
                Field { id: "patient-kana", label: tr("ふりがな", "Name in kana").to_owned(), value: kana, required: true }
                Field { id: "patient-birth", label: tr("生年月日", "Date of birth").to_owned(), value: birth, kind: "date", required: true }
                Field { id: "patient-address", label: tr("住所", "Address").to_owned(), value: address }
                Choice { id: "patient-care", label: tr("要介護度", "Care level").to_owned(), value: care, options: care_options }
                Check { id: "patient-disaster", label: tr("災害時要援護者", "Needs assistance in disasters").to_owned(), value: disaster }
                Choice { id: "patient-triage", label: tr("トリアージ区分", "Triage colour").to_owned(), value: triage, options: triage_options }
                FormError { error: error() }
                button { class: "primary", r#type: "submit", disabled: busy(),
                    if existing.is_some() { {tr("保存する", "Save")} } else { {tr("登録してルームを作成", "Register and create the room")} }
                }
            }
            if existing.is_some() {
                div { class: "admin-actions",
                    button { class: if archived { "secondary wide" } else { "secondary danger wide" }, r#type: "button", disabled: busy(), onclick: toggle_archive,
                        if archived { {tr("アーカイブから戻す", "Restore")} } else { {tr("アーカイブする", "Archive")} }
                    }
                    p { class: "muted", {tr("アーカイブした患者は一覧から外れますが、記録は残ります。", "Archived patients leave the lists; their records stay.")} }
                }
            }
        }
    }
}
