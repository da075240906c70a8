//! The app's routes and a tiny History-API router (no dioxus-router: a few routes do not
//! need its weight in the wasm). Every route is under `/{municipality}/`.
//!
//! Each route belongs to one of the two bundles (`lib.rs`): `Route::Admin` to the admin
//! screens, every other to the app. Moving within a bundle is a history entry; moving to a
//! route of the other bundle loads its page.

use dioxus::prelude::*;
use renraku_sync::RoomId;
use std::sync::atomic::{AtomicU8, Ordering};
use wasm_bindgen::JsValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Patients,
    Projects,
    Messages,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Patients, Tab::Projects, Tab::Messages];

    pub fn as_str(self) -> &'static str {
        match self {
            Tab::Patients => "patients",
            Tab::Projects => "projects",
            Tab::Messages => "messages",
        }
    }

    fn parse(s: &str) -> Tab {
        match s {
            "projects" => Tab::Projects,
            "messages" => Tab::Messages,
            _ => Tab::Patients,
        }
    }

    /// The room kind the tab lists.
    pub fn room_kind(self) -> renraku_sync::RoomKind {
        use renraku_sync::RoomKind;
        match self {
            Tab::Patients => RoomKind::Patient,
            Tab::Projects => RoomKind::Project,
            Tab::Messages => RoomKind::Message,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/{m}/`: the portal and sign-in.
    Portal,
    /// `/{m}/home?tab=…`
    Home(Tab),
    /// `/{m}/rooms/{id}`
    Room(RoomId),
    /// `/{m}/search` (`?room=…`: opened from a room, which it then searches by default)
    Search { room: Option<RoomId> },
    /// `/{m}/new-message`
    NewMessage,
    /// `/{m}/settings`
    Settings,
    /// `/{m}/register`: the 要援護者名簿 and its map; `?of=` another municipality's register
    /// that this user sees (a partner's, granted during its disaster).
    Register { of: Option<String> },
    /// `/{m}/parking` (駐車場, the staff side): my bookings; `?room=…` from a patient room:
    /// parking near the patient's home, and booking.
    Parking { room: Option<RoomId> },
    /// `/{m}/admin/…` — the rest of the path after `admin/` (owned by the admin screens).
    Admin { path: String },
    /// `/{m}/parking/city/…`: the city's 駐車場 screens; the rest of the path after `city/`
    /// is the section (`lenders`, `spaces`, `availability/{space}`, `approvals`, …).
    ParkingCity { path: String },
    /// `/{m}/parking/lender`: a lender's own spaces and their bookings.
    ParkingLender,
}

impl Route {
    fn parse(path: &str, query: &str) -> Route {
        let mut segments = path.split('/').filter(|s| !s.is_empty()).skip(1);
        match segments.next() {
            Some("home") => {
                let tab = query_param(query, "tab").unwrap_or("patients");
                Route::Home(Tab::parse(tab))
            }
            Some("rooms") => match segments.next().and_then(|s| s.parse().ok()) {
                Some(id) => Route::Room(id),
                None => Route::Home(Tab::Patients),
            },
            Some("search") => Route::Search {
                room: query_param(query, "room").and_then(|r| r.parse().ok()),
            },
            Some("new-message") => Route::NewMessage,
            Some("settings") => Route::Settings,
            Some("register") => Route::Register {
                of: query_param(query, "of")
                    .filter(|s| {
                        !s.is_empty()
                            && s.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                            })
                    })
                    .map(str::to_owned),
            },
            Some("admin") => Route::Admin {
                path: segments.collect::<Vec<_>>().join("/"),
            },
            Some("parking") => match segments.next() {
                Some("city") => Route::ParkingCity {
                    path: segments.collect::<Vec<_>>().join("/"),
                },
                Some("lender") => Route::ParkingLender,
                _ => Route::Parking {
                    room: query_param(query, "room").and_then(|r| r.parse().ok()),
                },
            },
            _ => Route::Portal,
        }
    }

    /// The URL of this route in the current municipality.
    pub fn href(&self) -> String {
        let m = crate::api::municipality_slug().unwrap_or_default();
        match self {
            Route::Portal => format!("/{m}/"),
            Route::Home(tab) => format!("/{m}/home?tab={}", tab.as_str()),
            Route::Room(id) => format!("/{m}/rooms/{id}"),
            Route::Search { room: None } => format!("/{m}/search"),
            Route::Search { room: Some(id) } => format!("/{m}/search?room={id}"),
            Route::NewMessage => format!("/{m}/new-message"),
            Route::Settings => format!("/{m}/settings"),
            Route::Register { of: None } => format!("/{m}/register"),
            Route::Register { of: Some(of) } => format!("/{m}/register?of={of}"),
            Route::Parking { room: None } => format!("/{m}/parking"),
            Route::Parking { room: Some(id) } => format!("/{m}/parking?room={id}"),
            Route::Admin { path } if path.is_empty() => format!("/{m}/admin"),
            Route::Admin { path } => format!("/{m}/admin/{path}"),
            Route::ParkingCity { path } if path.is_empty() => format!("/{m}/parking/city"),
            Route::ParkingCity { path } => format!("/{m}/parking/city/{path}"),
            Route::ParkingLender => format!("/{m}/parking/lender"),
        }
    }
}

/// The value of `name` in a URL's query (`?a=1&b=2`).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Which wasm bundle this page runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    App,
    Admin,
    /// The sign-in screen alone, for a device that remembers nobody for this municipality
    /// (app/early.js picks it): a first visit downloads a fraction of the app.
    SignIn,
}

// Set once by the entry point before anything renders; the page never changes bundles.
static BUNDLE: AtomicU8 = AtomicU8::new(0);

pub fn set_bundle(bundle: Bundle) {
    BUNDLE.store(bundle as u8, Ordering::Relaxed);
}

fn bundle() -> Bundle {
    match BUNDLE.load(Ordering::Relaxed) {
        1 => Bundle::Admin,
        2 => Bundle::SignIn,
        _ => Bundle::App,
    }
}

impl Route {
    /// The bundle that shows this route.
    pub fn bundle(&self) -> Bundle {
        match self {
            // The city's and a lender's 駐車場 screens are office work, online only, like
            // administration: in the admin bundle, so a nurse's phone never loads them.
            Route::Admin { .. } | Route::ParkingCity { .. } | Route::ParkingLender => Bundle::Admin,
            _ => Bundle::App,
        }
    }

    /// Whether this page can show the route without loading the other bundle.
    fn here(&self) -> bool {
        match bundle() {
            // Everything past sign-in is the app's.
            Bundle::SignIn => *self == Route::Portal,
            here => self.bundle() == here,
        }
    }
}

/// Loads the page of a route the other bundle shows.
fn load(route: &Route, replace: bool) {
    if let Some(location) = web_sys::window().map(|w| w.location()) {
        let href = route.href();
        let _ = if replace {
            location.replace(&href)
        } else {
            location.assign(&href)
        };
    }
}

fn from_location() -> Route {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return Route::Portal;
    };
    Route::parse(
        &location.pathname().unwrap_or_default(),
        &location.search().unwrap_or_default(),
    )
}

pub static ROUTE: GlobalSignal<Route> = Signal::global(from_location);

pub fn current() -> Route {
    ROUTE.read().clone()
}

/// Navigates (a new history entry), scrolled to the top.
pub fn go(route: Route) {
    if !route.here() {
        return load(&route, false);
    }
    if let Some(w) = web_sys::window() {
        if let Ok(history) = w.history() {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&route.href()));
        }
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
    *ROUTE.write() = route;
}

/// Opens a room at one of its posts (a search hit): `/{m}/rooms/{id}?post={post}`, which
/// the room screen reads once with [`take_post`].
pub fn go_to_post(room: RoomId, post: &str) {
    let route = Route::Room(room);
    if let Some(w) = web_sys::window() {
        if let Ok(history) = w.history() {
            let href = format!("{}?post={post}", route.href());
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&href));
        }
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
    *ROUTE.write() = route;
}

/// The post a room was opened at (`?post=`), taken off the URL so that the entry (and the
/// kept screen, which is keyed by it) is the room's own again.
pub fn take_post() -> Option<renraku_sync::PostId> {
    let w = web_sys::window()?;
    let search = w.location().search().ok()?;
    let post = renraku_sync::PostId::parse(query_param(&search, "post")?)?;
    if let (Ok(history), Ok(path)) = (w.history(), w.location().pathname()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
    Some(post)
}

/// Replaces the current entry (redirects: the back button should not return to them).
pub fn replace(route: Route) {
    if !route.here() {
        return load(&route, true);
    }
    if let Some(Ok(history)) = web_sys::window().map(|w| w.history()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&route.href()));
    }
    *ROUTE.write() = route;
}

/// Back in history when there is somewhere to go back to in the app, else to `fallback`.
pub fn back(fallback: Route) {
    let w = web_sys::window();
    let len = w
        .as_ref()
        .and_then(|w| w.history().ok())
        .and_then(|h| h.length().ok())
        .unwrap_or(0);
    match w.and_then(|w| w.history().ok()) {
        Some(history) if len > 1 => {
            let _ = history.back();
        }
        _ => replace(fallback),
    }
}

/// Follows the browser's back/forward buttons. Call once at the root.
pub fn use_popstate() {
    crate::util::use_window_event("popstate", || {
        let route = from_location();
        if route.here() {
            *ROUTE.write() = route;
        } else if let Some(w) = web_sys::window() {
            // Back or forward onto an entry of the other bundle, kept in this document:
            // that page is the other bundle's.
            let _ = w.location().reload();
        }
    });
}
