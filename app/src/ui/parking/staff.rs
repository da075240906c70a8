//! The staff's parking screen: from a patient room, 「近くの駐車場」 (the spaces around the
//! patient's home, and booking); from anywhere, 「今日の予約」 (my bookings of a day). Which
//! municipality's parking: the one in the URL. A user whose organisation may not book here is
//! told so in words, not with an error code.

use super::mine::MineView;
use super::nearby::NearbyView;
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab as HomeTab};
use crate::ui::session::Session;
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;
use renraku_contract::{Booking, ParkingOverview};
use renraku_sync::RoomId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum View {
    Nearby,
    Mine,
}

/// Minutes and milliseconds.
pub(super) const MINUTE_MS: i64 = 60_000;
pub(super) const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// Japan time is UTC+9 all year; the parking's days and hours are Japan time.
const JST_MS: i64 = 9 * 60 * MINUTE_MS;

/// `HH:MM`, Japan time.
pub(super) fn hm(ms: i64) -> String {
    let min = (ms + JST_MS).rem_euclid(DAY_MS) / MINUTE_MS;
    format!("{}:{:02}", min / 60, min % 60)
}

/// A window as people read it: `9:00–10:30`; an end at midnight is `24:00`.
pub(super) fn span(start: i64, end: i64) -> String {
    let end_text = if end > start && (end + JST_MS).rem_euclid(DAY_MS) == 0 {
        "24:00".to_owned()
    } else {
        hm(end)
    };
    format!("{}–{end_text}", hm(start))
}

/// The Japan date of `ms`, `YYYY-MM-DD`.
pub(super) fn jst_date(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64((ms + JST_MS) as f64));
    format!(
        "{:04}-{:02}-{:02}",
        d.get_utc_full_year(),
        d.get_utc_month() + 1,
        d.get_utc_date()
    )
}

/// Midnight (Japan time) starting `date` (`YYYY-MM-DD`), as unix ms.
pub(super) fn day_start(date: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(&format!("{date}T00:00:00+09:00"));
    ms.is_finite().then_some(ms as i64)
}

/// Today in Japan, by the server's clock.
pub(super) fn today() -> String {
    jst_date(crate::clock::server_now_ms())
}

/// `12/7（月）` for a date, for headings.
pub(super) fn date_label(date: &str) -> String {
    let Some(start) = day_start(date) else {
        return date.to_owned();
    };
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64((start + JST_MS) as f64));
    let weekday = ["日", "月", "火", "水", "木", "金", "土"][d.get_utc_day() as usize % 7];
    let md = format!("{}/{}", d.get_utc_month() + 1, d.get_utc_date());
    if date == today() {
        tr_string(format!("今日 {md}（{weekday}）"), format!("Today {md}"))
    } else {
        tr_string(format!("{md}（{weekday}）"), md)
    }
}

/// The overview of the URL's municipality's parking, or why there is none.
async fn overview(slug: &str) -> Result<ParkingOverview, ApiError> {
    api::get(&format!("/api/parking/{slug}")).await
}

#[component]
pub fn ParkingScreen(room: Option<RoomId>) -> Element {
    let session = use_context::<Session>();
    let slug = session.slug.clone();
    let mut view = use_signal(|| {
        if room.is_some() {
            View::Nearby
        } else {
            View::Mine
        }
    });
    let mut standing = use_signal(|| None::<Result<ParkingOverview, ApiError>>);
    // The day of the booking just made: 今日の予約 opens on it.
    let mut booked_on = use_signal(|| None::<String>);
    let s = session.clone();
    use_hook(move || {
        spawn(async move {
            let answer = overview(&s.slug).await;
            if matches!(&answer, Err(e) if e.is_unauthorized()) {
                s.expired();
            }
            standing.set(Some(answer));
        });
    });
    let back = move |_| match room {
        Some(r) => route::back(Route::Room(r)),
        None => route::back(Route::Home(HomeTab::Patients)),
    };
    let org = session
        .me
        .user
        .organization_name
        .clone()
        .unwrap_or_default();
    let town = session.me.municipality.name.clone();
    let title = tr("駐車場", "Parking").to_owned();
    let standing_now = standing.read().clone();
    rsx! {
        TopBar { title, subtitle: Some(town.clone()), on_back: back }
        if room.is_some() {
            nav { class: "tabs", role: "tablist", aria_label: tr("駐車場", "Parking"),
                for (v, label) in [(View::Nearby, tr("🅿 近くの駐車場", "🅿 Nearby")), (View::Mine, tr("今日の予約", "My bookings"))] {
                    button {
                        key: "{label}",
                        role: "tab",
                        r#type: "button",
                        aria_selected: if view() == v { "true" } else { "false" },
                        class: if view() == v { "tab active" } else { "tab" },
                        onclick: move |_| view.set(v),
                        "{label}"
                    }
                }
            }
        }
        main { class: "parking",
            match standing_now {
                None => rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } },
                Some(Err(ApiError::Status { status: 404, .. })) => rsx! {
                    section { class: "card parking-refusal", role: "alert",
                        h2 { {tr("この自治体の駐車場は使えません", "You cannot use this town's parking")} }
                        p { {tr_string(
                            format!("{town}の訪問車両用駐車場に、あなたの所属（{org}）は参加していません。"),
                            format!("Your organisation ({org}) takes no part in {town}'s parking for visiting staff."),
                        )} }
                    }
                },
                Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.message()}" } },
                Some(Ok(o)) => rsx! {
                    if view() == View::Nearby {
                        if let Some(room) = room {
                            if o.booker {
                                NearbyView {
                                    key: "{room}",
                                    room,
                                    slug: slug.clone(),
                                    on_booked: move |b: Booking| {
                                        booked_on.set(Some(jst_date(b.start)));
                                        view.set(View::Mine);
                                    },
                                }
                            } else {
                                CannotBook { org: org.clone(), town: o.municipality_name.clone() }
                            }
                        }
                    } else {
                        if !o.booker {
                            CannotBook { org: org.clone(), town: o.municipality_name.clone() }
                        }
                        MineView { slug: slug.clone(), day: booked_on() }
                    }
                },
            }
        }
    }
}

/// Why this user cannot book, and what to do about it.
#[component]
fn CannotBook(org: String, town: String) -> Element {
    rsx! {
        section { class: "card parking-refusal", role: "alert",
            h2 { {tr("予約できません", "You cannot book")} }
            p { {tr_string(
                format!("あなたの所属（{org}）は、{town}の駐車場を予約できる事業所として承認されていません。"),
                format!("Your organisation ({org}) is not approved to book {town}'s parking."),
            )} }
            p { class: "hint", {tr(
                "利用するには、事業所の管理者から市の駐車場の担当窓口へ申請してください。",
                "To use it, your organisation's manager applies to the city's parking office.",
            )} }
        }
    }
}
