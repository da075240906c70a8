//! 駐車場 (issue 17), the city's side: lenders (貸主), spaces, their hours, the organisations
//! approved to book, the bookings, the statistics and the trouble reports, for a parking
//! manager or a municipality administrator (`GET /api/parking/{m}` says which). Online only:
//! these are office work, and every answer is the server's. The home screen's entry
//! ([`ParkingEntry`]) also leads a lender to their own screen (`super::lender`). Both run
//! in the admin bundle (`Route::bundle`): a nurse's phone never downloads them.
//!
//! A booking here shows the organisation, the plate and the time: the server holds nothing
//! else about it (never a patient).

mod approvals;
mod availability;
mod bookings;
mod lenders;
mod spaces;
mod statistics;
mod troubles;

use crate::admin::Session;
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;
use renraku_contract::{
    Booking, BookingStatus, Lender, NotifyBy, ParkingLimit, ParkingOverview, Space, SpaceId,
    Weekday,
};

/// The sections, each its own URL (`/{m}/parking/city/{section}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Spaces,
    Lenders,
    Availability(Option<SpaceId>),
    Approvals,
    Bookings(Option<SpaceId>),
    Statistics,
    Troubles,
}

impl Section {
    const TABS: [Section; 7] = [
        Section::Spaces,
        Section::Lenders,
        Section::Availability(None),
        Section::Approvals,
        Section::Bookings(None),
        Section::Statistics,
        Section::Troubles,
    ];

    fn parse(path: &str) -> Section {
        let mut parts = path.split('/');
        let first = parts.next().unwrap_or("");
        let space = parts.next().and_then(|s| s.parse().ok()).map(SpaceId);
        match first {
            "lenders" => Section::Lenders,
            "availability" => Section::Availability(space),
            "approvals" => Section::Approvals,
            "bookings" => Section::Bookings(space),
            "statistics" => Section::Statistics,
            "troubles" => Section::Troubles,
            _ => Section::Spaces,
        }
    }

