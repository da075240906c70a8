//! Posts and active users per month by room kind, as two bar charts drawn in inline SVG (a
//! chart library would cost more wasm than the whole screen), each with a table of the same
//! numbers for screen readers and for copying.

use super::Session;
use super::{load, murl, LoadState};
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{Month, RoomKind, Statistics as Stats};
use std::collections::HashMap;

const KINDS: [RoomKind; 3] = [RoomKind::Patient, RoomKind::Project, RoomKind::Message];

fn kind_label(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Patient => tr("患者", "Patients"),
        RoomKind::Project => tr("プロジェクト", "Projects"),
        RoomKind::Message => tr("メッセージ", "Messages"),
    }
}

/// The last `n` months (`YYYY-MM`), oldest first, in Japan time as the server counts them.
/// Months with no posts are missing from the server's answer; the chart shows them as 0.
fn last_months(n: u32) -> Vec<String> {
    let jst = js_sys::Date::now() + 9.0 * 3_600_000.0;
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(jst));
    let (mut y, mut m) = (d.get_utc_full_year() as i32, d.get_utc_month() as i32 + 1);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(format!("{y:04}-{m:02}"));
        m -= 1;
        if m == 0 {
            m = 12;
            y -= 1;
        }
    }
    out.reverse();
    out
}

fn month_label(month: &str) -> String {
    let m = month
        .get(5..)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    tr_string(format!("{m}月"), format!("{m}"))
}

fn month_long(month: &str) -> String {
    let y = month.get(..4).unwrap_or("");
    let m = month
        .get(5..)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    tr_string(format!("{y}年{m}月"), format!("{y}-{m:02}"))
}

/// A round top for the axis and the step between grid lines (1, 2 or 5 × 10ⁿ, ≤ 5 steps).
fn scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for f in [1, 2, 5] {
            let s = step * f;
            if max <= s * 5 {
                let top = max.div_euclid(s) * s + if max % s == 0 { 0 } else { s };
                return (top, s);
            }
        }
        step *= 10;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `series[kind][month]`: stacked (posts add up across kinds) or side by side (a person
/// active in two kinds is one person, so active users do not add up).
struct Chart<'a> {
    id: &'a str,
    title: &'a str,
    unit_ja: &'a str,
    unit_en: &'a str,
    months: &'a [String],
    series: Vec<Vec<i64>>,
    stacked: bool,
}

