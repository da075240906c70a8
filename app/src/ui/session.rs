//! Who is signed in: remembered on the device (so the app opens offline), checked against
//! the server in the background; the workspace (store + sync engine) of the signed-in user.

use crate::api::{self, Me};
use crate::i18n::tr;
use crate::route::{self, Route, Tab};
use crate::store::{self, Store};
use crate::sync::{ConnState, Engine};
use crate::ui;
use dioxus::prelude::*;
use renraku_sync::SessionEnd;

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// Nothing remembered; asking the server.
    Checking,
    SignedOut,
    SignedIn(Me),
}

/// Everything a signed-in screen needs: `use_context::<Session>()`.
#[derive(Clone, PartialEq)]
pub struct Session {
    pub slug: String,
    pub me: Me,
    pub store: Store,
    pub engine: Engine,
    auth: Signal<Auth>,
}

fn me_key(slug: &str) -> String {
    format!("renraku.me.{slug}")
}

fn remembered(slug: &str) -> Option<Me> {
    serde_json::from_str(&crate::util::local_get(&me_key(slug))?).ok()
}

impl Session {
    /// Ends the session on the server and removes this user's data from the device. Offline,
    /// the device forgets the user all the same and the server is told when it can be
    /// (`owed_signout`). What waits in the outboxes is deleted: ask first (`ui::signout`).
    pub async fn sign_out(&self) -> Result<(), String> {
        // The server closes this session's socket as it ends it: that close must not unmount
        // the workspace while the data below is still being removed.
        *SIGNING_OUT.write() = true;
        match api::sign_out().await {
            Ok(()) => {}
            Err(api::ApiError::Offline) => crate::owed_signout::owe(),
            Err(e) => {
                *SIGNING_OUT.write() = false;
                return Err(e.message());
            }
        }
        self.engine.shutdown();
        self.store.close();
        let name = store::db_name(&self.slug, self.me.user.id);
        Store::delete(&name).await;
        crate::attachments::forget(&name).await;
        crate::util::local_remove(&me_key(&self.slug));
        ui::lock::forget(self.me.user.id);
        ui::kept_screen::forget(self.me.user.id);
        let mut auth = self.auth;
        auth.set(Auth::SignedOut);
        route::replace(Route::Portal);
        Ok(())
    }

    /// The session ended on the server (expired, revoked): back to sign-in, data kept.
    pub fn expired(&self) {
        self.ended(SessionEnd::Ended);
    }

    /// The session ended on the server, and the server said why (the close reason of the
    /// sync socket): back to sign-in, which says why; data kept.
    pub fn ended(&self, why: SessionEnd) {
        *SESSION_ENDED.write() = Some(why);
        crate::util::local_remove(&me_key(&self.slug));
        self.engine.shutdown();
        let mut auth = self.auth;
        auth.set(Auth::SignedOut);
        route::replace(Route::Portal);
    }
}

/// The last session ended on the server rather than by signing out here, and how, so
/// sign-in says why the app is back there.
pub static SESSION_ENDED: GlobalSignal<Option<SessionEnd>> = Signal::global(|| None);

/// This device is signing out: the server's close of the socket is expected, not news.
static SIGNING_OUT: GlobalSignal<bool> = Signal::global(|| false);

/// Why sign-in is shown again, for the person at the device.
pub fn ended_message(why: SessionEnd) -> &'static str {
    match why {
        SessionEnd::SignedOut => tr("サインアウトしました。", "You signed out."),
        SessionEnd::Revoked => tr(
            "別の端末でサインアウトされました。もう一度サインインしてください。",
            "This session was ended from another device. Sign in again.",
        ),
        SessionEnd::PasswordChanged => tr(
            "パスワードが変更されたため、再度サインインしてください。",
            "The password was changed. Sign in again.",
        ),
        SessionEnd::SecondFactorEnabled => tr(
            "二段階認証が設定されたため、再度サインインしてください。",
            "Two-step verification was turned on. Sign in again.",
        ),
        SessionEnd::IdleTimeout => tr(
            "一定時間操作がなかったため、サインアウトしました。もう一度サインインしてください。",
            "You were signed out after a period without activity. Sign in again.",
        ),
        SessionEnd::Expired => tr(
            "サインインの有効期限が切れました。もう一度サインインしてください。",
            "Your sign-in has expired. Sign in again.",
        ),
        SessionEnd::AccountDisabled => tr(
            "このアカウントは管理者により停止されました。",
            "An administrator disabled this account.",
        ),
        SessionEnd::PasswordReset => tr(
            "管理者がパスワードをリセットしました。新しいパスワードでサインインしてください。",
            "An administrator reset your password. Sign in with the new one.",
        ),
        SessionEnd::CertificateRevoked => tr(
            "この端末の証明書が失効したため、サインアウトしました。管理者にお問い合わせください。",
            "This device's certificate was revoked. Ask your administrator.",
        ),
        SessionEnd::Ended => tr(
            "サインインが終了しました（有効期限切れ、または管理者による操作）。もう一度サインインしてください。",
            "Your session has ended (it expired, or an administrator ended it). Sign in again.",
        ),
    }
}

