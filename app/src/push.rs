//! Notification settings (issue 4): turn push on for this device (the permission prompt only
//! after a tap), quiet hours, "show details on the lock screen", and per-room mute. The
//! server decides who gets a push; this only subscribes the device and edits the settings.

use crate::api;
use crate::i18n::tr;
use dioxus::prelude::*;
use renraku_contract::{Mute, PushStatus, VapidKey};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `GET/POST /api/push/settings` (server/src/http/push.rs).
pub use renraku_contract::PushSettings;
use renraku_sync::RoomId;

/// Whether this browser can receive web push at all (iOS: only as an installed app).
fn push_supported() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let has = |target: &JsValue, name: &str| {
        js_sys::Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false)
    };
    has(&window, "Notification")
        && has(&window, "PushManager")
        && has(&window.navigator(), "serviceWorker")
}

fn permission() -> web_sys::NotificationPermission {
    web_sys::Notification::permission()
}

fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{e:?}"))
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

async fn registration() -> Result<web_sys::ServiceWorkerRegistration, String> {
    let window = web_sys::window().ok_or("no window")?;
    let ready = window
        .navigator()
        .service_worker()
        .ready()
        .map_err(js_error)?;
    JsFuture::from(ready)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| "no service worker registration".to_owned())
}

/// Asks for permission (must run from a tap), subscribes with the server's VAPID key, and
/// hands the subscription to the server.
async fn subscribe_device() -> Result<(), String> {
    let asked = web_sys::Notification::request_permission().map_err(js_error)?;
    let answer = JsFuture::from(asked).await.map_err(js_error)?;
    if answer.as_string().as_deref() != Some("granted") {
        return Err(tr(
            "通知が許可されませんでした。ブラウザの設定で許可してください。",
            "Notifications were not allowed. Allow them in the browser's settings.",
        )
        .into());
    }
    let key: VapidKey = api::get("/api/push/vapid-key")
        .await
        .map_err(|e| e.message())?;
    let key = base64url_decode(&key.public_key).ok_or("bad server key")?;
    let registration = registration().await?;
    let options = web_sys::PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&js_sys::Uint8Array::from(key.as_slice()).into());
    let manager = registration.push_manager().map_err(js_error)?;
    let subscribing = manager.subscribe_with_options(&options).map_err(js_error)?;
    let subscription: web_sys::PushSubscription = JsFuture::from(subscribing)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| "no subscription".to_owned())?;
    let json = subscription.to_json().map_err(js_error)?;
    let text = js_sys::JSON::stringify(&json)
        .map_err(js_error)?
        .as_string()
        .ok_or("unserializable subscription")?;
    let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    api::post::<_, ()>("/api/push/subscription", &body)
        .await
        .map_err(|e| e.message())
}

/// Drops this device's subscription in the browser and on the server.
async fn unsubscribe_device() -> Result<(), String> {
    if let Ok(registration) = registration().await {
        if let Ok(manager) = registration.push_manager() {
            if let Ok(promise) = manager.get_subscription() {
                if let Ok(found) = JsFuture::from(promise).await {
                    if let Ok(subscription) = found.dyn_into::<web_sys::PushSubscription>() {
                        if let Ok(p) = subscription.unsubscribe() {
                            let _ = JsFuture::from(p).await;
                        }
                    }
                }
            }
        }
    }
    delete("/api/push/subscription").await
}

/// `DELETE url` with the session cookie and the CSRF header (`api` has no DELETE helper).
async fn delete(url: &str) -> Result<(), String> {
    let headers = web_sys::Headers::new().map_err(js_error)?;
    headers.set("x-renraku-csrf", "1").map_err(js_error)?;
    let init = web_sys::RequestInit::new();
    init.set_method("DELETE");
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| api::ApiError::Offline.message())?
        .dyn_into()
        .map_err(|_| api::ApiError::Unexpected.message())?;
    if response.ok() {
        Ok(())
    } else {
        Err(api::ApiError::Status {
            status: response.status(),
            code: None,
            detail: None,
            factors: Vec::new(),
        }
        .message())
    }
}

async fn save(settings: &PushSettings) -> Result<PushStatus, String> {
    api::post("/api/push/settings", settings)
        .await
        .map_err(|e| e.message())
}

