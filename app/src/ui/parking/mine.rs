//! 「今日の予約」: my bookings of a day (today by default, another from the date picker), with
//! 取り消す (before it ends), 早めに出庫 (while under way: the rest is free again) and
//! トラブル報告. Home shows a line to it for those who book (`ParkingEntry`).

use super::staff::{date_label, day_start, span, today};
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route};
use crate::ui::session::Session;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{
    Booking, BookingStatus, NewTrouble, ParkingLimit, ParkingOverview, Trouble,
};

pub(super) fn limit_label(l: ParkingLimit) -> &'static str {
    match l {
        ParkingLimit::KeiOnly => tr("軽自動車のみ", "Kei cars only"),
        ParkingLimit::Height => tr("高さ制限", "Height limit"),
        ParkingLimit::Width => tr("幅制限", "Width limit"),
        ParkingLimit::Length => tr("長さ制限", "Length limit"),
        ParkingLimit::NoLargeVehicles => tr("大型車不可", "No large vehicles"),
    }
}

fn mine_url(slug: &str, date: &str) -> String {
    format!("/api/parking/{slug}/bookings/mine?date={date}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ahead,
    UnderWay,
    Over,
}

fn phase(b: &Booking, now: i64) -> Phase {
    if now < b.start {
        Phase::Ahead
    } else if now < b.end {
        Phase::UnderWay
    } else {
        Phase::Over
    }
}

#[component]
pub fn MineView(slug: String, day: Option<String>) -> Element {
    let session = use_context::<Session>();
    let mut date = use_signal(|| day.unwrap_or_else(today));
    let mut list = use_signal(|| None::<Result<Vec<Booking>, ApiError>>);
    let reload = use_signal(|| 0u64);
    let notice = use_signal(|| None::<String>);
    let reporting = use_signal(|| None::<Booking>);
    let s2 = slug.clone();
    let sess = session.clone();
    use_effect(move || {
        let url = mine_url(&s2, &date());
        let _ = reload();
        let sess = sess.clone();
        spawn(async move {
            let answer = api::get::<Vec<Booking>>(&url).await;
            if matches!(&answer, Err(e) if e.is_unauthorized()) {
                sess.expired();
            }
            list.set(Some(answer));
        });
    });
    let now = crate::clock::server_now_ms();
    let shown = list.read().clone();
    rsx! {
        section { class: "mine", aria_label: tr("予約", "Bookings"),
            div { class: "mine-head",
                h2 { {tr_string(format!("{}の予約", date_label(&date())), format!("Bookings: {}", date_label(&date())))} }
                input {
                    r#type: "date",
                    aria_label: tr("日にちを選ぶ", "Choose a day"),
                    value: "{date}",
                    onchange: move |e| { let v = e.value(); if day_start(&v).is_some() { date.set(v); } },
                }
                if date() != today() {
                    button { r#type: "button", class: "chip", onclick: move |_| date.set(today()), {tr("今日", "Today")} }
                }
            }
            if let Some(msg) = notice() {
                p { class: "notice pad", role: "status", "{msg}" }
            }
            match shown {
                None => rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } },
                Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.message()}" } },
                Some(Ok(l)) if l.is_empty() => rsx! {
                    p { class: "muted pad", {tr("この日の予約はありません。", "No bookings on this day.")} }
                },
                Some(Ok(l)) => rsx! {
                    ul { class: "bookings",
                        for b in l {
                            BookingCard { key: "{b.id}", phase: phase(&b, now), b, slug: slug.clone(), notice, reload, reporting }
                        }
                    }
                },
            }
        }
        if let Some(b) = reporting() {
            TroubleSheet { key: "{b.id}", b, slug: slug.clone(), notice, reporting }
        }
    }
}

