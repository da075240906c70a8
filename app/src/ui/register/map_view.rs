//! The register on a map: markers coloured by label with the status as a badge, clustered
//! when zoomed out; a tap opens the person's card. The city's staff place or move a pin by
//! tapping the map. Tiles come from this server only; without a configured tile set the map
//! still shows the markers on a plain background and says how to configure one.

use super::Screen;
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::map::{MapView, Pin};
use crate::ui::session::Session;
use dioxus::prelude::*;
use renraku_contract::{Location, NewRegisterPerson, RegisterPersonDetail, RegisterPersonId};
use std::cell::RefCell;
use std::rc::Rc;

const MAP_ID: &str = "register-map";

/// Where the map should look when it next draws ("地図で見る" on a card).
static FOCUS: GlobalSignal<Option<(f64, f64)>> = Signal::global(|| None);

pub fn focus_on(lat: f64, lon: f64) {
    *FOCUS.write() = Some((lat, lon));
}

fn pins(screen: &Screen) -> Vec<Pin> {
    screen
        .shown()
        .into_iter()
        .filter_map(|p| {
            let l = p.fields.location.as_ref()?;
            Some(Pin {
                id: p.id.0,
                lat: l.latitude,
                lon: l.longitude,
                label: p.fields.label,
                status: p.safety.as_ref().map(|s| s.status),
                name: p.fields.name.clone(),
            })
        })
        .collect()
}