/// `HH:MM` for minutes after midnight.
fn hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn parse_hhmm(text: &str) -> Option<i64> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// The notification section of the settings screen.
#[component]
pub fn NotificationSettings() -> Element {
    let mut status = use_signal(|| None::<PushStatus>);
    let mut message = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    use_future(move || async move {
        match api::get::<PushStatus>("/api/push/settings").await {
            Ok(s) => status.set(Some(s)),
            Err(e) => message.set(Some(e.message())),
        }
    });
    let supported = push_supported();
    let apply = move |next: PushSettings| {
        spawn(async move {
            busy.set(true);
            match save(&next).await {
                Ok(s) => {
                    status.set(Some(s));
                    message.set(None);
                }
                Err(e) => message.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let current = status.read().clone();
    rsx! {
        crate::ui::settings::Section { title: tr("通知", "Notifications").to_owned(),
            if !supported {
                p { class: "hint",
                    {tr("この端末のブラウザはプッシュ通知に対応していません。iPhone ではホーム画面に追加したアプリから設定してください。",
                        "This browser cannot receive push notifications. On iPhone, use the app added to the home screen.")}
                }
            }
            if let Some(s) = current {
                div { class: "setting-row",
                    span { {tr("この端末に通知する", "Notify this device")} }
                    if s.subscribed && s.settings.enabled {
                        button {
                            class: "toggle on",
                            disabled: busy(),
                            onclick: move |_| {
                                spawn(async move {
                                    busy.set(true);
                                    if let Err(e) = unsubscribe_device().await {
                                        message.set(Some(e));
                                    }
                                    if let Ok(s) = api::get::<PushStatus>("/api/push/settings").await {
                                        status.set(Some(s));
                                    }
                                    busy.set(false);
                                });
                            },
                            {tr("オン", "On")}
                        }
                    } else {
                        button {
                            class: "toggle off",
                            disabled: busy() || !supported || permission() == web_sys::NotificationPermission::Denied,
                            // The browser's permission prompt appears only after this tap.
                            onclick: move |_| {
                                let settings = status.read().as_ref().map(|s| s.settings.clone());
                                spawn(async move {
                                    busy.set(true);
                                    match subscribe_device().await {
                                        Ok(()) => {
                                            if let Some(mut settings) = settings {
                                                settings.enabled = true;
                                                match save(&settings).await {
                                                    Ok(s) => status.set(Some(s)),
                                                    Err(e) => message.set(Some(e)),
                                                }
                                            }
                                            message.set(None);
                                        }
                                        Err(e) => message.set(Some(e)),
                                    }
                                    busy.set(false);
                                });
                            },
                            {tr("オフ", "Off")}
                        }
                    }
                }
                if supported && permission() == web_sys::NotificationPermission::Denied {
                    p { class: "hint",
                        {tr("通知がブラウザでブロックされています。サイトの設定から許可してください。",
                            "Notifications are blocked in the browser. Allow them in the site settings.")}
                    }
                }
                label { class: "setting-row",
                    span {
                        {tr("ロック画面に内容を表示する", "Show details on the lock screen")}
                        small { class: "hint",
                            {tr("オフのときは「新しい投稿があります」とだけ表示し、患者名や本文は表示しません。",
                                "When off, only \u{300c}新しい投稿があります\u{300d} is shown: never a patient's name or the text.")}
                        }
                    }
                    input {
                        r#type: "checkbox",
                        checked: s.settings.show_details,
                        disabled: busy(),
                        onchange: {
                            let settings = s.settings.clone();
                            move |e: Event<FormData>| {
                                let mut next = settings.clone();
                                next.show_details = e.checked();
                                apply(next);
                            }
                        },
                    }
                }
                QuietHours { settings: s.settings.clone(), busy: busy(), on_change: apply }
                crate::ui::ack::UrgentInQuiet { settings: s.settings.clone(), busy: busy(), on_change: apply }
            } else if message.read().is_none() {
                p { class: "hint", {tr("読み込み中…", "Loading…")} }
            }
            if let Some(m) = message() {
                p { class: "error", role: "alert", "{m}" }
            }
        }
    }
}

#[component]
fn QuietHours(
    settings: PushSettings,
    busy: bool,
    on_change: EventHandler<PushSettings>,
) -> Element {
    let on = settings.quiet_start.is_some();
    let start = hhmm(settings.quiet_start.unwrap_or(22 * 60));
    let end = hhmm(settings.quiet_end.unwrap_or(7 * 60));
    let toggle = {
        let settings = settings.clone();
        move |e: Event<FormData>| {
            let mut next = settings.clone();
            if e.checked() {
                next.quiet_start = Some(22 * 60);
                next.quiet_end = Some(7 * 60);
            } else {
                next.quiet_start = None;
                next.quiet_end = None;
            }
            on_change.call(next);
        }
    };
    let set_start = {
        let settings = settings.clone();
        move |e: Event<FormData>| {
            if let Some(m) = parse_hhmm(&e.value()) {
                let mut next = settings.clone();
                next.quiet_start = Some(m);
                on_change.call(next);
            }
        }
    };
    let set_end = {
        let settings = settings.clone();
        move |e: Event<FormData>| {
            if let Some(m) = parse_hhmm(&e.value()) {
                let mut next = settings.clone();
                next.quiet_end = Some(m);
                on_change.call(next);
            }
        }
    };
    rsx! {
        label { class: "setting-row",
            span { {tr("通知しない時間帯", "Quiet hours")} }
            input { r#type: "checkbox", checked: on, disabled: busy, onchange: toggle }
        }
        if on {
            div { class: "setting-row quiet-hours",
                input { r#type: "time", value: "{start}", disabled: busy, onchange: set_start,
                    aria_label: tr("開始", "From") }
                span { "〜" }
                input { r#type: "time", value: "{end}", disabled: busy, onchange: set_end,
                    aria_label: tr("終了", "Until") }
            }
        }
    }
}

/// A bell in a room's header: mute or unmute this room's notifications.
#[component]
pub fn RoomMuteToggle(room: i64) -> Element {
    let mut muted = use_signal(|| None::<bool>);
    use_future(move || async move {
        if let Ok(s) = api::get::<PushStatus>("/api/push/settings").await {
            muted.set(Some(s.settings.muted_rooms.contains(&RoomId::new(room))));
        }
    });
    let Some(is_muted) = muted() else {
        return rsx! {};
    };
    rsx! {
        button {
            class: "icon-button room-mute",
            title: if is_muted { tr("この部屋の通知をオンにする", "Unmute this room") } else { tr("この部屋の通知をオフにする", "Mute this room") },
            aria_pressed: "{is_muted}",
            onclick: move |_| {
                spawn(async move {
                    let next = !is_muted;
                    let url = format!("/api/push/rooms/{room}/mute");
                    if api::post::<_, ()>(&url, &Mute { muted: next }).await.is_ok() {
                        muted.set(Some(next));
                    }
                });
            },
            if is_muted { "🔕" } else { "🔔" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_vapid_key_and_reads_times() {
        assert_eq!(
            base64url_decode("AQID_-8").unwrap(),
            vec![1, 2, 3, 255, 239]
        );
        assert_eq!(parse_hhmm("22:30"), Some(1350));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(hhmm(420), "07:00");
    }
}
