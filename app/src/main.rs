//! Renraku web app: the mobile-first PWA professionals hold in their hands all day.
//!
//! Served by the server at `/{municipality}/…`; it talks to the same origin's JSON API with
//! the session cookie and syncs rooms over one WebSocket (`sync`). What the user opened is
//! kept in IndexedDB (`store`), so the app opens and writes with no network. The app map
//! (routes, modules, extension points) is in the README's "App" section.

mod admin;
mod api;
mod attachments;
mod clock;
mod i18n;
mod owed_signout;
mod passkey;
mod push;
mod route;
mod store;
mod sync;
mod ui;
mod util;

use dioxus::prelude::*;

fn main() {
    util::mark("renraku:wasm-started");
    dioxus::launch(App);
}

#[component]
fn App() -> Element {
    route::use_popstate();
    let Some(slug) = api::municipality_slug() else {
        // At `/` (e.g. the installed app's start page): go back to the last municipality.
        if let Some(last) = api::last_municipality() {
            api::go_to(&format!("/{last}/"));
            return rsx! {};
        }
        return rsx! {
            main { class: "card",
                h1 { "Renraku 連絡" }
                p {
                    {i18n::tr("URL に自治体を含めて開いてください（例: /demo/）。", "Open the address with your municipality in it (e.g. /demo/).")}
                }
            }
        };
    };
    rsx! {
        ui::banners::UpdateBanner {}
        ui::session::Root { slug }
    }
}
