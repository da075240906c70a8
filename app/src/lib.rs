//! Renraku web app: the mobile-first PWA professionals hold in their hands all day.
//!
//! Served by the server at `/{municipality}/…`; it talks to the same origin's JSON API with
//! the session cookie and syncs rooms over one WebSocket (`sync`). What the user opened is
//! kept in IndexedDB (`store`), so the app opens and writes with no network. The app map
//! (routes, modules, extension points) is in the README's "App" section.
//!
//! Three bundles are built from this library: the app every professional loads
//! (`src/main.rs`, [`start`]); the sign-in screen alone (`src/bin/signin.rs`,
//! [`start_signin`]), which the same page runs instead when the device remembers nobody for
//! the municipality (app/early.js chooses), so a first visit downloads a fraction of the app;
//! and the administration screens (`src/bin/admin.rs`, [`start_admin`]), served at
//! `/{municipality}/admin/…` and fetched only by the administrators who open them. Each wasm
//! holds only what its entry reaches, so a nurse's phone never downloads the admin screens;
//! moving between bundles is a page load (`route::go`).

mod admin;
mod api;
mod attachments;
mod clock;
mod i18n;
mod map;
mod owed_signout;
mod passkey;
mod push;
mod register;
mod route;
mod store;
mod sync;
mod text_size;
mod ui;
mod util;

use dioxus::prelude::*;

/// The app: sign-in, home, rooms, settings.
pub fn start() {
    util::mark("renraku:wasm-started");
    route::set_bundle(route::Bundle::App);
    text_size::apply_stored();
    dioxus::launch(App);
}

/// The sign-in screen, for a device that remembers nobody: once signed in, the page loads
/// again into the app.
pub fn start_signin() {
    util::mark("renraku:wasm-started");
    route::set_bundle(route::Bundle::SignIn);
    text_size::apply_stored();
    dioxus::launch(SignInApp);
}

/// The administration screens, online only.
pub fn start_admin() {
    route::set_bundle(route::Bundle::Admin);
    text_size::apply_stored();
    dioxus::launch(admin::AdminApp);
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

#[component]
fn SignInApp() -> Element {
    // app/early.js picks this bundle only on a municipality's pages.
    let Some(slug) = api::municipality_slug() else {
        api::go_to("/");
        return rsx! {};
    };
    rsx! {
        ui::banners::UpdateBanner {}
        ui::session::SignInRoot { slug }
    }
}
