//! 「近くの駐車場」: the patient's home (from the register, or a pin the staff set) on the map
//! with the spaces around it as P markers, and the same spaces as a list, nearest first, with
//! the walk (an estimate: the server's `walk_min`) and the distance. A space tapped on either
//! opens its booking sheet. A room whose home nobody placed says so and lets staff set the pin
//! by tapping the map (`PUT /api/rooms/{id}/home`); the pin can be moved the same way.

use super::book::BookSheet;
use super::mine::limit_label;
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::map::{HomeMark, MapView, SpaceMark};
use crate::ui::session::Session;
use dioxus::prelude::*;
use renraku_contract::{
    Booking, HomeSource, Location, NearbySpace, RoomHome, RoomSummary, SpaceId, TileSet,
};
use renraku_sync::RoomId;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

const MAP_ID: &str = "parking-map";
/// The radii offered, metres; the first is the default.
const RADII: [u32; 3] = [1000, 2000, 5000];

/// `350 m`, `1.2 km`.
pub(super) fn distance(m: f64) -> String {
    if m < 1000.0 {
        format!("{} m", ((m / 10.0).round() * 10.0) as i64)
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

#[component]
pub fn NearbyView(room: RoomId, slug: String, on_booked: EventHandler<Booking>) -> Element {
    let session = use_context::<Session>();
    let mut home = use_signal(|| None::<Result<RoomHome, ApiError>>);
    let mut radius = use_signal(|| RADII[0]);
    let mut spaces = use_signal(|| None::<Result<Vec<NearbySpace>, ApiError>>);
    let mut selected = use_signal(|| None::<SpaceId>);
    let mut booking = use_signal(|| None::<NearbySpace>);
    let mut placing = use_signal(|| false);
    let mut placed = use_signal(|| None::<(f64, f64)>);
    let mut saving = use_signal(|| false);
    let mut notice = use_signal(|| None::<String>);
    let mut patient = use_signal(String::new);

    // The patient's name from the kept room list (no second read of the patient's data).
    let s = session.clone();
    use_hook(move || {
        spawn(async move {
            if let Some(list) =
                api::cached_only::<Vec<RoomSummary>>(&s.store, crate::ui::home::ROOMS_URL).await
            {
                if let Some(r) = list.into_iter().find(|r| r.id == room) {
                    patient.set(r.title);
                }
            }
        });
    });
    let s = session.clone();
    use_effect(move || {
        let s = s.clone();
        spawn(async move {
            let answer = api::get::<RoomHome>(&format!("/api/rooms/{room}/home")).await;
            if matches!(&answer, Err(e) if e.is_unauthorized()) {
                s.expired();
            }
            home.set(Some(answer));
        });
    });
    let at = home
        .read()
        .as_ref()
        .and_then(|h| h.as_ref().ok())
        .and_then(|h| h.location);
    // The spaces around the home, again when the home or the radius changes.
    let s2 = slug.clone();
    let sess = session.clone();
    use_effect(move || {
        let r = radius();
        let Some(Location {
            latitude,
            longitude,
        }) = home
            .read()
            .as_ref()
            .and_then(|h| h.as_ref().ok())
            .and_then(|h| h.location)
        else {
            return;
        };
        let url =
            format!("/api/parking/{s2}/spaces/nearby?lat={latitude}&lon={longitude}&radius_m={r}");
        let sess = sess.clone();
        spawn(async move {
            let answer = api::get::<Vec<NearbySpace>>(&url).await;
            if matches!(&answer, Err(e) if e.is_unauthorized()) {
                sess.expired();
            }
            spaces.set(Some(answer));
        });
    });

    let save_pin = move |_| {
        let Some((lat, lon)) = placed() else { return };
        saving.set(true);
        let sess = session.clone();
        spawn(async move {
            let body = Location {
                latitude: lat,
                longitude: lon,
            };
            match api::send::<_, RoomHome>("PUT", &format!("/api/rooms/{room}/home"), &body).await {
                Ok(h) => {
                    home.set(Some(Ok(h)));
                    notice.set(Some(
                        tr("自宅の位置を保存しました。", "The home's place was saved.").to_owned(),
                    ));
                    placing.set(false);
                    placed.set(None);
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => {
                    notice.set(Some(e.explain()));
                    placed.set(None);
                }
            }
            saving.set(false);
        });
    };

    let name = patient();
    let home_now = home.read().clone();
    let list: Vec<NearbySpace> = spaces
        .read()
        .as_ref()
        .and_then(|s| s.as_ref().ok())
        .cloned()
        .unwrap_or_default();
    let marks: Vec<SpaceMark> = list
        .iter()
        .map(|n| SpaceMark {
            id: n.space.id.0,
            lat: n.space.fields.location.latitude,
            lon: n.space.fields.location.longitude,
            name: n.space.fields.name.clone(),
            selected: selected() == Some(n.space.id),
            paused: n.space.paused,
        })
        .collect();
    let home_mark = at.map(|l| HomeMark {
        lat: l.latitude,
        lon: l.longitude,
        name: if name.is_empty() {
            tr("患者さんの自宅", "The patient's home").to_owned()
        } else {
            tr_string(format!("{name} 様の自宅"), format!("{name}'s home"))
        },
    });
    let who = if name.is_empty() {
        tr("患者さん", "the patient").to_owned()
    } else {
        tr_string(format!("{name} 様"), name.clone())
    };
    let source_line = match home_now.as_ref().and_then(|h| h.as_ref().ok()) {
        Some(RoomHome {
            source: Some(HomeSource::Pin),
            pin: Some(p),
            register,
            ..
        }) => {
            let mut line = tr_string(
                format!("🏠 自宅の位置：担当者のピン（{}）", p.set_by_name),
                format!("🏠 Home: a staff pin ({})", p.set_by_name),
            );
            if register.is_some() {
                line.push_str(tr(
                    "。要援護者名簿の位置より優先しています。",
                    "; used instead of the register's place.",
                ));
            }
            Some(line)
        }
        Some(RoomHome {
            source: Some(HomeSource::Register),
            ..
        }) => Some(
            tr(
                "🏠 自宅の位置：要援護者名簿（市の登録）",
                "🏠 Home: the assistance register (the city's)",
            )
            .to_owned(),
        ),
        _ => None,
    };
    rsx! {
        if let Some(msg) = notice() {
            p { class: "notice pad", role: "status", "{msg}" }
        }
        match home_now {
            None => rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } },
            Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.explain()}" } },
            Some(Ok(h)) => rsx! {
                if h.location.is_none() && !placing() {
                    section { class: "card parking-nohome", role: "note",
                        h2 { {tr_string(format!("{who}の自宅の位置が登録されていません"), format!("Where {who} lives is not known"))} }
                        p { {tr(
                            "要援護者名簿にも担当者のピンにも位置がないため、近くの駐車場を探せません。地図をタップして自宅の位置を設定してください。",
                            "Neither the register nor a staff pin places the home, so parking nearby cannot be searched. Set the home by tapping the map.",
                        )} }
                        button { r#type: "button", class: "primary wide", onclick: move |_| { placing.set(true); notice.set(None); },
                            {tr("地図で自宅の位置を設定", "Set the home on the map")}
                        }
                    }
                }
            },
        }
        if placing() {
            div { class: "placing-bar", role: "status",
                if let Some((lat, lon)) = placed() {
                    span { {tr_string(format!("ここを{who}の自宅にしますか？ ({lat:.5}, {lon:.5})"), format!("Is this where {who} lives? ({lat:.5}, {lon:.5})"))} }
                    button { r#type: "button", class: "primary", disabled: saving(), onclick: save_pin, {tr("ここを自宅にする", "This is the home")} }
                    button { r#type: "button", class: "secondary", onclick: move |_| placed.set(None), {tr("やり直す", "Try again")} }
                } else {
                    span { {tr_string(format!("{who}の自宅の位置を地図上でタップしてください。"), format!("Tap the map where {who} lives."))} }
                }
                button { r#type: "button", class: "secondary", onclick: move |_| { placing.set(false); placed.set(None); }, {tr("やめる", "Cancel")} }
            }
        }
        ParkingMap {
            home: home_mark,
            spaces: marks,
            placing: placing(),
            on_select: move |id: i64| {
                selected.set(Some(SpaceId(id)));
                let found = spaces.peek().as_ref().and_then(|s| s.as_ref().ok()).and_then(|l| l.iter().find(|n| n.space.id.0 == id).cloned());
                if let Some(n) = found {
                    booking.set(Some(n));
                }
            },
            on_place: move |(lat, lon): (f64, f64)| placed.set(Some((lat, lon))),
        }
        if at.is_some() {
            div { class: "parking-home-line",
                if let Some(line) = source_line {
                    span { class: "muted", "{line}" }
                }
                if !placing() {
                    button { r#type: "button", class: "link", onclick: move |_| { placing.set(true); notice.set(None); },
                        {tr("位置を直す", "Move the pin")}
                    }
                }
            }
            div { class: "segmented parking-radius", role: "radiogroup", aria_label: tr("探す範囲", "Search within"),
                for r in RADII {
                    button {
                        key: "{r}",
                        r#type: "button",
                        role: "radio",
                        aria_checked: if radius() == r { "true" } else { "false" },
                        class: if radius() == r { "on" } else { "" },
                        onclick: move |_| radius.set(r),
                        {tr_string(format!("{} km以内", r / 1000), format!("Within {} km", r / 1000))}
                    }
                }
            }
            match spaces.read().clone() {
                None => rsx! { p { class: "muted pad", {tr("駐車場を探しています…", "Looking for parking…")} } },
                Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.message()}" } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "muted pad", role: "status",
                        {tr("この範囲に使える駐車場はありません。範囲を広げてください。", "No parking within this distance. Search further.")}
                    }
                },
                Some(Ok(list)) => rsx! {
                    p { class: "hint pad", {tr("徒歩の時間は直線距離からの目安です。", "Walking times are estimates from the straight-line distance.")} }
                    ul { class: "parking-spaces", aria_label: tr("近くの駐車場（近い順）", "Parking nearby, nearest first"),
                        for n in list {
                            SpaceRow {
                                key: "{n.space.id}",
                                selected: selected() == Some(n.space.id),
                                on_open: move |n: NearbySpace| { selected.set(Some(n.space.id)); booking.set(Some(n)); },
                                n,
                            }
                        }
                    }
                },
            }
        }
        if let Some(n) = booking() {
            BookSheet {
                key: "{n.space.id}",
                space: n.space.clone(),
                slug: slug.clone(),
                on_close: move |_| booking.set(None),
                on_booked: move |b: Booking| { booking.set(None); on_booked.call(b); },
            }
        }
    }
}

