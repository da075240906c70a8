//! 利用統計: bookings (not cancelled) per space per month. A bar chart drawn here as SVG —
//! one month at a time, one bar per space, horizontal so Japanese names fit on a phone —
//! with its axes labelled and read out as a whole (`role="img"` and a summary), and
//! the same numbers as a table, every month side by side.

use super::City;
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{SpaceId, SpaceMonth};

/// Bar chart geometry (SVG user units; the SVG scales to its box).
const WIDTH: f64 = 600.0;
const LABEL_W: f64 = 210.0;
const BAR_H: f64 = 26.0;
const GAP: f64 = 10.0;
const TOP: f64 = 8.0;
const AXIS_H: f64 = 48.0;
const RIGHT: f64 = 40.0;

/// A "nice" top of the scale and its step: 1, 2, 5 × 10ⁿ.
fn scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            let s = step * m;
            let n = (max + s - 1) / s;
            if n <= 5 {
                return (n * s, s);
            }
        }
        step *= 10;
    }
}

fn month_label(month: &str) -> String {
    match month.split_once('-') {
        Some((y, m)) => tr_string(
            format!("{y}年{}月", m.trim_start_matches('0')),
            format!("{y}-{m}"),
        ),
        None => month.to_owned(),
    }
}

#[component]
pub(super) fn StatisticsSection() -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let mut rows = use_signal(|| None::<Vec<SpaceMonth>>);
    let mut error = use_signal(|| None::<String>);
    let mut month = use_signal(|| None::<String>);
    use_effect(move || {
        let s = session.clone();
        spawn(async move {
            match api::get::<Vec<SpaceMonth>>(&city.url("/statistics")).await {
                Ok(l) => rows.set(Some(l)),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    let Some(data) = rows() else {
        return rsx! {
            section { class: "parking-section",
                h2 { {tr("利用統計", "Statistics")} }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                } else {
                    p { class: "muted", {tr("読み込み中…", "Loading…")} }
                }
            }
        };
    };
    // Months, newest last; the spaces: every registered one (none booked shows as 0).
    let mut months: Vec<String> = data.iter().map(|r| r.month.clone()).collect();
    months.sort();
    months.dedup();
    let this_month = {
        let day = super::jst_day(crate::clock::server_now_ms());
        let (y, m, _) = super::civil(day);
        format!("{y:04}-{m:02}")
    };
    if !months.contains(&this_month) {
        months.push(this_month.clone());
        months.sort();
    }
    let chosen = month().filter(|m| months.contains(m)).unwrap_or(this_month);
    let mut spaces: Vec<(SpaceId, String)> = city
        .spaces
        .read()
        .iter()
        .flatten()
        .map(|s| (s.id, s.fields.name.clone()))
        .collect();
    for r in &data {
        if !spaces.iter().any(|(id, _)| *id == r.space) {
            spaces.push((r.space, r.space_name.clone()));
        }
    }
    let count = |space: SpaceId, month: &str| {
        data.iter()
            .find(|r| r.space == space && r.month == month)
            .map_or(0, |r| r.bookings)
    };
    let bars: Vec<(String, i64)> = spaces
        .iter()
        .map(|(id, name)| (name.clone(), count(*id, &chosen)))
        .collect();
    let total: i64 = bars.iter().map(|(_, n)| n).sum();
    let (top, step) = scale(bars.iter().map(|(_, n)| *n).max().unwrap_or(0));
    let plot_w = WIDTH - LABEL_W - RIGHT;
    let height = TOP + bars.len() as f64 * (BAR_H + GAP) + AXIS_H;
    let x_of = move |n: i64| LABEL_W + plot_w * n as f64 / top as f64;
    let ticks: Vec<i64> = (0..=top / step).map(|i| i * step).collect();
    let axis_y = TOP + bars.len() as f64 * (BAR_H + GAP);
    let chosen_label = month_label(&chosen);
    let summary = tr_string(
        format!("{chosen_label}の予約件数（駐車場ごと）。合計 {total} 件。"),
        format!("Bookings per space in {chosen_label}. {total} in all."),
    );
    rsx! {
        section { class: "parking-section statistics",
            h2 { {tr("利用統計", "Statistics")} }
            p { class: "muted", {tr("駐車場ごと・月ごとの予約件数（取り消された予約は数えません）。", "Bookings per space per month (cancelled ones not counted).")} }
            div { class: "row months", role: "group", aria_label: tr("月", "Month"),
                for m in months.iter().cloned() {
                    button {
                        key: "{m}",
                        r#type: "button",
                        class: if m == chosen { "chip on" } else { "chip" },
                        aria_pressed: if m == chosen { "true" } else { "false" },
                        onclick: {
                            let m = m.clone();
                            move |_| month.set(Some(m.clone()))
                        },
                        "{month_label(&m)}"
                    }
                }
            }
            figure { class: "chart",
                svg {
                    role: "img",
                    "aria-label": "{summary}",
                    view_box: "0 0 {WIDTH} {height}",
                    width: "100%",
                    preserve_aspect_ratio: "xMinYMin meet",
                    // Grid and the value axis.
                    for t in ticks.iter().copied() {
                        g { key: "{t}",
                            line { class: "grid", x1: "{x_of(t)}", x2: "{x_of(t)}", y1: "{TOP}", y2: "{axis_y}" }
                            text { class: "tick", x: "{x_of(t)}", y: "{axis_y + 16.0}", text_anchor: "middle", "{t}" }
                        }
                    }
                    line { class: "axis", x1: "{LABEL_W}", x2: "{LABEL_W}", y1: "{TOP}", y2: "{axis_y}" }
                    line { class: "axis", x1: "{LABEL_W}", x2: "{WIDTH - RIGHT}", y1: "{axis_y}", y2: "{axis_y}" }
                    text { class: "axis-title", x: "{LABEL_W + plot_w / 2.0}", y: "{axis_y + 40.0}", text_anchor: "middle", {tr("予約件数（件）", "Bookings")} }
                    for (i, (name, n)) in bars.iter().enumerate() {
                        g { key: "{i}", class: "bar-row",
                            text { class: "bar-label", x: "{LABEL_W - 8.0}", y: "{TOP + i as f64 * (BAR_H + GAP) + BAR_H / 2.0 + 5.0}", text_anchor: "end",
                                {if name.chars().count() > 12 { format!("{}…", name.chars().take(11).collect::<String>()) } else { name.clone() }}
                            }
                            rect {
                                class: "bar",
                                x: "{LABEL_W}",
                                y: "{TOP + i as f64 * (BAR_H + GAP)}",
                                width: "{(x_of(*n) - LABEL_W).max(0.0)}",
                                height: "{BAR_H}",
                            }
                            text { class: "bar-value", x: "{x_of(*n) + 6.0}", y: "{TOP + i as f64 * (BAR_H + GAP) + BAR_H / 2.0 + 5.0}", "{n}" }
                        }
                    }
                }
                figcaption { class: "muted", "{summary}" }
            }
            details { class: "chart-table",
                summary { {tr("表で見る（すべての月）", "As a table (every month)")} }
                div { class: "table-scroll",
                    table {
                        caption { class: "visually-hidden", {tr("駐車場ごと・月ごとの予約件数", "Bookings per space per month")} }
                        thead {
                            tr {
                                th { scope: "col", {tr("駐車場", "Space")} }
                                for m in months.iter() {
                                    th { key: "{m}", scope: "col", "{month_label(m)}" }
                                }
                            }
                        }
                        tbody {
                            for (id, name) in spaces.iter() {
                                tr { key: "{id}",
                                    th { scope: "row", "{name}" }
                                    for m in months.iter() {
                                        td { key: "{m}", "{count(*id, m)}" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scale;

    #[test]
    fn the_scale_is_round() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(3), (3, 1));
        assert_eq!(scale(7), (8, 2));
        assert_eq!(scale(12), (15, 5));
        assert_eq!(scale(48), (50, 10));
    }
}
