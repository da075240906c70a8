//! Booking a space in a few taps: its free windows of a day (today, or another from the date
//! picker) → a start time inside one → a duration (30/60/90/120 minutes, as fits) → the plate
//! (the last one used is remembered on this device) → 予約する. A refusal shows the server's
//! own words: a 409 names the booking in the way, a 422 the space's hours.

use super::mine::limit_label;
use super::nearby::extra_note;
use super::staff::{date_label, day_start, hm, jst_date, span, today, DAY_MS, MINUTE_MS};
use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::ui::session::Session;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{Booking, FreeWindows, NewBooking, Space, TimeWindow, PARKING_PLATE_MAX};

/// Where the last plate used is kept on this device (not secret: it is on the car).
const PLATE_KEY: &str = "renraku.parking.plate";
const DURATIONS: [i64; 4] = [30, 60, 90, 120];
/// Start times are offered every 15 minutes.
const STEP_MS: i64 = 15 * MINUTE_MS;
/// The shortest booking offered.
const SHORTEST_MS: i64 = 30 * MINUTE_MS;

/// Start times inside the free windows, from now on, every 15 minutes, leaving room for the
/// shortest booking.
fn starts(free: &[TimeWindow], now: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for w in free {
        let from = w.start.max(now);
        let mut t = (from + STEP_MS - 1).div_euclid(STEP_MS) * STEP_MS;
        while t + SHORTEST_MS <= w.end {
            out.push((t, w.end));
            t += STEP_MS;
        }
    }
    out
}