/// The city's note on a space's limits, unless it only repeats a label shown.
pub(super) fn extra_note(labels: &[&str], note: &str) -> String {
    let note = note.trim();
    if labels.contains(&note) {
        String::new()
    } else {
        note.to_owned()
    }
}

#[component]
fn SpaceRow(n: NearbySpace, selected: bool, on_open: EventHandler<NearbySpace>) -> Element {
    let space = n.space.clone();
    let limits: Vec<&'static str> = space
        .fields
        .limits
        .iter()
        .map(|l| limit_label(*l))
        .collect();
    let note = extra_note(&limits, &space.fields.limits_note);
    rsx! {
        li { class: if selected { "parking-space selected" } else { "parking-space" },
            button {
                r#type: "button",
                class: "parking-space-button",
                onclick: move |_| on_open.call(n.clone()),
                span { class: "walk",
                    strong { {tr_string(format!("徒歩約{}分", n.walk_min), format!("~{} min walk", n.walk_min))} }
                    span { class: "muted", " · {distance(n.distance_m)}" }
                }
                span { class: "name", "{space.fields.name}" }
                span { class: "muted address", "{space.fields.address}" }
                if !limits.is_empty() || !note.is_empty() {
                    span { class: "limits",
                        for l in limits {
                            span { key: "{l}", class: "limit", "{l}" }
                        }
                        if !note.is_empty() {
                            span { class: "limit-note", "{note}" }
                        }
                    }
                }
                if space.paused {
                    span { class: "limit paused", {tr("休止中", "Paused")} }
                }
            }
        }
    }
}