#[component]
pub fn Root(slug: String) -> Element {
    let s = slug.clone();
    let mut auth = use_signal(move || match remembered(&s) {
        Some(me) => Auth::SignedIn(me),
        None => Auth::Checking,
    });
    let mut municipality = use_signal(|| None::<Result<api::MunicipalityPortal, api::ApiError>>);

    let s = slug.clone();
    use_hook(move || {
        let slug = s.clone();
        spawn(async move {
            let result = api::municipality(&slug).await;
            if result.is_ok() {
                api::remember_municipality(&slug);
            }
            municipality.set(Some(result));
        });
        let slug = s;
        spawn(async move {
            match api::get::<Me>("/api/me").await {
                Ok(me) if me.municipality.slug == slug => {
                    remember(&me);
                    auth.set(Auth::SignedIn(me));
                }
                // Offline: trust what the device remembers (or show sign-in if nothing).
                Err(api::ApiError::Offline) => {
                    if *auth.peek() == Auth::Checking {
                        auth.set(Auth::SignedOut);
                    }
                }
                _ => {
                    crate::util::local_remove(&me_key(&slug));
                    auth.set(Auth::SignedOut);
                }
            }
        });
    });

    if let Some(Err(api::ApiError::Status { status: 404, .. })) = &*municipality.read() {
        ui::kept_screen::reveal();
        return unknown_municipality(&slug);
    }
    let info = municipality.read().clone().and_then(Result::ok);

    match auth() {
        Auth::Checking => rsx! {
            main { class: "card", aria_busy: "true",
                p { class: "muted", {tr("読み込み中…", "Loading…")} }
            }
        },
        Auth::SignedOut => rsx! {
            ui::kept_screen::Reveal {}
            ui::portal::Portal {
                slug: slug.clone(),
                municipality: info,
                on_signed_in: move |me: Me| {
                    *SESSION_ENDED.write() = None;
                    *SIGNING_OUT.write() = false;
                    remember(&me);
                    auth.set(Auth::SignedIn(me));
                    route::replace(Route::Home(Tab::Patients));
                },
            }
        },
        Auth::SignedIn(me) => rsx! {
            Workspace { key: "{me.user.id}", slug: slug.clone(), me, auth }
        },
    }
}

fn unknown_municipality(slug: &str) -> Element {
    rsx! {
        main { class: "card",
            h1 { "Renraku 連絡" }
            p { class: "error",
                {crate::i18n::tr_string(format!("自治体「{slug}」は見つかりません。URL をご確認ください。"), format!("There is no municipality \"{slug}\". Check the address."))}
            }
        }
    }
}

/// The sign-in bundle's root (`lib.rs`, `start_signin`): the device remembers nobody here.
/// The portal as [`Root`] shows it to someone signed out; once someone is signed in (just
/// now, or already by a session cookie the device kept), they are remembered and the page
/// loads again, into the app.
#[component]
pub fn SignInRoot(slug: String) -> Element {
    let mut signed_out = use_signal(|| false);
    let mut municipality = use_signal(|| None::<Result<api::MunicipalityPortal, api::ApiError>>);
    let s = slug.clone();
    use_hook(move || {
        let slug = s.clone();
        spawn(async move {
            let result = api::municipality(&slug).await;
            if result.is_ok() {
                api::remember_municipality(&slug);
            }
            municipality.set(Some(result));
        });
        let slug = s;
        spawn(async move {
            match api::get::<Me>("/api/me").await {
                Ok(me) if me.municipality.slug == slug => {
                    remember(&me);
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }
                _ => signed_out.set(true),
            }
        });
    });
    if let Some(Err(api::ApiError::Status { status: 404, .. })) = &*municipality.read() {
        return unknown_municipality(&slug);
    }
    if !signed_out() {
        return rsx! {
            main { class: "card", aria_busy: "true",
                p { class: "muted", {tr("読み込み中…", "Loading…")} }
            }
        };
    }
    let info = municipality.read().clone().and_then(Result::ok);
    rsx! {
        ui::portal::Portal {
            slug: slug.clone(),
            municipality: info,
            on_signed_in: move |me: Me| {
                remember(&me);
                route::replace(Route::Home(Tab::Patients));
            },
        }
    }
}