#[component]
pub fn BookSheet(
    space: Space,
    slug: String,
    on_close: EventHandler<()>,
    on_booked: EventHandler<Booking>,
) -> Element {
    let session = use_context::<Session>();
    let mut date = use_signal(today);
    let mut free = use_signal(|| None::<Result<FreeWindows, ApiError>>);
    let mut reload = use_signal(|| 0u64);
    let mut start = use_signal(|| None::<i64>);
    let mut minutes = use_signal(|| 60i64);
    let mut plate = use_signal(|| crate::util::local_get(PLATE_KEY).unwrap_or_default());
    let mut sending = use_signal(|| false);
    let mut refusal = use_signal(|| None::<String>);
    let mut photo_failed = use_signal(|| false);
    let id = space.id;
    // The photo is the city's upload for the space (served by the parking API).
    let photo_url = space
        .photo
        .as_ref()
        .map(|p| format!("/api/parking/{slug}/spaces/{id}/photo?v={}", p.version))
        .unwrap_or_default();
    let s2 = slug.clone();
    let sess = session.clone();
    use_effect(move || {
        let d = date();
        let _ = reload();
        let url = format!("/api/parking/{s2}/spaces/{id}/free?date={d}");
        let sess = sess.clone();
        spawn(async move {
            free.set(None);
            let answer = api::get::<FreeWindows>(&url).await;
            if matches!(&answer, Err(e) if e.is_unauthorized()) {
                sess.expired();
            }
            // The first start time that fits, unless the one chosen still does.
            if let Ok(f) = &answer {
                let options = starts(&f.free, crate::clock::server_now_ms());
                let keep = start
                    .peek()
                    .is_some_and(|s| options.iter().any(|(t, _)| *t == s));
                if !keep {
                    start.set(options.first().map(|(t, _)| *t));
                }
            }
            free.set(Some(answer));
        });
    });

    let now = crate::clock::server_now_ms();
    let windows: Vec<TimeWindow> = free
        .read()
        .as_ref()
        .and_then(|f| f.as_ref().ok())
        .map(|f| f.free.clone())
        .unwrap_or_default();
    let options = starts(&windows, now);
    // What can still be booked of each window: from its first start offered.
    let usable: Vec<(i64, i64)> = windows
        .iter()
        .filter_map(|w| {
            let first = starts(std::slice::from_ref(w), now).first()?.0;
            Some((first, w.end))
        })
        .collect();
    let chosen_end = start().and_then(|s| options.iter().find(|(t, _)| *t == s).map(|(_, e)| *e));
    let fits = |m: i64| {
        start()
            .zip(chosen_end)
            .is_some_and(|(s, e)| s + m * MINUTE_MS <= e)
    };
    // The duration chosen, or the longest that fits when it does not.
    let duration = if fits(minutes()) {
        Some(minutes())
    } else {
        DURATIONS.iter().rev().copied().find(|m| fits(*m))
    };
    let plate_now = plate();
    let ready = start().is_some() && duration.is_some() && !plate_now.trim().is_empty();
    let book = move |_| {
        let (Some(s), Some(m)) = (start(), duration) else {
            return;
        };
        let p = plate().trim().to_owned();
        if p.is_empty() {
            return;
        }
        let url = format!("/api/parking/{slug}/bookings");
        let sess = session.clone();
        sending.set(true);
        refusal.set(None);
        spawn(async move {
            let body = NewBooking {
                space: id,
                start: s,
                end: s + m * MINUTE_MS,
                plate: p.clone(),
            };
            match api::post::<_, Booking>(&url, &body).await {
                Ok(b) => {
                    crate::util::local_set(PLATE_KEY, &p);
                    on_booked.call(b);
                }
                Err(e) if e.is_unauthorized() => sess.expired(),
                Err(e) => {
                    let text = match &e {
                        ApiError::Status { status: 403, .. } => tr(
                            "あなたの所属の事業所は、この駐車場を予約できません。",
                            "Your organisation may not book this parking.",
                        )
                        .to_owned(),
                        _ => e.explain(),
                    };
                    refusal.set(Some(text));
                    // What is free has changed: read it again.
                    reload += 1;
                }
            }
            sending.set(false);
        });
    };

    let limits: Vec<&'static str> = space
        .fields
        .limits
        .iter()
        .map(|l| limit_label(*l))
        .collect();
    let note = extra_note(&limits, &space.fields.limits_note);
    let today_s = today();
    let tomorrow = jst_date(day_start(&today()).unwrap_or(now) + DAY_MS);
    let title = space.fields.name.clone();
    rsx! {
        Sheet { title, on_close: move |_| on_close.call(()),
            div { class: "book",
                if space.photo.is_some() && !photo_failed() {
                    img {
                        class: "space-photo",
                        src: "{photo_url}",
                        alt: tr_string(format!("{} の写真", space.fields.name), format!("Photo of {}", space.fields.name)),
                        onerror: move |_| photo_failed.set(true),
                    }
                } else if space.photo.is_some() {
                    p { class: "muted", {tr("（写真を表示できません）", "(The photo cannot be shown)")} }
                }
                p { class: "address", "📍 {space.fields.address}" }
                if !limits.is_empty() || !note.is_empty() {
                    p { class: "limits",
                        for l in limits {
                            span { key: "{l}", class: "limit", "{l}" }
                        }
                        if !note.is_empty() {
                            span { class: "limit-note", "{note}" }
                        }
                    }
                }
                if !space.fields.directions.is_empty() {
                    p { class: "directions", strong { {tr("停め方：", "Where to park: ")} } "{space.fields.directions}" }
                }
                p { class: "muted", {tr_string(format!("貸主：{}", space.lender_name), format!("Lender: {}", space.lender_name))} }

                h3 { {tr("日にち", "Day")} }
                div { class: "book-days",
                    button { r#type: "button", class: if date() == today_s { "chip on" } else { "chip" }, aria_pressed: if date() == today_s { "true" } else { "false" },
                        onclick: move |_| date.set(today()), {tr("今日", "Today")} }
                    button { r#type: "button", class: if date() == tomorrow { "chip on" } else { "chip" }, aria_pressed: if date() == tomorrow { "true" } else { "false" },
                        onclick: { let t = tomorrow.clone(); move |_| date.set(t.clone()) }, {tr("明日", "Tomorrow")} }
                    input {
                        r#type: "date",
                        aria_label: tr("ほかの日", "Another day"),
                        min: "{today_s}",
                        value: "{date}",
                        onchange: move |e| { let v = e.value(); if day_start(&v).is_some() { date.set(v); } },
                    }
                }
                h3 { {tr_string(format!("{}の空き", date_label(&date())), format!("Free on {}", date_label(&date())))} }
                match free.read().clone() {
                    None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                    Some(Err(e)) => rsx! { p { class: "error", role: "alert", "{e.message()}" } },
                    Some(Ok(_)) if usable.is_empty() => rsx! {
                        p { class: "muted", role: "status", {tr("この日は空きがありません。", "Nothing free on this day.")} }
                    },
                    Some(Ok(_)) => rsx! {
                        ul { class: "free-windows", aria_label: tr("空いている時間", "Free times"),
                            for (from, to) in usable.iter().copied() {
                                li { key: "{from}", "{span(from, to)}" }
                            }
                        }
                    },
                }
                if !options.is_empty() {
                    label { class: "field",
                        span { {tr("開始時刻", "Start")} }
                        select {
                            value: start().map(|s| s.to_string()).unwrap_or_default(),
                            onchange: move |e| start.set(e.value().parse().ok()),
                            for (t, _) in options.iter().copied() {
                                option { key: "{t}", value: "{t}", selected: start() == Some(t), "{hm(t)}" }
                            }
                        }
                    }
                    div { class: "durations", role: "radiogroup", aria_label: tr("利用時間", "How long"),
                        for m in DURATIONS {
                            button {
                                key: "{m}",
                                r#type: "button",
                                role: "radio",
                                aria_checked: if duration == Some(m) { "true" } else { "false" },
                                class: if duration == Some(m) { "chip on" } else { "chip" },
                                disabled: !fits(m),
                                onclick: move |_| minutes.set(m),
                                {tr_string(format!("{m}分"), format!("{m} min"))}
                            }
                        }
                    }
                    if let (Some(s), Some(m)) = (start(), duration) {
                        p { class: "book-summary", role: "status",
                            {tr_string(format!("{} {} に予約します", date_label(&date()), span(s, s + m * MINUTE_MS)), format!("Book {} {}", date_label(&date()), span(s, s + m * MINUTE_MS)))}
                        }
                    }
                    label { class: "field",
                        span { {tr("車のナンバー", "Number plate")} }
                        input {
                            r#type: "text",
                            maxlength: "{PARKING_PLATE_MAX}",
                            autocomplete: "off",
                            placeholder: tr("例：品川 300 あ 12-34", "e.g. 品川 300 あ 12-34"),
                            value: "{plate_now}",
                            oninput: move |e| plate.set(e.value()),
                        }
                    }
                    if let Some(msg) = refusal() {
                        p { class: "error", role: "alert", "{msg}" }
                    }
                    button { r#type: "button", class: "primary wide", disabled: !ready || sending(), onclick: book,
                        if sending() { {tr("予約しています…", "Booking…")} } else { {tr("予約する", "Book")} }
                    }
                }
                if options.is_empty() {
                    if let Some(msg) = refusal() {
                        p { class: "error", role: "alert", "{msg}" }
                    }
                }
            }
        }
    }
}
