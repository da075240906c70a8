//! Banners across the top: no connection (or one the server refused), and a new version
//! of the app.

use crate::i18n::{tr, tr_string};
use crate::sync::ConnState;
use crate::ui::session::Session;
use dioxus::prelude::*;
use renraku_sync::ConnRefusal;
use wasm_bindgen::{JsCast, JsValue};

/// 「オフライン」 while the sync connection is down, with how many changes wait to be sent.
#[component]
pub fn OfflineBanner() -> Element {
    let session = use_context::<Session>();
    let status = session.engine.status();
    let _ = session.engine.outbox_revision()();
    let waiting = session.engine.pending_count();
    if let Some(reason) = session.engine.refusal() {
        let engine = session.engine.clone();
        return rsx! {
            div { class: "banner refused", role: "alert",
                span { {tr("サーバーが変更を受け付けませんでした: ", "The server refused a change: ")} "{reason}" }
                button { class: "small", r#type: "button", onclick: move |_| engine.dismiss_refusal(), {tr("閉じる", "Dismiss")} }
            }
        };
    }
    // Shown until the server keeps a connection (not only while the status says so: a
    // refused socket opens for a moment before its close arrives).
    if let Some(refusal) = session.engine.conn_refused()() {
        let text = match refusal {
            ConnRefusal::TooManyConnections { limit } => tr_string(
                format!("開いているタブ・端末が多すぎます（1 人 {limit} まで）。ほかを閉じると自動で接続します。"),
                format!("Renraku is open in too many tabs or devices (at most {limit} per person). Close one elsewhere; this one reconnects by itself."),
            ),
            ConnRefusal::ServerBusy => tr_string(
                "サーバーが混み合っています。書いた内容は端末に保存され、自動で接続し直します。".to_owned(),
                "The server is busy. This app reconnects by itself shortly; what you write is kept on this device.".to_owned(),
            ),
        };
        return rsx! {
            div { class: "banner offline conn-refused", role: "alert",
                span { "{text}" }
                if waiting > 0 {
                    span { class: "waiting",
                        {tr_string(format!("送信待ち {waiting} 件"), format!("{waiting} waiting"))}
                    }
                }
            }
        };
    }
    if status() == ConnState::Online {
        return rsx! {};
    }
    let text = match status() {
        ConnState::Offline => tr(
            "オフラインです。書いた内容は端末に保存され、接続が戻ると送信されます。",
            "You are offline. What you write is kept on this device and sent when the connection returns.",
        ),
        _ => tr("サーバーに接続しています…", "Connecting to the server…"),
    };
    rsx! {
        div { class: "banner offline", role: "status", "aria-live": "polite",
            span { "{text}" }
            if waiting > 0 {
                span { class: "waiting",
                    {tr_string(format!("送信待ち {waiting} 件"), format!("{waiting} waiting"))}
                }
            }
        }
    }
}

/// The service worker's boot script dispatches `renraku:update-available` when a new version
/// is installed, and defines `window.renrakuApplyUpdate()` to switch to it.
#[component]
pub fn UpdateBanner() -> Element {
    // The event may fire before the app listens: boot.js also sets a flag.
    let mut available = use_signal(|| {
        web_sys::window()
            .and_then(|w| {
                js_sys::Reflect::get(&w, &JsValue::from_str("renrakuUpdateAvailable")).ok()
            })
            .is_some_and(|v| v.is_truthy())
    });
    crate::util::use_window_event("renraku:update-available", move || available.set(true));
    if !available() {
        return rsx! {};
    }
    let apply = move |_| {
        let Some(w) = web_sys::window() else { return };
        let f = js_sys::Reflect::get(&w, &JsValue::from_str("renrakuApplyUpdate"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match f {
            Some(f) => {
                let _ = f.call0(&w);
            }
            None => {
                let _ = w.location().reload();
            }
        }
    };
    rsx! {
        div { class: "banner update", role: "status",
            span { {tr("新しいバージョンがあります", "A new version is available")} }
            button { class: "small", r#type: "button", onclick: apply, {tr("再読み込み", "Reload")} }
        }
    }
}
