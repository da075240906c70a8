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

/// What turning notifications on is waiting for, said under the switch while it waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Permission,
    Subscribing,
    Saving,
}

impl Step {
    fn text(self) -> &'static str {
        match self {
            Step::Permission => tr(
                "ブラウザの確認を待っています。画面に出た通知の許可に答えてください。",
                "Waiting for the browser: answer its question about notifications.",
            ),
            Step::Subscribing => tr(
                "この端末を通知先として登録しています…",
                "Registering this device for notifications…",
            ),
            Step::Saving => tr("設定を保存しています…", "Saving the setting…"),
        }
    }
}

/// Asks for permission (must run from a tap), subscribes with the server's VAPID key, and
/// hands the subscription to the server.
async fn subscribe_device(mut step: Signal<Option<Step>>) -> Result<(), String> {
    step.set(Some(Step::Permission));
    let asked = web_sys::Notification::request_permission().map_err(js_error)?;
    let answer = JsFuture::from(asked).await.map_err(js_error)?;
    if answer.as_string().as_deref() != Some("granted") {
        return Err(tr(
            "通知が許可されませんでした。ブラウザの設定で許可してください。",
            "Notifications were not allowed. Allow them in the browser's settings.",
        )
        .into());
    }
    step.set(Some(Step::Subscribing));
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
    step.set(Some(Step::Saving));
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

pub const SETTINGS_URL: &str = "/api/push/settings";

/// Saves the settings and keeps the answer for offline screens.
async fn save(store: &crate::store::Store, settings: &PushSettings) -> Result<PushStatus, String> {
    let status: PushStatus = api::post(SETTINGS_URL, settings)
        .await
        .map_err(|e| e.message())?;
    if let Ok(body) = serde_json::to_string(&status) {
        store.put_cache(SETTINGS_URL, &body).await;
    }
    Ok(status)
}

/// The settings as the server has them, or as this device kept them when offline.
async fn load(store: &crate::store::Store) -> api::ApiResult<PushStatus> {
    api::cached_get::<PushStatus>(store, SETTINGS_URL).await
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

/// A labelled switch with a hint under its label: the look of every on/off setting.
#[component]
pub fn Switch(
    label: String,
    hint: Option<String>,
    on: bool,
    disabled: bool,
    on_change: EventHandler<bool>,
) -> Element {
    let id = use_hook(|| format!("switch-{}", crate::util::random_u64()));
    let hint_id = format!("{id}-hint");
    let label_id = format!("{id}-label");
    rsx! {
        div { class: "setting-row",
            label { class: "setting-text", r#for: "{id}",
                span { class: "setting-label", id: "{label_id}", "{label}" }
                if let Some(h) = &hint {
                    small { class: "hint", id: "{hint_id}", "{h}" }
                }
            }
            input {
                id: "{id}",
                class: "switch",
                r#type: "checkbox",
                role: "switch",
                aria_labelledby: "{label_id}",
                aria_describedby: if hint.is_some() { hint_id.clone() } else { String::new() },
                checked: on,
                disabled,
                onchange: move |e: Event<FormData>| on_change.call(e.checked()),
            }
        }
    }
}

/// The notification section of the settings screen.
#[component]
pub fn NotificationSettings() -> Element {
    let session = use_context::<crate::ui::session::Session>();
    let store = session.store.clone();
    let mut status = use_signal(|| None::<PushStatus>);
    let mut message = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut step = use_signal(|| None::<Step>);
    let mut offline = use_signal(|| false);
    let loading = store.clone();
    use_future(move || {
        let store = loading.clone();
        async move {
            if let Some(kept) = api::cached_only::<PushStatus>(&store, SETTINGS_URL).await {
                status.set(Some(kept));
            }
            match load(&store).await {
                Ok(s) => {
                    status.set(Some(s));
                    offline.set(false);
                }
                Err(api::ApiError::Offline) => offline.set(true),
                Err(e) => message.set(Some(e.message())),
            }
        }
    });
    let supported = push_supported();
    let saving = store.clone();
    // A `Callback` is `Copy`: every switch below gets the same one.
    let apply = use_callback(move |next: PushSettings| {
        let store = saving.clone();
        spawn(async move {
            busy.set(true);
            match save(&store, &next).await {
                Ok(s) => {
                    status.set(Some(s));
                    message.set(None);
                }
                Err(e) => message.set(Some(e)),
            }
            busy.set(false);
        });
    });
    let current = status.read().clone();
    let blocked = supported && permission() == web_sys::NotificationPermission::Denied;
    let device_hint = if !supported {
        tr("この端末のブラウザはプッシュ通知に対応していません。iPhone ではホーム画面に追加したアプリから設定してください。",
            "This browser cannot receive push notifications. On iPhone, use the app added to the home screen.")
    } else if blocked {
        tr(
            "通知がブラウザでブロックされています。サイトの設定から許可してください。",
            "Notifications are blocked in the browser. Allow them in the site settings.",
        )
    } else {
        tr(
            "新しい投稿や確認のお願いを、この端末に通知します。",
            "Tells this device about new posts and requests to acknowledge.",
        )
    };
    let toggle_device = {
        let store = store.clone();
        move |want: bool| {
            let settings = status.read().as_ref().map(|s| s.settings.clone());
            let store = store.clone();
            spawn(async move {
                busy.set(true);
                if want {
                    match subscribe_device(step).await {
                        Ok(()) => {
                            if let Some(mut settings) = settings {
                                settings.enabled = true;
                                match save(&store, &settings).await {
                                    Ok(s) => status.set(Some(s)),
                                    Err(e) => message.set(Some(e)),
                                }
                            }
                            message.set(None);
                        }
                        Err(e) => message.set(Some(e)),
                    }
                } else {
                    if let Err(e) = unsubscribe_device().await {
                        message.set(Some(e));
                    }
                    if let Ok(s) = load(&store).await {
                        status.set(Some(s));
                    }
                }
                step.set(None);
                busy.set(false);
            });
        }
    };
    // Offline, the kept settings show but cannot change.
    let locked = busy() || offline();
    rsx! {
        crate::ui::settings::Section { title: tr("通知", "Notifications").to_owned(),
            if offline() {
                p { class: "hint", role: "status",
                    {tr("オフラインです。通知の設定はオンラインのときに変更できます。", "Offline: notification settings can be changed when online.")}
                }
            }
            if let Some(s) = current {
                Switch {
                    label: tr("この端末に通知する", "Notify this device").to_owned(),
                    hint: Some(device_hint.to_owned()),
                    on: s.subscribed && s.settings.enabled,
                    disabled: locked || !supported || blocked && !(s.subscribed && s.settings.enabled),
                    on_change: toggle_device,
                }
                if let Some(st) = step() {
                    p { class: "notice waiting", role: "status", "{st.text()}" }
                }
                Switch {
                    label: tr("ロック画面に内容を表示する", "Show details on the lock screen").to_owned(),
                    hint: Some(tr("オフのときは「新しい投稿があります」とだけ表示し、患者名や本文は表示しません。",
                        "When off, only \u{300c}新しい投稿があります\u{300d} is shown: never a patient's name or the text.").to_owned()),
                    on: s.settings.show_details,
                    disabled: locked,
                    on_change: {
                        let settings = s.settings.clone();
                        move |on: bool| {
                            let mut next = settings.clone();
                            next.show_details = on;
                            apply(next);
                        }
                    },
                }
                QuietHours { settings: s.settings.clone(), busy: locked, on_change: apply }
                crate::ui::ack::UrgentInQuiet { settings: s.settings.clone(), busy: locked, on_change: apply }
            } else if message.read().is_none() && !offline() {
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
        move |checked: bool| {
            let mut next = settings.clone();
            if checked {
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
        Switch {
            label: tr("通知しない時間帯", "Quiet hours").to_owned(),
            hint: Some(tr("この時間帯は通知しません（至急は下の設定に従います）。", "No notifications during these hours (urgent posts follow the setting below).").to_owned()),
            on,
            disabled: busy,
            on_change: toggle,
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

/// A bell in a room's header: mute or unmute this room's notifications. Shown from the kept
/// settings when the room was opened offline; a change then waits for the network.
#[component]
pub fn RoomMuteToggle(room: i64) -> Element {
    let session = use_context::<crate::ui::session::Session>();
    let store = session.store.clone();
    let mut muted = use_signal(|| None::<bool>);
    let mut note = use_signal(|| None::<&'static str>);
    let loading = store.clone();
    use_future(move || {
        let store = loading.clone();
        async move {
            let is_muted = |s: &PushStatus| s.settings.muted_rooms.contains(&RoomId::new(room));
            if let Some(kept) = api::cached_only::<PushStatus>(&store, SETTINGS_URL).await {
                muted.set(Some(is_muted(&kept)));
            }
            match load(&store).await {
                Ok(s) => muted.set(Some(is_muted(&s))),
                // Never asked on this device: the server's default.
                Err(_) if muted.peek().is_none() => muted.set(Some(false)),
                Err(_) => {}
            }
        }
    });
    let Some(is_muted) = muted() else {
        return rsx! {};
    };
    let label = if is_muted {
        tr("このルームの通知をオンにする", "Unmute this room")
    } else {
        tr("このルームの通知をオフにする", "Mute this room")
    };
    rsx! {
        button {
            class: if is_muted { "icon room-mute muted" } else { "icon room-mute" },
            r#type: "button",
            title: label,
            aria_label: label,
            aria_pressed: "{is_muted}",
            onclick: move |_| {
                let store = store.clone();
                spawn(async move {
                    let next = !is_muted;
                    let url = format!("/api/push/rooms/{room}/mute");
                    match api::post::<_, ()>(&url, &Mute { muted: next }).await {
                        Ok(()) => {
                            muted.set(Some(next));
                            note.set(None);
                            // The kept settings follow, for the next offline opening.
                            if let Ok(s) = api::get::<PushStatus>(SETTINGS_URL).await {
                                if let Ok(body) = serde_json::to_string(&s) {
                                    store.put_cache(SETTINGS_URL, &body).await;
                                }
                            }
                        }
                        Err(api::ApiError::Offline) => note.set(Some(tr(
                            "オフラインのため変更できません。",
                            "Offline: cannot change now.",
                        ))),
                        Err(_) => note.set(Some(tr("変更できませんでした。", "Could not change it."))),
                    }
                });
            },
            if is_muted { "🔕" } else { "🔔" }
        }
        if let Some(n) = note() {
            span { class: "visually-hidden", role: "alert", "{n}" }
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