#[component]
pub fn MapPanel() -> Element {
    let session = use_context::<Session>();
    let screen = use_context::<Screen>();
    let view = use_hook(|| Rc::new(RefCell::new(None::<MapView>)));
    let mut ready = use_signal(|| false);
    let mut failed = use_signal(|| None::<String>);
    // A place tapped for the pin being placed, waiting for "ここに置く".
    let mut placed = use_signal(|| None::<(RegisterPersonId, f64, f64)>);
    let mut saving = use_signal(|| false);

    // Mount once the map's box is in the document (an effect runs after the render is
    // applied; a few more frames of patience for a slow phone).
    let v = view.clone();
    use_hook(move || {
        let v = v.clone();
        spawn(async move {
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
            let tiles = screen.tiles.peek().clone();
            let select = move |id: i64| {
                let mut s = screen.selected;
                s.set(Some(RegisterPersonId(id)));
            };
            let place = move |id: i64, lat: f64, lon: f64| {
                let mut placed = placed;
                placed.set(Some((RegisterPersonId(id), lat, lon)));
            };
            match MapView::mount(element, tiles.as_ref(), select, place).await {
                Ok(map) => {
                    let p = pins(&screen);
                    map.set_people(&p);
                    match FOCUS.write().take() {
                        Some((lat, lon)) => map.focus(lat, lon),
                        None => map.fit(&p),
                    }
                    *v.borrow_mut() = Some(map);
                    ready.set(true);
                }
                Err(e) => {
                    web_sys::console::error_2(&"register map:".into(), &e);
                    failed.set(Some(
                    tr(
                        "地図を読み込めませんでした。電波のある場所で一度開くと、以後はオフラインでも表示できます。",
                        "The map could not load. Open it once with a signal; after that it works offline.",
                    )
                    .to_owned(),
                ));
                }
            }
        });
    });

    // The markers follow the list (filters, marks arriving live).
    let v = view.clone();
    use_effect(move || {
        let p = pins(&screen);
        let focus = FOCUS.read().is_some();
        if !ready() {
            return;
        }
        if let Some(map) = v.borrow().as_ref() {
            map.set_people(&p);
            if focus {
                if let Some((lat, lon)) = FOCUS.write().take() {
                    map.focus(lat, lon);
                }
            }
        }
    });
    // Placing a pin: the next tap on the map.
    let v = view.clone();
    use_effect(move || {
        let placing = (screen.placing)();
        if !ready() {
            return;
        }
        if let Some(map) = v.borrow().as_ref() {
            match placing {
                Some(id) => map.start_placing(id.0),
                None => map.stop_placing(),
            }
        }
    });
    let v = view.clone();
    use_drop(move || {
        v.borrow_mut().take();
    });

    let configured = screen.tiles.read().as_ref().is_some_and(|t| t.configured);
    let placing_name = (screen.placing)()
        .and_then(|id| screen.person(id))
        .map(|p| p.fields.name);
    let unlocated = screen
        .shown()
        .iter()
        .filter(|p| p.fields.location.is_none())
        .count();
    let save = move |_| {
        let Some((id, lat, lon)) = placed() else {
            return;
        };
        let slug = screen.slug.peek().clone();
        let sess = session.clone();
        saving.set(true);
        spawn(async move {
            let mut sc = screen;
            match move_pin(&slug, id, lat, lon).await {
                Ok(()) => {
                    sc.people.with_mut(|list| {
                        if let Some(p) = list.iter_mut().flatten().find(|p| p.id == id) {
                            p.fields.location = Some(Location {
                                latitude: lat,
                                longitude: lon,
                            });
                        }
                    });
                    let list = sc.people.peek().clone().unwrap_or_default();
                    crate::register::keep_people(&sess.store, &slug, &list).await;
                    sc.notice.set(Some(
                        tr("ピンの位置を保存しました。", "The pin was saved.").to_owned(),
                    ));
                    sc.placing.set(None);
                    placed.set(None);
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => {
                    sc.notice.set(Some(e.explain()));
                    placed.set(None);
                }
            }
            saving.set(false);
        });
    };
    rsx! {
        if let Some(name) = placing_name {
            div { class: "placing-bar", role: "status",
                if let Some((_, lat, lon)) = placed() {
                    span { {tr_string(format!("{name} 様のピンをここに置きますか？ ({lat:.5}, {lon:.5})"), format!("Place {name} here? ({lat:.5}, {lon:.5})"))} }
                    button { r#type: "button", class: "primary", disabled: saving(), onclick: save, {tr("ここに置く", "Place here")} }
                    button { r#type: "button", class: "secondary", onclick: move |_| placed.set(None), {tr("やり直す", "Try again")} }
                } else {
                    span { {tr_string(format!("{name} 様の位置を地図上でタップしてください。"), format!("Tap the map where {name} lives."))} }
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    onclick: move |_| { let mut p = screen.placing; p.set(None); placed.set(None); },
                    {tr("やめる", "Cancel")}
                }
            }
        }
        if let Some(msg) = failed() {
            p { class: "error", role: "alert", "{msg}" }
        }
        div {
            class: "register-map",
            id: MAP_ID,
            role: "application",
            aria_label: tr("要援護者マップ", "Assistance map"),
        }
        if !configured {
            p { class: "map-note", role: "note",
                {tr(
                    "地図タイルが設定されていないため、背景なしで位置だけを表示しています。管理者は地域の MBTiles ファイルを --tiles（環境変数 RENRAKU_TILES）で指定してください。",
                    "No map tiles are configured: markers are shown on a plain background. An administrator sets the region's MBTiles file with --tiles (RENRAKU_TILES).",
                )}
            }
        }
        if unlocated > 0 {
            p { class: "muted map-note",
                {tr_string(format!("位置が未登録の {unlocated} 人は地図に表示されません（一覧には表示されます）。"), format!("{unlocated} without a location are on the list only."))}
            }
        }
    }
}

/// Saves a person's location: the entry as the server has it, with the new place.
async fn move_pin(slug: &str, id: RegisterPersonId, lat: f64, lon: f64) -> api::ApiResult<()> {
    let url = format!("/api/register/{slug}/people/{id}");
    let detail = api::get::<RegisterPersonDetail>(&url).await?;
    let mut fields: NewRegisterPerson = detail.person.fields;
    fields.location = Some(Location {
        latitude: lat,
        longitude: lon,
    });
    api::send::<_, serde_json::Value>("PUT", &url, &fields).await?;
    Ok(())
}
