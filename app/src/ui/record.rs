//! Taking a patient's record to one's own chart (issue 18): from a patient room, a period
//! and a format — the text shown ready to copy into a care or medical record, a CSV file for
//! Excel, a PDF to print or file, or a FHIR R4 Bundle (JSON) for an electronic health record
//! — and "copy this thread" in a post's menu. The server makes them all
//! (`GET /api/rooms/{room}/record`, audited); nothing of it is kept on the device.

use crate::api;
use crate::i18n::tr;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_sync::{PostId, RoomId};
use wasm_bindgen_futures::JsFuture;

const DAY_MS: f64 = 86_400_000.0;

fn record_url(room: RoomId, format: &str, from: i64, to: i64) -> String {
    format!("/api/rooms/{room}/record?format={format}&from={from}&to={to}")
}

/// Start of the local day `ms` falls in.
fn day_start(ms: f64) -> f64 {
    let d = js_sys::Date::new(&ms.into());
    d.set_hours(0);
    d.set_minutes(0);
    d.set_seconds(0);
    d.set_milliseconds(0);
    d.get_time()
}

/// `YYYY-MM-DD` (local) for a date input.
fn date_input(ms: f64) -> String {
    let d = js_sys::Date::new(&ms.into());
    format!(
        "{:04}-{:02}-{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date()
    )
}

/// A date input's value as the start of that local day.
fn parse_date(text: &str) -> Option<f64> {
    let mut parts = text.split('-').map(|p| p.parse::<u32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let date = js_sys::Date::new_with_year_month_day(y, m as i32 - 1, d as i32);
    let t = date.get_time();
    (!t.is_nan()).then_some(t)
}

/// Puts `text` on the clipboard.
async fn copy(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let clipboard = window.navigator().clipboard();
    JsFuture::from(clipboard.write_text(text)).await.is_ok()
}

/// The export sheet of a patient room.
#[component]
pub fn RecordSheet(room: RoomId, on_close: EventHandler<()>) -> Element {
    let now = js_sys::Date::now();
    let mut from = use_signal(move || date_input(now - 30.0 * DAY_MS));
    let mut to = use_signal(move || date_input(now));
    let mut shown = use_signal(|| None::<String>);
    let mut message = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    // The period in unix ms: from the first day's start to the last day's end.
    let period = move || -> Option<(i64, i64)> {
        let f = parse_date(&from())?;
        let t = parse_date(&to())? + DAY_MS - 1.0;
        (f <= t).then_some((f as i64, t as i64))
    };
    let mut preset = move |days: f64| {
        let now = js_sys::Date::now();
        from.set(date_input(day_start(now) - (days - 1.0) * DAY_MS));
        to.set(date_input(now));
    };
    // The period, or `None` with the reason on the sheet.
    let mut checked = move || {
        let found = period();
        if found.is_none() {
            message.set(Some(
                tr("期間が正しくありません。", "The period is not valid.").to_owned(),
            ));
        }
        found
    };
    let show_text = move |_| {
        let Some((f, t)) = checked() else {
            return;
        };
        spawn(async move {
            busy.set(true);
            match api::request("GET", &record_url(room, "text", f, t), None).await {
                Ok(text) => {
                    shown.set(Some(text));
                    message.set(None);
                }
                Err(e) => message.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    // Saved through `api::download`, so a refusal is a message here, not a file of JSON.
    let mut save = move |format: &'static str| {
        let Some((f, t)) = checked() else {
            return;
        };
        spawn(async move {
            busy.set(true);
            match api::download(&record_url(room, format, f, t)).await {
                Ok(()) => message.set(None),
                Err(e) => message.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    rsx! {
        Sheet { title: tr("記録を出力", "Export the record").to_owned(), on_close,
            div { class: "record-export",
                p { class: "hint",
                    {tr("期間の投稿を、カルテや支援経過記録に貼り付けられる形で出力します。出力は監査ログに記録されます。",
                        "Exports the period's posts for a medical or care record. Every export is audited.")}
                }
                div { class: "chips", role: "group", aria_label: tr("期間", "Period"),
                    button { class: "chip", r#type: "button", onclick: move |_| preset(7.0), {tr("過去 7 日", "Last 7 days")} }
                    button { class: "chip", r#type: "button", onclick: move |_| preset(30.0), {tr("過去 30 日", "Last 30 days")} }
                    button { class: "chip", r#type: "button", onclick: move |_| preset(90.0), {tr("過去 90 日", "Last 90 days")} }
                }
                div { class: "two",
                    label { class: "admin-field",
                        span { {tr("開始日", "From")} }
                        input { r#type: "date", value: "{from}", oninput: move |e| from.set(e.value()) }
                    }
                    label { class: "admin-field",
                        span { {tr("終了日", "To")} }
                        input { r#type: "date", value: "{to}", oninput: move |e| to.set(e.value()) }
                    }
                }
                div { class: "row",
                    button { class: "primary", r#type: "button", disabled: busy(), onclick: show_text,
                        {tr("テキストで表示", "Show as text")}
                    }
                }
                div { class: "row record-files", role: "group", aria_label: tr("ファイルで保存", "Save as a file"),
                    button { class: "secondary", r#type: "button", disabled: busy(), onclick: move |_| save("csv"),
                        {tr("CSV (Excel)", "CSV (Excel)")}
                    }
                    button { class: "secondary", r#type: "button", disabled: busy(), onclick: move |_| save("pdf"),
                        {tr("PDF (印刷用)", "PDF (to print)")}
                    }
                    // For an electronic health record that reads FHIR R4 (docs/fhir-export.md).
                    button {
                        class: "secondary",
                        r#type: "button",
                        disabled: busy(),
                        onclick: move |_| save("fhir"),
                        title: tr("電子カルテなど FHIR R4 に対応したシステム向け", "For systems that read FHIR R4, such as an EHR"),
                        {tr("FHIR (JSON)", "FHIR (JSON)")}
                    }
                }
                if let Some(m) = message() {
                    p { class: "error", role: "alert", "{m}" }
                }
                if let Some(text) = shown() {
                    label { class: "visually-hidden", r#for: "record-text", {tr("出力したテキスト", "Exported text")} }
                    textarea { id: "record-text", class: "record-text", readonly: true, rows: "12", value: "{text}" }
                    button {
                        class: "secondary",
                        r#type: "button",
                        onclick: move |_| {
                            let text = text.clone();
                            spawn(async move {
                                let ok = copy(&text).await;
                                message.set(Some(if ok { tr("コピーしました。", "Copied.") } else { tr("コピーできませんでした。", "Could not copy.") }.to_owned()));
                            });
                        },
                        {tr("コピー", "Copy")}
                    }
                }
            }
        }
    }
}

/// Copies one thread as text (the post menu's 「このスレッドをコピー」); the outcome in words.
pub async fn copy_thread(room: RoomId, thread: &PostId) -> String {
    let url = format!("/api/rooms/{room}/record?format=text&thread={thread}");
    match api::request("GET", &url, None).await {
        Ok(text) if copy(&text).await => {
            tr("スレッドをコピーしました。", "Thread copied.").to_owned()
        }
        Ok(_) => tr("コピーできませんでした。", "Could not copy.").to_owned(),
        Err(e) => e.message(),
    }
}
