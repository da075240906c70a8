//! 駐車場: every space of the municipality, 受付中 or 休止中; adding and changing one (its
//! lender, name, address, where it is, its size limits, how to find it, its photo), and
//! pausing or resuming it. The pin is typed as latitude and longitude for now.

use super::{go, limit_label, photo_url, weekday_label, window_label, City, PauseControl, Section};
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{ErrorBody, NewSpace, ParkingLimit, ParkingPoint, Space, SpaceId};
use wasm_bindgen::JsCast;

const PHOTO_INPUT: &str = "parking-space-photo";

#[component]
pub(super) fn SpacesSection() -> Element {
    let city = use_context::<City>();
    // `Some(None)`: a new space.
    let mut editing = use_signal(|| None::<Option<SpaceId>>);
    let spaces = city.spaces.read().clone();
    let slug = city.slug.read().clone();
    let Some(spaces) = spaces else {
        return rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } };
    };
    let active = spaces.iter().filter(|s| !s.paused).count();
    rsx! {
        section { class: "parking-section",
            h2 { {tr("駐車場", "Spaces")} }
            p { class: "muted",
                {tr_string(format!("{} か所（受付中 {} ・休止中 {}）", spaces.len(), active, spaces.len() - active),
                    format!("{} spaces ({} open, {} paused)", spaces.len(), active, spaces.len() - active))}
            }
            if editing() == Some(None) {
                SpaceForm { space: None, on_close: move |_| editing.set(None) }
            } else {
                button {
                    r#type: "button",
                    class: "primary wide",
                    onclick: move |_| editing.set(Some(None)),
                    {tr("＋ 駐車場を登録", "+ Add a space")}
                }
            }
            ul { class: "parking-list",
                for s in spaces {
                    li { key: "{s.id}", class: if s.paused { "parking-item paused" } else { "parking-item" },
                        if editing() == Some(Some(s.id)) {
                            SpaceForm { space: Some(s.clone()), on_close: move |_| editing.set(None) }
                        } else {
                            SpaceCard { slug: slug.clone(), space: s.clone(), on_edit: move |_| editing.set(Some(Some(s.id))) }
                        }
                    }
                }
            }
        }
    }
}

/// How a space's week reads in one line: 月火水木金 9:00–17:00.
fn week_summary(space: &Space) -> String {
    let weekly = &space.availability.weekly;
    if weekly.is_empty() {
        return tr("利用可能時間が未設定です", "No hours set").into();
    }
    // Group the days that have the same window.
    let mut groups: Vec<((i64, i64), String)> = Vec::new();
    for w in weekly {
        let key = (w.start_min, w.end_min);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, days)) => days.push_str(weekday_label(w.weekday)),
            None => groups.push((key, weekday_label(w.weekday).to_owned())),
        }
    }
    groups
        .iter()
        .map(|((a, b), days)| format!("{days} {}", window_label(*a, *b)))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[component]