#[component]
fn BookingCard(
    b: Booking,
    phase: Phase,
    slug: String,
    notice: Signal<Option<String>>,
    reload: Signal<u64>,
    reporting: Signal<Option<Booking>>,
) -> Element {
    let session = use_context::<Session>();
    let mut confirming = use_signal(|| false);
    let mut busy = use_signal(|| false);
    let id = b.id;
    let mut act = move |what: &'static str| {
        let url = format!("/api/parking/{slug}/bookings/{id}/{what}");
        let sess = session.clone();
        busy.set(true);
        spawn(async move {
            let mut notice = notice;
            let mut reload = reload;
            match api::post::<_, Booking>(&url, &serde_json::json!({})).await {
                Ok(done) => {
                    notice.set(Some(match what {
                        "cancel" => tr_string(
                            format!(
                                "予約を取り消しました（{} {}）。",
                                done.space_name,
                                span(done.start, done.released_end.unwrap_or(done.end))
                            ),
                            format!(
                                "Cancelled ({} {}).",
                                done.space_name,
                                span(done.start, done.released_end.unwrap_or(done.end))
                            ),
                        ),
                        _ => tr_string(
                            format!(
                                "出庫を記録しました（{} {}）。残りの時間は空きに戻りました。",
                                done.space_name,
                                span(done.start, done.end)
                            ),
                            format!(
                                "Left at {}; the rest is free again.",
                                span(done.start, done.end)
                            ),
                        ),
                    }));
                    reload += 1;
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => {
                    notice.set(Some(e.explain()));
                    reload += 1;
                }
            }
            busy.set(false);
        });
    };
    let status = match (b.status, phase) {
        (BookingStatus::Cancelled, _) => tr("取消済み", "Cancelled"),
        (BookingStatus::LeftEarly, _) => tr("出庫済み（早め）", "Left early"),
        (BookingStatus::Booked, Phase::Ahead) => tr("予約済み", "Booked"),
        (BookingStatus::Booked, Phase::UnderWay) => tr("利用中", "Under way"),
        (BookingStatus::Booked, Phase::Over) => tr("終了", "Over"),
    };
    let live = b.status == BookingStatus::Booked && phase != Phase::Over;
    let class = match b.status {
        BookingStatus::Booked => "booking card",
        _ => "booking card done",
    };
    let shown_end = b.released_end.map(|r| (b.end, r));
    let mut act2 = act.clone();
    let bb = b.clone();
    rsx! {
        li { class: "{class}",
            div { class: "booking-time",
                strong { "{span(b.start, b.end)}" }
                span { class: "booking-status", "{status}" }
            }
            if let Some((left, booked)) = shown_end {
                p { class: "muted", {tr_string(format!("予約は {} まで（{} に出庫）", super::staff::hm(booked), super::staff::hm(left)), format!("Booked until {}, left at {}", super::staff::hm(booked), super::staff::hm(left)))} }
            }
            p { class: "booking-space", "{b.space_name}" }
            p { class: "muted", "📍 {b.address}" }
            p { class: "muted", {tr_string(format!("ナンバー：{}", b.plate), format!("Plate: {}", b.plate))} }
            div { class: "booking-actions",
                if live && phase == Phase::UnderWay {
                    button { r#type: "button", class: "primary", disabled: busy(), onclick: move |_| act("left-early"),
                        {tr("早めに出庫", "Left early")}
                    }
                }
                if live && phase == Phase::Ahead {
                    if confirming() {
                        span { class: "confirm", {tr("この予約を取り消しますか？", "Cancel this booking?")} }
                        button { r#type: "button", class: "primary danger-fill", disabled: busy(), onclick: move |_| act2("cancel"),
                            {tr("取り消す", "Cancel it")}
                        }
                        button { r#type: "button", class: "secondary", onclick: move |_| confirming.set(false), {tr("やめる", "Keep it")} }
                    } else {
                        button { r#type: "button", class: "secondary", onclick: move |_| confirming.set(true), {tr("予約を取り消す", "Cancel booking")} }
                    }
                }
                if b.status != BookingStatus::Cancelled {
                    button { r#type: "button", class: "secondary", onclick: move |_| { let mut r = reporting; r.set(Some(bb.clone())); },
                        {tr("トラブル報告", "Report a problem")}
                    }
                }
            }
        }
    }
}

#[component]
fn TroubleSheet(
    b: Booking,
    slug: String,
    notice: Signal<Option<String>>,
    reporting: Signal<Option<Booking>>,
) -> Element {
    let session = use_context::<Session>();
    let mut body = use_signal(String::new);
    let mut sending = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let (space, booking) = (b.space, b.id);
    let close = move |_| {
        let mut r = reporting;
        r.set(None);
    };
    let send = move |_| {
        let text = body().trim().to_owned();
        if text.is_empty() {
            return;
        }
        let url = format!("/api/parking/{slug}/troubles");
        let sess = session.clone();
        sending.set(true);
        spawn(async move {
            let report = NewTrouble {
                space: Some(space),
                booking: Some(booking),
                body: text,
            };
            match api::post::<_, Trouble>(&url, &report).await {
                Ok(_) => {
                    let mut notice = notice;
                    let mut r = reporting;
                    notice.set(Some(
                        tr(
                            "トラブルを市の担当に報告しました。",
                            "The problem was reported to the city.",
                        )
                        .to_owned(),
                    ));
                    r.set(None);
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
            sending.set(false);
        });
    };
    let title = tr("トラブル報告", "Report a problem").to_owned();
    rsx! {
        Sheet { title, on_close: close,
            p { "{b.space_name} · {span(b.start, b.end)}" }
            label { class: "field",
                span { {tr("何がありましたか", "What happened")} }
                textarea {
                    rows: "4",
                    maxlength: "2000",
                    placeholder: tr("例：区画に別の車が停まっていた", "e.g. another car was parked in the space"),
                    value: "{body}",
                    oninput: move |e| body.set(e.value()),
                }
            }
            p { class: "hint", {tr("患者さんの名前は書かないでください。報告は市の担当者と貸主に伝わります。", "Do not name the patient: the city and the lender read reports.")} }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            button { r#type: "button", class: "primary wide", disabled: sending() || body().trim().is_empty(), onclick: send,
                {tr("報告する", "Send report")}
            }
        }
    }
}

/// Home's line to the parking: for those who may book here, or who have bookings today.
#[component]
pub fn ParkingEntry() -> Element {
    let session = use_context::<Session>();
    let mut shown = use_signal(|| None::<usize>);
    let slug = session.slug.clone();
    use_hook(move || {
        spawn(async move {
            let Ok(o) = api::get::<ParkingOverview>(&format!("/api/parking/{slug}")).await else {
                return;
            };
            let today = today();
            let n = api::get::<Vec<Booking>>(&mine_url(&slug, &today))
                .await
                .map(|l| {
                    l.iter()
                        .filter(|b| b.status != BookingStatus::Cancelled)
                        .count()
                })
                .unwrap_or(0);
            if o.booker || n > 0 {
                shown.set(Some(n));
            }
        });
    });
    let Some(n) = shown() else {
        return rsx! {};
    };
    let route = Route::Parking { room: None };
    rsx! {
        a {
            class: "register-entry parking-entry",
            href: "{route.href()}",
            onclick: move |e: MouseEvent| { e.prevent_default(); route::go(Route::Parking { room: None }); },
            {tr_string(format!("🅿 今日の駐車場の予約（{n}件）"), format!("🅿 Parking booked today ({n})"))}
        }
    }
}