fn remember(me: &Me) {
    crate::util::local_set(
        &me_key(&me.municipality.slug),
        &serde_json::to_string(me).unwrap_or_default(),
    );
}

/// Opens the user's IndexedDB, then starts the sync engine.
#[component]
fn Workspace(slug: String, me: Me, auth: Signal<Auth>) -> Element {
    let name = store::db_name(&slug, me.user.id);
    let store = use_resource(move || {
        let name = name.clone();
        async move { Store::open(&name).await }
    });
    let ready = store.read().clone();
    match ready {
        None => rsx! {
            main { class: "card", aria_busy: "true",
                p { class: "muted", {tr("読み込み中…", "Loading…")} }
            }
        },
        Some(store) => rsx! { Signed { slug, me, store, auth } },
    }
}

#[component]
fn Signed(slug: String, me: Me, store: Store, auth: Signal<Auth>) -> Element {
    let session = use_hook(|| {
        crate::util::mark("renraku:store-open");
        let engine = Engine::start(me.user.id, store.clone());
        Session {
            slug: slug.clone(),
            me: me.clone(),
            store: store.clone(),
            engine,
            auth,
        }
    });
    use_context_provider(|| session.clone());
    use_drop({
        let engine = session.engine.clone();
        move || engine.shutdown()
    });
    // The server closes a live socket when an administrator disables the account or resets
    // its password, and refuses the reconnects: without asking, the app would say
    // "connecting" forever. One question per lost connection tells the two apart.
    let status = session.engine.status();
    let mut was_online = use_signal(|| false);
    let s = session.clone();
    use_effect(move || {
        let now = status();
        let before = *was_online.peek();
        was_online.set(now == ConnState::Online);
        if before && now == ConnState::Connecting {
            let s = s.clone();
            spawn(async move {
                if let Err(e) = api::get::<Me>("/api/me").await {
                    if e.is_unauthorized() {
                        s.expired();
                    }
                }
            });
        }
    });

    // The server closed the sync socket because the session ended, and said why.
    let ended = session.engine.ended();
    let s = session.clone();
    use_effect(move || {
        if let Some(why) = ended() {
            if !*SIGNING_OUT.peek() {
                s.ended(why);
            }
        }
    });

    // The portal is for signing in; a signed-in user lands on home.
    if route::current() == Route::Portal {
        route::replace(Route::Home(Tab::Patients));
    }
    let locked = ui::lock::use_idle_lock(me.user.id, me.lock_after_secs);
    if locked() {
        // Nothing of the workspace is rendered while locked: patient data leaves the DOM.
        ui::kept_screen::reveal();
        return rsx! { ui::lock::LockScreen { locked } };
    }
    rsx! {
        ui::banners::OfflineBanner {}
        ui::register::MarkSender {}
        match route::current() {
            Route::Portal | Route::Home(_) => rsx! { ui::home::Home {} },
            Route::Room(id) => rsx! { ui::room::RoomScreen { key: "{id}", room: id } },
            // Screens without a kept copy take over at once.
            Route::Search { room } => rsx! { ui::kept_screen::Reveal {} ui::search::SearchScreen { room } },
            Route::NewMessage => rsx! { ui::kept_screen::Reveal {} ui::new_message::NewMessage {} },
            Route::Settings => rsx! { ui::kept_screen::Reveal {} ui::settings::Settings {} },
            Route::Register { of } => rsx! {
                ui::register::RegisterScreen { key: "{of:?}", of: of.clone().unwrap_or_else(|| session.slug.clone()) }
            },
            Route::Parking { room } => rsx! { ui::parking::ParkingScreen { key: "{room:?}", room } ui::kept_screen::Reveal {} },
            // The admin screens are the other bundle's: a page load away (`route::go`). This
            // page shows such a URL only when an older service worker answered for it.
            Route::Admin { .. } | Route::ParkingCity { .. } | Route::ParkingLender => {
                rsx! { ui::kept_screen::Reveal {} AdminElsewhere {} }
            }
        }
    }
}

/// An admin URL in the app's page: a link to the admin bundle's page.
#[component]
fn AdminElsewhere() -> Element {
    let href = route::current().href();
    rsx! {
        main { class: "card",
            p { {tr("管理画面はオンラインで開きます。", "The administration screens open online.")} }
            a { class: "button", href: "{href}", {tr("管理画面を開く", "Open administration")} }
        }
    }
}