fn SpaceCard(slug: String, space: Space, on_edit: EventHandler<()>) -> Element {
    let city = use_context::<City>();
    let id = space.id;
    // The limits the note does not already say (高さ制限 and 「高さ制限 2.0m」 read as one).
    let note = space.fields.limits_note.trim();
    let limits: Vec<&str> = space
        .fields
        .limits
        .iter()
        .map(|l| limit_label(*l))
        .filter(|l| !note.contains(l))
        .collect();
    let limits_text = format!("{} {note}", limits.join("・"));
    let week = week_summary(&space);
    let thumb = photo_url(&slug, &space, true);
    rsx! {
        div { class: "item-head",
            strong { "{space.fields.name}" }
            if space.paused {
                span { class: "tag paused", {tr("休止中", "Paused")} }
            } else {
                span { class: "tag open", {tr("受付中", "Open")} }
            }
        }
        div { class: "item-body",
            if let Some(src) = thumb {
                img { class: "space-thumb", src: "{src}", alt: tr_string(format!("{} の写真", space.fields.name), format!("Photo of {}", space.fields.name)) }
            }
            div {
                p { {tr_string(format!("貸主: {}", space.lender_name), format!("Lender: {}", space.lender_name))} }
                p { class: "muted", "{space.fields.address}" }
                if !limits_text.trim().is_empty() {
                    p { class: "muted", "{limits_text.trim()}" }
                }
                p { class: "muted", "🕘 {week}" }
            }
        }
        div { class: "row",
            button { r#type: "button", class: "secondary", onclick: move |_| on_edit.call(()), {tr("編集", "Edit")} }
            button { r#type: "button", class: "secondary", onclick: move |_| go(Section::Availability(Some(id))), {tr("利用可能時間", "Hours")} }
            button { r#type: "button", class: "secondary", onclick: move |_| go(Section::Bookings(Some(id))), {tr("予約", "Bookings")} }
            PauseControl { slug: slug.clone(), space: space.clone(), on_done: move |s: Space| city.replace_space(s) }
        }
    }
}

/// The photo picked in the form, if any.
fn picked_photo() -> Option<web_sys::File> {
    web_sys::window()?
        .document()?
        .get_element_by_id(PHOTO_INPUT)?
        .dyn_into::<web_sys::HtmlInputElement>()
        .ok()?
        .files()?
        .get(0)
}

/// Sends the photo; the server's own words when it refuses it.
async fn upload_photo(
    slug: &str,
    id: SpaceId,
    file: &web_sys::File,
) -> Result<Option<Space>, String> {
    let url = format!("/api/parking/{slug}/spaces/{id}/photo");
    let kind = file.type_();
    let kind = if kind.is_empty() {
        "application/octet-stream".into()
    } else {
        kind
    };
    match api::send_file("PUT", &url, file, &kind).await {
        Ok((200, body)) => Ok(serde_json::from_str(&body).ok()),
        Ok((401, _)) => Err(String::new()),
        Ok((_, body)) => Err(serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| {
                tr("写真を送れませんでした。", "The photo was not accepted.").into()
            })),
        Err(e) => Err(e.message()),
    }
}

#[derive(Clone, PartialEq)]
struct Draft {
    fields: NewSpace,
    latitude: String,
    longitude: String,
}

#[component]
fn SpaceForm(space: Option<Space>, on_close: EventHandler<()>) -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let lenders = city.lenders.read().clone();
    let first_lender = lenders.first().map(|l| l.id);
    let start = match &space {
        Some(s) => Draft {
            fields: s.fields.clone(),
            latitude: s.fields.location.latitude.to_string(),
            longitude: s.fields.location.longitude.to_string(),
        },
        None => Draft {
            fields: NewSpace {
                lender: first_lender.unwrap_or(renraku_contract::LenderId(0)),
                name: String::new(),
                address: String::new(),
                location: ParkingPoint {
                    latitude: 0.0,
                    longitude: 0.0,
                },
                limits: vec![],
                limits_note: String::new(),
                directions: String::new(),
            },
            latitude: String::new(),
            longitude: String::new(),
        },
    };
    let mut draft = use_signal(|| start);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    // An object URL of the photo picked, to show it before it is sent.
    let mut preview = use_signal(|| None::<String>);
    let mut remove_photo = use_signal(|| false);
    let id = space.as_ref().map(|s| s.id);
    let slug = city.slug.read().clone();
    let current_photo = space.as_ref().and_then(|s| photo_url(&slug, s, false));
    let save = {
        let slug = slug.clone();
        move |e: FormEvent| {
            e.prevent_default();
            let d = draft.peek().clone();
            let (lat, lon) = (
                d.latitude.trim().parse::<f64>(),
                d.longitude.trim().parse::<f64>(),
            );
            let (Ok(latitude), Ok(longitude)) = (lat, lon) else {
                error.set(Some(
                    tr(
                        "緯度・経度を数字で入力してください（例: 35.6812, 139.7671）。",
                        "Enter the latitude and longitude as numbers (e.g. 35.6812, 139.7671).",
                    )
                    .into(),
                ));
                return;
            };
            let mut body = d.fields.clone();
            body.location = ParkingPoint {
                latitude,
                longitude,
            };
            let (s, slug) = (session.clone(), slug.clone());
            let drop_photo = remove_photo();
            busy.set(true);
            spawn(async move {
                let answer = match id {
                    None => api::post::<_, Space>(&city.url("/spaces"), &body).await,
                    Some(id) => {
                        api::send::<_, Space>("PUT", &city.url(&format!("/spaces/{id}")), &body)
                            .await
                    }
                };
                let saved = match answer {
                    Ok(saved) => saved,
                    Err(e) if e.is_unauthorized() => return s.expired(),
                    Err(e) => {
                        busy.set(false);
                        return error.set(Some(e.explain()));
                    }
                };
                city.replace_space(saved.clone());
                if let Some(file) = picked_photo() {
                    match upload_photo(&slug, saved.id, &file).await {
                        Ok(Some(with_photo)) => city.replace_space(with_photo),
                        Ok(None) => city.refresh(),
                        Err(msg) if msg.is_empty() => return s.expired(),
                        Err(msg) => {
                            busy.set(false);
                            // The space is saved; the photo is what to fix.
                            return error.set(Some(tr_string(
                                format!("駐車場は保存しましたが、写真は送れませんでした: {msg}"),
                                format!("The space is saved, but not the photo: {msg}"),
                            )));
                        }
                    }
                } else if drop_photo {
                    if let Err(e) =
                        api::delete(&city.url(&format!("/spaces/{}/photo", saved.id))).await
                    {
                        busy.set(false);
                        return error.set(Some(e.message()));
                    }
                    city.refresh();
                }
                busy.set(false);
                on_close.call(());
            });
        }
    };
    let on_pick = move |_| {
        if let Some(old) = preview.peek().clone() {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        preview
            .set(picked_photo().and_then(|f| web_sys::Url::create_object_url_with_blob(&f).ok()));
        remove_photo.set(false);
    };
    let d = draft();
    // The space's pin on the form's map, where the numbers typed or tapped put it.
    let pin = match (
        d.latitude.trim().parse::<f64>(),
        d.longitude.trim().parse::<f64>(),
    ) {
        (Ok(lat), Ok(lon)) => Some(crate::map::SpaceMark {
            id: id.map_or(0, |i| i.0),
            lat,
            lon,
            name: d.fields.name.clone(),
            selected: true,
            paused: false,
        }),
        _ => None,
    };
    if lenders.is_empty() {
        return rsx! {
            div { class: "parking-form",
                p { {tr("先に「貸主」で貸主を登録してください。", "Add the lender first, under Lenders.")} }
                div { class: "row",
                    button { r#type: "button", class: "primary", onclick: move |_| go(Section::Lenders), {tr("貸主を登録する", "Add a lender")} }
                    button { r#type: "button", class: "secondary", onclick: move |_| on_close.call(()), {tr("やめる", "Cancel")} }
                }
            }
        };
    }
    rsx! {
        form { class: "parking-form", onsubmit: save,
            h3 { if id.is_some() { {tr("駐車場を編集", "Edit space")} } else { {tr("新しい駐車場", "New space")} } }
            label { class: "field",
                {tr("貸主", "Lender")}
                select {
                    name: "space-lender",
                    onchange: move |e| {
                        if let Ok(v) = e.value().parse() {
                            draft.with_mut(|d| d.fields.lender = renraku_contract::LenderId(v));
                        }
                    },
                    for l in lenders {
                        option { key: "{l.id}", value: "{l.id}", selected: l.id == d.fields.lender, "{l.fields.name}" }
                    }
                }
            }
            label { class: "field",
                {tr("名前（例: 光明寺 境内駐車場 1番）", "Name (e.g. Temple car park, space 1)")}
                input {
                    r#type: "text", name: "space-name", maxlength: "100", required: true,
                    value: "{d.fields.name}",
                    oninput: move |e| draft.with_mut(|d| d.fields.name = e.value()),
                }
            }
            label { class: "field",
                {tr("住所", "Address")}
                input {
                    r#type: "text", name: "space-address", maxlength: "200", required: true,
                    value: "{d.fields.address}",
                    oninput: move |e| draft.with_mut(|d| d.fields.address = e.value()),
                }
            }
            div { class: "two",
                label { class: "field",
                    {tr("緯度", "Latitude")}
                    input {
                        r#type: "text", inputmode: "decimal", name: "space-lat", required: true,
                        placeholder: "35.6812",
                        value: "{d.latitude}",
                        oninput: move |e| draft.with_mut(|d| d.latitude = e.value()),
                    }
                }
                label { class: "field",
                    {tr("経度", "Longitude")}
                    input {
                        r#type: "text", inputmode: "decimal", name: "space-lon", required: true,
                        placeholder: "139.7671",
                        value: "{d.longitude}",
                        oninput: move |e| draft.with_mut(|d| d.longitude = e.value()),
                    }
                }
            }
            p { class: "hint muted", {tr("下の地図で駐車場の場所をタップすると、緯度・経度が入ります。", "Tap the space's place on the map below to fill in its latitude and longitude.")} }
            // The pin is placed by a tap, as staff place a patient's home; the numbers stay
            // editable for a place taken from another map.
            crate::ui::parking::nearby::ParkingMap {
                home: None,
                spaces: pin.into_iter().collect::<Vec<_>>(),
                placing: true,
                on_select: move |_| {},
                on_place: move |(lat, lon): (f64, f64)| draft.with_mut(|d| {
                    d.latitude = format!("{lat:.6}");
                    d.longitude = format!("{lon:.6}");
                }),
            }
            fieldset { class: "choices",
                legend { {tr("制限", "Limits")} }
                for l in ParkingLimit::ALL.iter().copied() {
                    label { key: "{l.as_str()}", class: "check chip-check",
                        input {
                            r#type: "checkbox",
                            checked: d.fields.limits.contains(&l),
                            onchange: move |e| draft.with_mut(|d| {
                                d.fields.limits.retain(|x| *x != l);
                                if e.checked() { d.fields.limits.push(l); }
                            }),
                        }
                        "{limit_label(l)}"
                    }
                }
            }
            label { class: "field",
                {tr("制限の詳しい内容（例: 高さ2.0mまで）", "Limits in detail (e.g. up to 2.0 m high)")}
                input {
                    r#type: "text", name: "space-limits-note", maxlength: "200",
                    value: "{d.fields.limits_note}",
                    oninput: move |e| draft.with_mut(|d| d.fields.limits_note = e.value()),
                }
            }
            label { class: "field",
                {tr("行き方・停める場所", "How to find it, where to park")}
                textarea {
                    name: "space-directions", maxlength: "2000", rows: "3",
                    value: "{d.fields.directions}",
                    oninput: move |e| draft.with_mut(|d| d.fields.directions = e.value()),
                }
            }
            fieldset { class: "choices photo",
                legend { {tr("写真", "Photo")} }
                if let Some(src) = preview() {
                    img { class: "space-photo", src: "{src}", alt: tr("選んだ写真", "The photo picked") }
                } else if let (Some(src), false) = (current_photo.clone(), remove_photo()) {
                    img { class: "space-photo", src: "{src}", alt: tr("いまの写真", "The current photo") }
                }
                input {
                    r#type: "file",
                    id: PHOTO_INPUT,
                    accept: "image/jpeg,image/png,image/webp",
                    aria_label: tr("写真を選ぶ", "Choose a photo"),
                    onchange: on_pick,
                }
                p { class: "hint muted", {tr("JPEG・PNG・WebP、10MBまで。位置情報などは保存前に取り除きます。", "JPEG, PNG or WebP, up to 10 MB. Location data is removed before it is kept.")} }
                if current_photo.is_some() && preview().is_none() {
                    label { class: "check",
                        input { r#type: "checkbox", checked: remove_photo(), onchange: move |e| remove_photo.set(e.checked()) }
                        {tr("写真を削除する", "Remove the photo")}
                    }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            div { class: "row",
                button { r#type: "submit", class: "primary", disabled: busy(), if busy() { {tr("保存中…", "Saving…")} } else { {tr("保存", "Save")} } }
                button { r#type: "button", class: "secondary", onclick: move |_| on_close.call(()), {tr("やめる", "Cancel")} }
            }
        }
    }
}