    fn path(self) -> String {
        match self {
            Section::Spaces => "spaces".into(),
            Section::Lenders => "lenders".into(),
            Section::Availability(None) => "availability".into(),
            Section::Availability(Some(s)) => format!("availability/{s}"),
            Section::Approvals => "approvals".into(),
            Section::Bookings(None) => "bookings".into(),
            Section::Bookings(Some(s)) => format!("bookings/{s}"),
            Section::Statistics => "statistics".into(),
            Section::Troubles => "troubles".into(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Section::Spaces => tr("駐車場", "Spaces"),
            Section::Lenders => tr("貸主", "Lenders"),
            Section::Availability(_) => tr("利用可能時間", "Hours"),
            Section::Approvals => tr("事業所の承認", "Approvals"),
            Section::Bookings(_) => tr("予約", "Bookings"),
            Section::Statistics => tr("利用統計", "Statistics"),
            Section::Troubles => tr("トラブル報告", "Trouble reports"),
        }
    }

    fn same_tab(self, other: Section) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

fn section_href(section: Section) -> String {
    Route::ParkingCity {
        path: section.path(),
    }
    .href()
}

fn go(section: Section) {
    route::go(Route::ParkingCity {
        path: section.path(),
    });
}

/// What the sections share: the municipality, the lenders and the spaces (read once, and
/// again after a change).
#[derive(Clone, Copy, PartialEq)]
struct City {
    slug: Signal<String>,
    lenders: Signal<Vec<Lender>>,
    spaces: Signal<Option<Vec<Space>>>,
    /// Bumped to read the lenders and spaces again.
    reload: Signal<u64>,
}

impl City {
    fn url(&self, rest: &str) -> String {
        format!("/api/parking/{}{rest}", self.slug.peek())
    }

    fn space(&self, id: SpaceId) -> Option<Space> {
        self.spaces
            .read()
            .as_ref()?
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    fn space_name(&self, id: SpaceId) -> String {
        self.space(id).map(|s| s.fields.name).unwrap_or_default()
    }

    /// Puts a space as the server answered it in the list.
    fn replace_space(&self, space: Space) {
        let mut spaces = self.spaces;
        spaces.with_mut(|list| {
            if let Some(list) = list.as_mut() {
                match list.iter_mut().find(|s| s.id == space.id) {
                    Some(s) => *s = space,
                    None => list.push(space),
                }
            }
        });
    }

    fn refresh(&self) {
        let mut reload = self.reload;
        reload += 1;
    }
}

/// The overview of the user's own municipality's parking, `None` when they have no part in
/// it (404) or it cannot be read.
async fn overview(slug: &str) -> Result<Option<ParkingOverview>, ApiError> {
    match api::get::<ParkingOverview>(&format!("/api/parking/{slug}")).await {
        Ok(o) => Ok(Some(o)),
        Err(ApiError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Home's line into parking: 「駐車場の管理」 for the city, 「貸している駐車場」 for a lender.
/// Nothing for everyone else (staff reach parking from a patient's room).
#[component]
pub fn ParkingEntry() -> Element {
    // On the app's home, not in the admin bundle these screens run in: no admin `Session`.
    let mut o = use_signal(|| None::<ParkingOverview>);
    let slug = crate::api::municipality_slug().unwrap_or_default();
    use_effect(move || {
        let slug = slug.clone();
        spawn(async move {
            if let Ok(Some(found)) = overview(&slug).await {
                o.set(Some(found));
            }
        });
    });
    let Some(found) = o() else {
        return rsx! {};
    };
    let city_href = Route::ParkingCity {
        path: String::new(),
    }
    .href();
    let lender_href = Route::ParkingLender.href();
    rsx! {
        if found.manager || found.admin {
            a {
                class: "register-entry parking-entry",
                href: "{city_href}",
                onclick: move |e: MouseEvent| {
                    e.prevent_default();
                    route::go(Route::ParkingCity { path: String::new() });
                },
                {tr("🅿 駐車場の管理", "🅿 Parking (city)")}
            }
        }
        if !found.lender_of.is_empty() {
            a {
                class: "register-entry parking-entry",
                href: "{lender_href}",
                onclick: move |e: MouseEvent| {
                    e.prevent_default();
                    route::go(Route::ParkingLender);
                },
                {tr("🅿 貸している駐車場", "🅿 My parking spaces")}
            }
        }
    }
}

#[component]
pub fn CityScreen(path: String) -> Element {
    let session = use_context::<Session>();
    let section = Section::parse(&path);
    let city = City {
        slug: use_signal(|| session.slug.clone()),
        lenders: use_signal(Vec::new),
        spaces: use_signal(|| None),
        reload: use_signal(|| 0),
    };
    use_context_provider(|| city);
    let mut o = use_signal(|| None::<Option<ParkingOverview>>);
    let mut error = use_signal(|| None::<String>);
    let s = session.clone();
    use_effect(move || {
        let _ = (city.reload)();
        let s = s.clone();
        let (mut lenders, mut spaces) = (city.lenders, city.spaces);
        spawn(async move {
            let slug = city.slug.peek().clone();
            match overview(&slug).await {
                Ok(found) => {
                    let manages = found.as_ref().is_some_and(|f| f.manager || f.admin);
                    o.set(Some(found));
                    if !manages {
                        return;
                    }
                }
                Err(e) if e.is_unauthorized() => return s.expired(),
                Err(e) => return error.set(Some(e.message())),
            }
            let l = api::get::<Vec<Lender>>(&city.url("/lenders")).await;
            let sp = api::get::<Vec<Space>>(&city.url("/spaces")).await;
            match (l, sp) {
                (Ok(l), Ok(sp)) => {
                    lenders.set(l);
                    spaces.set(Some(sp));
                    error.set(None);
                }
                (Err(e), _) | (_, Err(e)) if e.is_unauthorized() => s.expired(),
                (Err(e), _) | (_, Err(e)) => error.set(Some(e.message())),
            }
        });
    });
    let subtitle = tr("市の担当者向け", "For the city").to_owned();
    let body = match o() {
        None => rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } },
        Some(None) => rsx! {
            p { class: "pad", {tr("駐車場の管理はできません。", "You do not manage parking.")} }
        },
        Some(Some(ov)) if !(ov.manager || ov.admin) => rsx! {
            p { class: "pad", {tr("駐車場の管理はできません。", "You do not manage parking.")} }
        },
        Some(Some(_)) => match section {
            Section::Spaces => rsx! { spaces::SpacesSection {} },
            Section::Lenders => rsx! { lenders::LendersSection {} },
            Section::Availability(space) => rsx! { availability::AvailabilitySection { space } },
            Section::Approvals => rsx! { approvals::ApprovalsSection {} },
            Section::Bookings(space) => rsx! { bookings::BookingsSection { space } },
            Section::Statistics => rsx! { statistics::StatisticsSection {} },
            Section::Troubles => rsx! { troubles::TroublesSection {} },
        },
    };
    rsx! {
        TopBar {
            title: tr("駐車場の管理", "Parking").to_owned(),
            subtitle: Some(subtitle),
            on_back: move |_| route::back(Route::Home(Tab::Patients)),
        }
        main { class: "parking-city",
            nav { class: "parking-sections", aria_label: tr("駐車場の管理の項目", "Parking sections"),
                for t in Section::TABS {
                    a {
                        key: "{t.path()}",
                        class: if t.same_tab(section) { "chip on" } else { "chip" },
                        href: "{section_href(t)}",
                        aria_current: if t.same_tab(section) { "page" } else { "false" },
                        onclick: move |e: MouseEvent| { e.prevent_default(); go(t); },
                        "{t.label()}"
                    }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            {body}
        }
    }
}

// ---- shared pieces ----

use renraku_contract::jst::{
    civil, date_of_day as date_string, day_of_date, day_of_instant as jst_day, day_start, DAY_MS,
    OFFSET_MS as JST_MS,
};

/// The day number of a date typed or picked (`YYYY-MM-DD`, spaces around allowed).
fn day_of(date: &str) -> Option<i64> {
    day_of_date(date.trim())
}

/// Monday is 0 (1970-01-01 was a Thursday).
fn weekday_index(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

fn weekday_short(i: usize) -> &'static str {
    [
        tr("月", "Mon"),
        tr("火", "Tue"),
        tr("水", "Wed"),
        tr("木", "Thu"),
        tr("金", "Fri"),
        tr("土", "Sat"),
        tr("日", "Sun"),
    ][i % 7]
}

fn weekday_label(w: Weekday) -> &'static str {
    weekday_short(Weekday::ALL.iter().position(|x| *x == w).unwrap_or(0))
}

/// `12/3(木)`.
fn short_date(day: i64) -> String {
    let (_, m, d) = civil(day);
    format!("{m}/{d}({})", weekday_short(weekday_index(day)))
}

/// `9:00` in Japan time.
fn clock(ms: i64) -> String {
    let min = (ms + JST_MS).rem_euclid(DAY_MS) / 60_000;
    format!("{}:{:02}", min / 60, min % 60)
}

/// `12/3(木) 10:00–11:00` (the end's date too when it is another day).
fn when(start: i64, end: i64) -> String {
    let (a, b) = (jst_day(start), jst_day(end - 1));
    if a == b {
        format!("{} {}–{}", short_date(a), clock(start), clock(end))
    } else {
        format!(
            "{} {}–{} {}",
            short_date(a),
            clock(start),
            short_date(b),
            clock(end)
        )
    }
}

/// [`when`] for the lender's screen.
pub(crate) fn when_label(start: i64, end: i64) -> String {
    when(start, end)
}

/// Minutes after midnight as `9:00` (`24:00` for the end of the day).
fn minutes(min: i64) -> String {
    format!("{}:{:02}", min / 60, min % 60)
}

/// `9:00–17:00`, `22:00–翌6:00` for a window past midnight.
fn window_label(start: i64, end: i64) -> String {
    if end <= start {
        tr_string(
            format!("{}–翌{}", minutes(start), minutes(end)),
            format!("{}–{} (next day)", minutes(start), minutes(end)),
        )
    } else {
        format!("{}–{}", minutes(start), minutes(end))
    }
}

/// `09:30` → 570.
fn parse_hm(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

fn limit_label(l: ParkingLimit) -> &'static str {
    match l {
        ParkingLimit::KeiOnly => tr("軽自動車のみ", "Kei cars only"),
        ParkingLimit::Height => tr("高さ制限", "Height limit"),
        ParkingLimit::Width => tr("幅制限", "Width limit"),
        ParkingLimit::Length => tr("長さ制限", "Length limit"),
        ParkingLimit::NoLargeVehicles => tr("大型不可", "No large vehicles"),
    }
}

fn notify_label(n: NotifyBy) -> &'static str {
    match n {
        NotifyBy::Phone => tr("電話", "Phone"),
        NotifyBy::Fax => tr("FAX", "Fax"),
        NotifyBy::Mail => tr("郵送・メール", "Post or e-mail"),
        NotifyBy::App => tr("アプリ", "The app"),
    }
}

fn status_label(b: &Booking) -> &'static str {
    match b.status {
        BookingStatus::Booked => tr("予約", "Booked"),
        BookingStatus::Cancelled => tr("取消", "Cancelled"),
        BookingStatus::LeftEarly => tr("早めに出庫", "Left early"),
    }
}

/// The URL of a space's photo (`thumb`: its small JPEG), with its version so a new photo is
/// not hidden by the browser's copy of the old one.
pub(crate) fn photo_url(slug: &str, space: &Space, thumb: bool) -> Option<String> {
    let p = space.photo.as_ref()?;
    Some(format!(
        "/api/parking/{slug}/spaces/{}/photo?v={}{}",
        space.id,
        p.version,
        if thumb { "&thumb=true" } else { "" }
    ))
}

/// The bookings still ahead on a space (not cancelled, not over), read from the server.
pub(crate) async fn bookings_ahead(slug: &str, space: SpaceId) -> Result<Vec<Booking>, ApiError> {
    let now = crate::clock::server_now_ms();
    let to = now + 400 * DAY_MS;
    let list: Vec<Booking> = api::get(&format!(
        "/api/parking/{slug}/spaces/{space}/bookings?from={now}&to={to}"
    ))
    .await?;
    Ok(list
        .into_iter()
        .filter(|b| b.status == BookingStatus::Booked && b.end > now)
        .collect())
}

/// 休止する / 再開する, the pause asked for again with the number of bookings ahead (their
/// bookers get a push; the bookings stay). For the city and the space's lender alike.
#[component]
pub(crate) fn PauseControl(slug: String, space: Space, on_done: EventHandler<Space>) -> Element {
    let session = use_context::<Session>();
    // The bookings ahead, once 「休止する…」 is pressed: the confirmation is open.
    let mut asking = use_signal(|| None::<usize>);
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let id = space.id;
    let paused = space.paused;
    let url = format!("/api/parking/{slug}/spaces/{id}/paused");
    let set = {
        let (url, s) = (url.clone(), session.clone());
        move |pause: bool| {
            let (url, s) = (url.clone(), s.clone());
            busy.set(true);
            spawn(async move {
                match api::send::<_, Space>(
                    "PUT",
                    &url,
                    &renraku_contract::SetPaused { paused: pause },
                )
                .await
                {
                    Ok(space) => {
                        asking.set(None);
                        error.set(None);
                        on_done.call(space);
                    }
                    Err(e) if e.is_unauthorized() => s.expired(),
                    Err(e) => error.set(Some(e.explain())),
                }
                busy.set(false);
            });
        }
    };
    let ask = {
        let (slug, s) = (slug.clone(), session.clone());
        move |_| {
            let (slug, s) = (slug.clone(), s.clone());
            busy.set(true);
            spawn(async move {
                match bookings_ahead(&slug, id).await {
                    Ok(list) => {
                        asking.set(Some(list.len()));
                        error.set(None);
                    }
                    Err(e) if e.is_unauthorized() => s.expired(),
                    Err(e) => error.set(Some(e.message())),
                }
                busy.set(false);
            });
        }
    };
    let (mut set_pause, mut set_resume) = (set.clone(), set);
    rsx! {
        div { class: "pause-control",
            if paused {
                button {
                    r#type: "button",
                    class: "secondary",
                    disabled: busy(),
                    onclick: move |_| set_resume(false),
                    {tr("再開する", "Resume")}
                }
            } else if let Some(n) = asking() {
                div { class: "confirm", role: "alertdialog", aria_label: tr("休止の確認", "Confirm the pause"),
                    p {
                        if n == 0 {
                            {tr("この先の予約はありません。休止すると新しい予約を受け付けません。", "No bookings ahead. While paused it takes no new bookings.")}
                        } else {
                            strong { {tr_string(format!("この先の予約が {n} 件あります。"), format!("{n} bookings ahead."))} }
                            {tr("予約は取り消されませんが、予約した方にプッシュ通知でお知らせします。休止中は新しい予約を受け付けません。", " They stay booked, and their bookers are told by push. While paused it takes no new bookings.")}
                        }
                    }
                    div { class: "row",
                        button {
                            r#type: "button",
                            class: "primary danger-fill",
                            disabled: busy(),
                            onclick: move |_| set_pause(true),
                            {tr("休止する", "Pause")}
                        }
                        button {
                            r#type: "button",
                            class: "secondary",
                            onclick: move |_| asking.set(None),
                            {tr("やめる", "Cancel")}
                        }
                    }
                }
            } else {
                button {
                    r#type: "button",
                    class: "secondary danger",
                    disabled: busy(),
                    onclick: ask,
                    {tr("休止する…", "Pause…")}
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for day in [-1, 0, 59, 11_016, 20_425, 24_000] {
            assert_eq!(day_of(&date_string(day)), Some(day));
        }
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(weekday_index(0), 3);
        assert_eq!(day_of("2026-02-30"), None);
        // 2026-12-03 09:00 JST is 00:00 UTC.
        let ms = day_start(day_of("2026-12-03").unwrap()) + 9 * HOUR_MS;
        assert_eq!(clock(ms), "9:00");
        assert_eq!(weekday_index(jst_day(ms)), 3);
        assert_eq!(parse_hm("09:30"), Some(570));
        assert_eq!(parse_hm("24:00"), None);
    }
}
