//! The app's map — the register's (要援護者マップ) and 駐車場's (the patient's home and the
//! spaces around it): drives `app/map/map.js` (Leaflet), which is imported only when a map
//! screen opens, so the library is never part of anyone's first load.

use renraku_contract::{LabelColour, SafetyStatus, TileSet};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export function load_map() { return import("/map/map.js"); }
"#)]
extern "C" {
    fn load_map() -> js_sys::Promise;
}

/// One marker.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pin {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub label: LabelColour,
    /// `None` in normal times.
    pub status: Option<SafetyStatus>,
    pub name: String,
}

/// The parking map's home marker (not a target).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HomeMark {
    pub lat: f64,
    pub lon: f64,
    pub name: String,
}

/// A parking space's P marker; a tap selects it (`on_select` with its id).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpaceMark {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub name: String,
    pub selected: bool,
    pub paused: bool,
}

#[derive(Serialize)]
struct Point {
    lat: f64,
    lon: f64,
}

/// A mounted map. Dropping it removes the map (and lets its callbacks go).
pub struct MapView {
    handle: JsValue,
    _on_select: Closure<dyn Fn(f64)>,
    _on_place: Closure<dyn Fn(f64, f64, f64)>,
}

fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = js_sys::Reflect::get(target, &JsValue::from_str(name))?.dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    f.apply(target, &array)
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
        .unwrap_or(JsValue::NULL)
}

impl MapView {
    /// Loads the library (once) and draws a map into `element`, with the tile set when one
    /// is configured (else a plain background).
    pub async fn mount(
        element: web_sys::Element,
        tiles: Option<&TileSet>,
        on_select: impl Fn(i64) + 'static,
        on_place: impl Fn(i64, f64, f64) + 'static,
    ) -> Result<MapView, JsValue> {
        let module = JsFuture::from(load_map()).await?;
        let opts = js_sys::Object::new();
        if let Some(t) = tiles.filter(|t| t.configured) {
            let o = js_sys::Object::new();
            set(&o, "url", &JsValue::from_str("/api/tiles/{z}/{x}/{y}"));
            set(&o, "minZoom", &JsValue::from(t.min_zoom));
            set(&o, "maxZoom", &JsValue::from(t.max_zoom));
            set(
                &o,
                "attribution",
                &JsValue::from_str(&escape(&t.attribution)),
            );
            set(&o, "bounds", &to_js(&t.bounds));
            set(&o, "center", &to_js(&t.center));
            set(&opts, "tiles", &o);
        }
        let on_select = Closure::<dyn Fn(f64)>::new(move |id: f64| on_select(id as i64));
        let on_place = Closure::<dyn Fn(f64, f64, f64)>::new(move |id: f64, lat, lon| {
            on_place(id as i64, lat, lon)
        });
        set(&opts, "onSelect", on_select.as_ref());
        set(&opts, "onPlace", on_place.as_ref());
        let promise: js_sys::Promise =
            call(&module, "mount", &[element.into(), opts.into()])?.dyn_into()?;
        let handle = JsFuture::from(promise).await?;
        Ok(MapView {
            handle,
            _on_select: on_select,
            _on_place: on_place,
        })
    }

    pub fn set_people(&self, pins: &[Pin]) {
        let _ = call(&self.handle, "setPeople", &[to_js(&pins)]);
    }

    pub fn fit(&self, pins: &[Pin]) {
        let _ = call(&self.handle, "fit", &[to_js(&pins)]);
    }

    /// The parking map's markers: the home (if known) and the spaces, replacing the last.
    pub fn set_places(&self, home: Option<&HomeMark>, spaces: &[SpaceMark]) {
        let _ = call(&self.handle, "setPlaces", &[to_js(&home), to_js(&spaces)]);
    }

    /// Fits the view to these points (keeps it when there are none).
    pub fn fit_points(&self, points: &[(f64, f64)]) {
        let points: Vec<Point> = points
            .iter()
            .map(|&(lat, lon)| Point { lat, lon })
            .collect();
        let _ = call(&self.handle, "fit", &[to_js(&points)]);
    }

    pub fn focus(&self, lat: f64, lon: f64) {
        let _ = call(&self.handle, "focus", &[lat.into(), lon.into()]);
    }

    /// The next tap on the map places `id` (a register person, or 0 for the parking map's
    /// home) there (`on_place`).
    pub fn start_placing(&self, id: i64) {
        let _ = call(
            &self.handle,
            "startPlacing",
            &[JsValue::from_f64(id as f64)],
        );
    }

    pub fn stop_placing(&self) {
        let _ = call(&self.handle, "stopPlacing", &[]);
    }
}

impl Drop for MapView {
    fn drop(&mut self) {
        let _ = call(&self.handle, "destroy", &[]);
    }
}

/// Leaflet shows the attribution as HTML: the operator's text is shown as text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Asks the service worker to keep the map library and these tiles, so the map opens with
/// the network down. The worker fetches only what it lacks.
pub fn keep_offline(tiles: &renraku_contract::OfflineTiles) {
    let Some(worker) = web_sys::window()
        .map(|w| w.navigator().service_worker())
        .and_then(|c| c.controller())
    else {
        return;
    };
    let paths: js_sys::Array = tiles
        .tiles
        .iter()
        .map(|[z, x, y]| JsValue::from_str(&format!("/api/tiles/{z}/{x}/{y}")))
        .collect();
    let message = js_sys::Object::new();
    set(&message, "type", &JsValue::from_str("renraku:keep-map"));
    set(&message, "tiles", &paths);
    let _ = worker.post_message(&message);
}