impl Chart<'_> {
    /// The SVG markup. Built as text rather than with rsx so that every bar can carry an
    /// SVG `<title>` (a tooltip, and a name for assistive technology).
    fn svg(&self) -> String {
        const W: f64 = 360.0;
        const H: f64 = 220.0;
        const LEFT: f64 = 40.0;
        const RIGHT: f64 = 8.0;
        const TOP: f64 = 18.0;
        const BOTTOM: f64 = 30.0;
        let n = self.months.len().max(1);
        let totals: Vec<i64> = (0..n)
            .map(|i| {
                let column = self.series.iter().map(|s| s.get(i).copied().unwrap_or(0));
                if self.stacked {
                    column.sum()
                } else {
                    column.max().unwrap_or(0)
                }
            })
            .collect();
        let (top, step) = scale(totals.iter().copied().max().unwrap_or(0));
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let y_of = |v: i64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
        let slot = plot_w / n as f64;
        let mut out = String::new();
        let sum: i64 = self.series.iter().flatten().sum();
        let desc = tr_string(
            format!(
                "{}から{}までの{}。合計 {sum}{}。",
                month_long(&self.months[0]),
                month_long(&self.months[n - 1]),
                self.title,
                self.unit_ja
            ),
            format!(
                "{} from {} to {}. Total {sum} {}.",
                self.title,
                month_long(&self.months[0]),
                month_long(&self.months[n - 1]),
                self.unit_en
            ),
        );
        out.push_str(&format!(
            r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-t {id}-d" data-chart="{id}"><title id="{id}-t">{t}</title><desc id="{id}-d">{d}</desc>"#,
            id = self.id,
            t = escape(self.title),
            d = escape(&desc),
        ));
        // Grid lines and the value axis.
        let mut v = 0;
        while v <= top {
            let y = y_of(v);
            out.push_str(&format!(
                r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{lx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
                x2 = W - RIGHT,
                lx = LEFT - 6.0,
                ty = y + 4.0,
            ));
            v += step;
        }
        // Months: every one when they fit, else every third.
        let every = if n > 12 { 3 } else { 1 };
        for (i, month) in self.months.iter().enumerate() {
            let x0 = LEFT + slot * i as f64;
            let bar_w = (slot * 0.7).min(40.0);
            let pad = (slot - bar_w) / 2.0;
            let mut stack = 0;
            for (k, kind) in KINDS.iter().enumerate() {
                let value = self.series[k].get(i).copied().unwrap_or(0);
                if value == 0 {
                    continue;
                }
                let (x, w, base) = if self.stacked {
                    (x0 + pad, bar_w, stack)
                } else {
                    let w = bar_w / KINDS.len() as f64;
                    (x0 + pad + w * k as f64, w, 0)
                };
                let (y1, y2) = (y_of(base + value), y_of(base));
                if self.stacked {
                    stack += value;
                }
                let label = tr_string(
                    format!(
                        "{} {}: {value}{}",
                        month_long(month),
                        kind_label(*kind),
                        self.unit_ja
                    ),
                    format!(
                        "{} {}: {value} {}",
                        month_long(month),
                        kind_label(*kind),
                        self.unit_en
                    ),
                );
                out.push_str(&format!(
                    r#"<rect class="bar {kind_class}" x="{x:.1}" y="{y1:.1}" width="{w:.1}" height="{h:.1}" data-month="{month}" data-value="{value}"><title>{label}</title></rect>"#,
                    h = (y2 - y1).max(0.5),
                    kind_class = kind.as_str(),
                    label = escape(&label),
                ));
            }
            // The total over a stacked column, so the number is read without the grid.
            if self.stacked && stack > 0 {
                out.push_str(&format!(
                    r#"<text class="value" x="{cx:.1}" y="{ty:.1}" text-anchor="middle" aria-hidden="true">{stack}</text>"#,
                    cx = x0 + slot / 2.0,
                    ty = y_of(stack) - 4.0,
                ));
            }
            if i % every == 0 || i == n - 1 {
                out.push_str(&format!(
                    r#"<text class="axis" x="{cx:.1}" y="{ty}" text-anchor="middle">{l}</text>"#,
                    cx = x0 + slot / 2.0,
                    ty = H - BOTTOM + 16.0,
                    l = escape(&month_label(month)),
                ));
            }
        }
        out.push_str(&format!(
            r#"<line class="base" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/></svg>"#,
            x2 = W - RIGHT,
            y = TOP + plot_h,
        ));
        out
    }
}

#[component]
pub fn Statistics() -> Element {
    let session = use_context::<Session>();
    let mut months = use_signal(|| 6u32);
    let s = session.clone();
    let stats = use_resource(move || {
        let s = s.clone();
        let n = months();
        async move {
            let url = format!("{}?months={n}", murl(&s.slug, "statistics"));
            load::<Stats>(&s, &url).await.map(|st| (n, st))
        }
    });
    let data = stats.read().clone();
    rsx! {
        div { class: "admin-toolbar",
            div { class: "chips", role: "group", aria_label: tr("期間", "Period"),
                for n in [6u32, 12, 24] {
                    button {
                        r#type: "button",
                        class: if months() == n { "chip on" } else { "chip" },
                        aria_pressed: if months() == n { "true" } else { "false" },
                        onclick: move |_| months.set(n),
                        {tr_string(format!("{n}か月"), format!("{n} months"))}
                    }
                }
            }
        }
        match data {
            None => rsx! { LoadState {} },
            Some(Err(e)) => rsx! { LoadState { error: e } },
            Some(Ok((n, st))) => rsx! { Charts { n, stats: st } },
        }
    }
}

/// A month in the table: label, posts by kind, posts, active users by kind, active users.
type TableRow = (String, Vec<i64>, i64, Vec<i64>, i64);

