//! 利用可能時間: a space's weekly hours and its exceptions. Hours are added several days at
//! once (check 月〜金, 9:00–17:00, 追加); an end at or before the start runs past midnight
//! (22:00–翌6:00); 終日 is the whole day. Exceptions are a closed date (休み) or extra hours on
//! a date. Every change is saved at once (the server replaces the whole availability) and
//! the week is shown as it now is.

use super::{day_of, go, jst_day, parse_hm, weekday_short, window_label, City, Section};
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{
    Availability, AvailabilityException, ExceptionKind, Space, SpaceId, Weekday, WeeklyWindow,
};

#[component]
pub(super) fn AvailabilitySection(space: Option<SpaceId>) -> Element {
    let city = use_context::<City>();
    let spaces = city.spaces.read().clone().unwrap_or_default();
    let chosen = space.and_then(|id| spaces.iter().find(|s| s.id == id).cloned());
    rsx! {
        section { class: "parking-section",
            h2 { {tr("利用可能時間", "Hours")} }
            label { class: "field",
                {tr("駐車場", "Space")}
                select {
                    name: "hours-space",
                    onchange: move |e| {
                        let id = e.value().parse().ok().map(SpaceId);
                        go(Section::Availability(id));
                    },
                    option { value: "", selected: space.is_none(), {tr("選んでください", "Choose one")} }
                    for s in spaces.iter() {
                        option { key: "{s.id}", value: "{s.id}", selected: Some(s.id) == space, "{s.fields.name}" }
                    }
                }
            }
            if let Some(s) = chosen {
                Editor { key: "{s.id}", space: s }
            }
        }
    }
}

/// Saves the whole availability; the space as the server now has it.
async fn save(city: City, id: SpaceId, a: Availability) -> Result<Space, api::ApiError> {
    let space: Space =
        api::send("PUT", &city.url(&format!("/spaces/{id}/availability")), &a).await?;
    city.replace_space(space.clone());
    Ok(space)
}

