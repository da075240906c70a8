//! The admin bundle's root (`/{m}/admin/…`, `lib.rs`): who is signed in, asked of the
//! server as the page loads, then the screen of the URL. No IndexedDB and no sync socket:
//! administration is online only, and this page must not open a second copy of the
//! workspace beside the app's.

use super::AdminScreen;
use crate::api::{self, Me};
use crate::i18n::tr;
use crate::route::{self, Route, Tab};
use dioxus::prelude::*;

/// The signed-in administrator, for every admin screen: `use_context::<Session>()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub slug: String,
    pub me: Me,
}

impl Session {
    /// The session ended on the server: the app's page signs in again and says so.
    pub fn expired(&self) {
        route::replace(Route::Portal);
    }
}

#[component]
pub fn AdminApp() -> Element {
    route::use_popstate();
    let Some(slug) = api::municipality_slug() else {
        api::go_to("/");
        return rsx! {};
    };
    let mut me = use_resource(|| api::get::<Me>("/api/me"));
    let answer = me.read().clone();
    match answer {
        None => rsx! {
            main { class: "card", aria_busy: "true",
                p { class: "muted", {tr("読み込み中…", "Loading…")} }
            }
        },
        Some(Err(e)) if e.is_unauthorized() => {
            route::replace(Route::Portal);
            rsx! {}
        }
        Some(Err(e)) => rsx! {
            main { class: "card",
                h1 { {tr("管理", "Administration")} }
                p { class: "error", role: "alert",
                    {tr("管理画面はオンラインでのみ使えます。", "Administration works online only.")}
                    " "
                    {e.explain()}
                }
                div { class: "row",
                    button { r#type: "button", onclick: move |_| me.restart(), {tr("再読み込み", "Retry")} }
                    a { class: "button secondary", href: Route::Home(Tab::Patients).href(),
                        {tr("ホームへ戻る", "Back to home")}
                    }
                }
            }
        },
        Some(Ok(me)) => rsx! { SignedIn { session: Session { slug, me } } },
    }
}

#[component]
fn SignedIn(session: Session) -> Element {
    use_context_provider(|| session.clone());
    match route::current() {
        Route::Admin { path } => rsx! { AdminScreen { path } },
        Route::ParkingCity { path } => rsx! { crate::ui::parking::city::CityScreen { path } },
        Route::ParkingLender => rsx! { crate::ui::parking::lender::LenderScreen {} },
        // Only admin routes are shown here; `route::go` loads the app for the others.
        _ => rsx! {},
    }
}