/// The map: the shared Leaflet map (`crate::map`) with the parking markers. Mounted once;
/// the markers follow the props; the view fits the home and the spaces when they change.
/// The parking map: the home, the spaces, and — while `placing` — a tap that places a pin
/// (also the city's space form, where the tap sets the space's own location).
#[component]
pub(crate) fn ParkingMap(
    home: Option<HomeMark>,
    spaces: Vec<SpaceMark>,
    placing: bool,
    on_select: EventHandler<i64>,
    on_place: EventHandler<(f64, f64)>,
) -> Element {
    let view = use_hook(|| Rc::new(RefCell::new(None::<MapView>)));
    let mut ready = use_signal(|| false);
    let mut failed = use_signal(|| false);
    let mut configured = use_signal(|| true);
    let fitted = use_hook(|| Rc::new(Cell::new(None::<(usize, Option<(i64, i64)>)>)));
    let v = view.clone();
    use_hook(move || {
        spawn(async move {
            let tiles = api::get::<TileSet>("/api/tiles").await.ok();
            configured.set(tiles.as_ref().is_some_and(|t| t.configured));
            let mut element = None;
            for _ in 0..40 {
                element = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id(MAP_ID));
                if element.is_some() {
                    break;
                }
                crate::util::sleep_ms(25).await;
            }
            let Some(element) = element else { return };
            let select = move |id: i64| on_select.call(id);
            let place = move |_: i64, lat: f64, lon: f64| on_place.call((lat, lon));
            match MapView::mount(element, tiles.as_ref(), select, place).await {
                Ok(map) => {
                    *v.borrow_mut() = Some(map);
                    ready.set(true);
                }
                Err(e) => {
                    web_sys::console::error_2(&"parking map:".into(), &e);
                    failed.set(true);
                }
            }
        });
    });
    let v = view.clone();
    let h = home.clone();
    let sp = spaces.clone();
    use_effect(use_reactive!(|h, sp, placing| {
        if !ready() {
            return;
        }
        if let Some(map) = v.borrow().as_ref() {
            map.set_places(h.as_ref(), &sp);
            let key = (
                sp.len(),
                h.as_ref()
                    .map(|h| ((h.lat * 1e6) as i64, (h.lon * 1e6) as i64)),
            );
            if fitted.get() != Some(key) {
                fitted.set(Some(key));
                let mut points: Vec<(f64, f64)> =
                    sp.iter().take(8).map(|s| (s.lat, s.lon)).collect();
                if let Some(h) = &h {
                    points.push((h.lat, h.lon));
                }
                if points.len() == 1 {
                    map.focus(points[0].0, points[0].1);
                } else {
                    map.fit_points(&points);
                }
            }
            if placing {
                map.start_placing(0);
            } else {
                map.stop_placing();
            }
        }
    }));
    let v = view.clone();
    use_drop(move || {
        v.borrow_mut().take();
    });
    rsx! {
        if failed() {
            p { class: "error", role: "alert",
                {tr("地図を読み込めませんでした。一覧から選べます。", "The map could not load; choose from the list.")}
            }
        }
        div {
            // Static: Leaflet adds its own classes to this element (and `rk-placing` while
            // placing, `rk-no-tiles`); a class set here on a re-render would remove them.
            class: "parking-map",
            id: MAP_ID,
            role: "application",
            aria_label: tr("駐車場の地図", "Parking map"),
        }
        if !configured() {
            p { class: "map-note muted", role: "note",
                {tr("地図タイルが設定されていないため、背景なしで表示しています。", "No map tiles are configured: shown on a plain background.")}
            }
        }
    }
}