#[component]
fn Editor(space: Space) -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let id = space.id;
    let mut current = use_signal(|| space.availability.clone());
    let mut days = use_signal(|| [true, true, true, true, true, false, false]);
    let mut start = use_signal(|| "09:00".to_owned());
    let mut end = use_signal(|| "17:00".to_owned());
    let mut whole_day = use_signal(|| false);
    let mut ex_date = use_signal(|| super::date_string(jst_day(crate::clock::server_now_ms())));
    let mut ex_open = use_signal(|| false);
    let mut ex_start = use_signal(|| "09:00".to_owned());
    let mut ex_end = use_signal(|| "12:00".to_owned());
    let mut error = use_signal(|| None::<String>);
    let mut saved = use_signal(|| None::<String>);

    let apply = {
        let s = session.clone();
        move |next: Availability, done: String| {
            let s = s.clone();
            spawn(async move {
                match save(city, id, next).await {
                    Ok(space) => {
                        current.set(space.availability);
                        error.set(None);
                        saved.set(Some(done));
                    }
                    Err(e) if e.is_unauthorized() => s.expired(),
                    Err(e) => {
                        saved.set(None);
                        error.set(Some(e.explain()));
                    }
                }
            });
        }
    };

    let add_weekly = {
        let apply = apply.clone();
        move |_| {
            let (a, b) = if whole_day() {
                (0, 1440)
            } else {
                match (parse_hm(&start()), parse_hm(&end())) {
                    (Some(a), Some(0)) => (a, 1440),
                    (Some(a), Some(b)) if a != b => (a, b),
                    _ => {
                        error.set(Some(
                            tr(
                                "開始と終了の時刻を正しく入れてください。",
                                "Enter a start and an end time.",
                            )
                            .into(),
                        ));
                        return;
                    }
                }
            };
            let chosen: Vec<Weekday> = Weekday::ALL
                .iter()
                .zip(days())
                .filter(|(_, on)| *on)
                .map(|(w, _)| *w)
                .collect();
            if chosen.is_empty() {
                error.set(Some(
                    tr("曜日を選んでください。", "Choose the days.").into(),
                ));
                return;
            }
            let mut next = current.peek().clone();
            for w in chosen {
                let window = WeeklyWindow {
                    weekday: w,
                    start_min: a,
                    end_min: b,
                };
                if !next.weekly.contains(&window) {
                    next.weekly.push(window);
                }
            }
            apply(
                next,
                tr_string(
                    format!("{} を追加して保存しました。", window_label(a, b)),
                    format!("Added {} and saved.", window_label(a, b)),
                ),
            );
        }
    };

    let add_exception = {
        let apply = apply.clone();
        move |_| {
            let date = ex_date().trim().to_owned();
            if day_of(&date).is_none() {
                error.set(Some(tr("日付を選んでください。", "Choose a date.").into()));
                return;
            }
            let ex = if ex_open() {
                let (Some(a), Some(b)) = (parse_hm(&ex_start()), parse_hm(&ex_end())) else {
                    error.set(Some(
                        tr(
                            "開始と終了の時刻を正しく入れてください。",
                            "Enter a start and an end time.",
                        )
                        .into(),
                    ));
                    return;
                };
                let b = if b == 0 { 1440 } else { b };
                AvailabilityException {
                    date: date.clone(),
                    kind: ExceptionKind::Open,
                    start_min: Some(a),
                    end_min: Some(b),
                }
            } else {
                AvailabilityException {
                    date: date.clone(),
                    kind: ExceptionKind::Closed,
                    start_min: None,
                    end_min: None,
                }
            };
            let mut next = current.peek().clone();
            next.exceptions.push(ex);
            next.exceptions.sort_by(|x, y| x.date.cmp(&y.date));
            apply(
                next,
                tr_string(
                    format!("{date} を追加して保存しました。"),
                    format!("Added {date} and saved."),
                ),
            );
        }
    };

    let a = current();
    let mut rows: Vec<(usize, Vec<WeeklyWindow>)> = (0..7).map(|i| (i, vec![])).collect();
    for w in &a.weekly {
        let i = Weekday::ALL
            .iter()
            .position(|x| *x == w.weekday)
            .unwrap_or(0);
        rows[i].1.push(*w);
    }
    for (_, list) in rows.iter_mut() {
        list.sort_by_key(|w| w.start_min);
    }
    let today = super::date_string(jst_day(crate::clock::server_now_ms()));
    let mut exceptions: Vec<AvailabilityException> = a.exceptions.clone();
    exceptions.sort_by(|x, y| x.date.cmp(&y.date));
    rsx! {
        div { class: "week-editor",
            h3 { "{space.fields.name}" }
            table { class: "week",
                caption { class: "visually-hidden", {tr("曜日ごとの利用可能時間", "Hours by weekday")} }
                tbody {
                    for (i, list) in rows {
                        tr { key: "{i}", class: if list.is_empty() { "closed" } else { "" },
                            th { scope: "row", "{weekday_short(i)}" }
                            td {
                                if list.is_empty() {
                                    span { class: "muted", {tr("なし", "None")} }
                                }
                                for w in list.clone() {
                                    span { key: "{w.start_min}-{w.end_min}", class: "window",
                                        "{window_label(w.start_min, w.end_min)}"
                                        button {
                                            r#type: "button",
                                            class: "icon remove",
                                            aria_label: tr_string(format!("{} {} を削除", weekday_short(i), window_label(w.start_min, w.end_min)), format!("Remove {} {}", weekday_short(i), window_label(w.start_min, w.end_min))),
                                            onclick: {
                                                let apply = apply.clone();
                                                move |_| {
                                                    let mut next = current.peek().clone();
                                                    next.weekly.retain(|x| *x != w);
                                                    apply(next, tr("削除して保存しました。", "Removed and saved.").into());
                                                }
                                            },
                                            "×"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Said under the week it changed, in sight of the buttons that changed it.
            if let Some(msg) = saved() {
                p { class: "notice", role: "status", "✓ {msg}" }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            fieldset { class: "add-hours",
                legend { {tr("時間を追加", "Add hours")} }
                div { class: "days",
                    for i in 0..7usize {
                        label { key: "{i}", class: if days()[i] { "day on" } else { "day" },
                            input {
                                r#type: "checkbox",
                                checked: days()[i],
                                onchange: move |e| days.with_mut(|d| d[i] = e.checked()),
                            }
                            "{weekday_short(i)}"
                        }
                    }
                }
                div { class: "row",
                    button { r#type: "button", class: "chip", onclick: move |_| days.set([true, true, true, true, true, false, false]), {tr("平日", "Weekdays")} }
                    button { r#type: "button", class: "chip", onclick: move |_| days.set([true; 7]), {tr("毎日", "Every day")} }
                    button { r#type: "button", class: "chip", onclick: move |_| days.set([false; 7]), {tr("クリア", "Clear")} }
                }
                label { class: "check",
                    input { r#type: "checkbox", checked: whole_day(), onchange: move |e| whole_day.set(e.checked()) }
                    {tr("終日（0:00〜24:00）", "All day")}
                }
                if !whole_day() {
                    div { class: "times",
                        label { class: "field",
                            {tr("開始", "From")}
                            input { r#type: "time", name: "hours-start", value: "{start}", oninput: move |e| start.set(e.value()) }
                        }
                        label { class: "field",
                            {tr("終了", "To")}
                            input { r#type: "time", name: "hours-end", value: "{end}", oninput: move |e| end.set(e.value()) }
                        }
                    }
                    if let (Some(a), Some(b)) = (parse_hm(&start()), parse_hm(&end())) {
                        if b != 0 && b <= a {
                            p { class: "hint", {tr_string(format!("日付をまたぎます: {}", window_label(a, b)), format!("Runs past midnight: {}", window_label(a, b)))} }
                        }
                    }
                }
                button { r#type: "button", class: "primary", onclick: add_weekly, {tr("追加", "Add")} }
            }
            fieldset { class: "add-hours exceptions",
                legend { {tr("特定の日（休み・追加の時間）", "Particular dates (closed, extra hours)")} }
                if exceptions.is_empty() {
                    p { class: "muted", {tr("ありません。", "None.")} }
                }
                ul { class: "exception-list",
                    for (n, x) in exceptions.into_iter().enumerate() {
                        li { key: "{n}", class: if x.date < today { "past" } else { "" },
                            span {
                                "{x.date} "
                                if x.kind == ExceptionKind::Closed {
                                    strong { {tr("休み", "Closed")} }
                                } else {
                                    {tr_string(format!("追加 {}", window_label(x.start_min.unwrap_or(0), x.end_min.unwrap_or(1440))), format!("Extra {}", window_label(x.start_min.unwrap_or(0), x.end_min.unwrap_or(1440))))}
                                }
                            }
                            button {
                                r#type: "button",
                                class: "icon remove",
                                aria_label: tr_string(format!("{} を削除", x.date), format!("Remove {}", x.date)),
                                onclick: {
                                    let apply = apply.clone();
                                    let x = x.clone();
                                    move |_| {
                                        let mut next = current.peek().clone();
                                        next.exceptions.retain(|e| *e != x);
                                        apply(next, tr("削除して保存しました。", "Removed and saved.").into());
                                    }
                                },
                                "×"
                            }
                        }
                    }
                }
                div { class: "times",
                    label { class: "field",
                        {tr("日付", "Date")}
                        input { r#type: "date", name: "exception-date", value: "{ex_date}", oninput: move |e| ex_date.set(e.value()) }
                    }
                }
                div { class: "row",
                    label { class: "check",
                        input { r#type: "radio", name: "exception-kind", checked: !ex_open(), onchange: move |_| ex_open.set(false) }
                        {tr("休み", "Closed")}
                    }
                    label { class: "check",
                        input { r#type: "radio", name: "exception-kind", checked: ex_open(), onchange: move |_| ex_open.set(true) }
                        {tr("時間を追加", "Extra hours")}
                    }
                }
                if ex_open() {
                    div { class: "times",
                        label { class: "field",
                            {tr("開始", "From")}
                            input { r#type: "time", value: "{ex_start}", oninput: move |e| ex_start.set(e.value()) }
                        }
                        label { class: "field",
                            {tr("終了", "To")}
                            input { r#type: "time", value: "{ex_end}", oninput: move |e| ex_end.set(e.value()) }
                        }
                    }
                }
                button { r#type: "button", class: "primary", onclick: add_exception, {tr("この日を追加", "Add the date")} }
            }
            p { class: "muted hint", {tr("時刻は日本時間です。終了を 0:00 にすると夜中の 24:00 まで。", "Times are Japan time. An end of 0:00 means midnight.")} }
        }
    }
}