#[component]
fn Charts(n: u32, stats: Stats) -> Element {
    let months = last_months(n);
    let index: HashMap<&str, usize> = months
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut posts = vec![vec![0i64; months.len()]; KINDS.len()];
    let mut users = vec![vec![0i64; months.len()]; KINDS.len()];
    for row in &stats.by_kind {
        let (Some(&i), Some(k)) = (
            index.get(row.month.as_str()),
            KINDS.iter().position(|k| *k == row.kind),
        ) else {
            continue;
        };
        posts[k][i] = row.posts;
        users[k][i] = row.active_users;
    }
    let totals: HashMap<&str, &Month> =
        stats.months.iter().map(|m| (m.month.as_str(), m)).collect();
    let posts_title = tr(
        "月ごとの投稿数（ルームの種類別）",
        "Posts per month by room kind",
    );
    let users_title = tr(
        "月ごとのアクティブユーザー数（ルームの種類別）",
        "Active users per month by room kind",
    );
    let posts_svg = Chart {
        id: "chart-posts",
        title: posts_title,
        unit_ja: "件",
        unit_en: "posts",
        months: &months,
        series: posts.clone(),
        stacked: true,
    }
    .svg();
    let users_svg = Chart {
        id: "chart-users",
        title: users_title,
        unit_ja: "人",
        unit_en: "people",
        months: &months,
        series: users.clone(),
        stacked: false,
    }
    .svg();
    let rows: Vec<TableRow> = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let total = totals.get(m.as_str());
            (
                month_long(m),
                posts.iter().map(|s| s[i]).collect(),
                total.map_or(0, |t| t.posts),
                users.iter().map(|s| s[i]).collect(),
                total.map_or(0, |t| t.active_users),
            )
        })
        .collect();
    rsx! {
        section { class: "card chart-card", aria_labelledby: "posts-h",
            h2 { id: "posts-h", "{posts_title}" }
            div { class: "chart-box", dangerous_inner_html: "{posts_svg}" }
            Legend {}
        }
        section { class: "card chart-card", aria_labelledby: "users-h",
            h2 { id: "users-h", "{users_title}" }
            div { class: "chart-box", dangerous_inner_html: "{users_svg}" }
            Legend {}
            p { class: "muted small-note",
                {tr(
                    "アクティブユーザーは、その月に投稿した人の数です。複数の種類のルームに投稿した人は、それぞれに数えます。",
                    "Active users are the people who posted that month; someone who posted in two kinds of room counts in both.",
                )}
            }
        }
        details { class: "card",
            summary { {tr("数値を表で見る", "Show the numbers as a table")} }
            div { class: "table-scroll",
                table { class: "stats-table",
                    caption { class: "visually-hidden", {tr("月ごとの投稿数とアクティブユーザー数", "Posts and active users per month")} }
                    thead {
                        tr {
                            th { scope: "col", {tr("月", "Month")} }
                            for k in KINDS {
                                th { scope: "col", {tr_string(format!("投稿・{}", kind_label(k)), format!("Posts, {}", kind_label(k)))} }
                            }
                            th { scope: "col", {tr("投稿 計", "Posts total")} }
                            for k in KINDS {
                                th { scope: "col", {tr_string(format!("利用者・{}", kind_label(k)), format!("Users, {}", kind_label(k)))} }
                            }
                            th { scope: "col", {tr("利用者 計", "Users total")} }
                        }
                    }
                    tbody {
                        for (label, p, pt, u, ut) in rows {
                            tr { key: "{label}",
                                th { scope: "row", "{label}" }
                                for (i, v) in p.into_iter().enumerate() {
                                    td { key: "p{i}", "{v}" }
                                }
                                td { "{pt}" }
                                for (i, v) in u.into_iter().enumerate() {
                                    td { key: "u{i}", "{v}" }
                                }
                                td { "{ut}" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn Legend() -> Element {
    rsx! {
        ul { class: "legend", aria_hidden: "true",
            for k in KINDS {
                li { key: "{k.as_str()}", span { class: "swatch {k.as_str()}" } "{kind_label(k)}" }
            }
        }
    }
}
