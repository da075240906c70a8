//! Small browser helpers: the clock, randomness, local storage, ids and dates.

use renraku_sync::PostId;
use wasm_bindgen::JsCast;

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// 64 random bits from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        // No Web Crypto (very old browsers): Math.random is enough for ids, not for secrets.
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    u64::from_le_bytes(bytes)
}

/// A new post id: a ULID (48-bit millisecond time, 80 random bits), so ids sort by time and
/// two offline devices never collide.
pub fn new_post_id() -> PostId {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let time = (crate::clock::server_now_ms() as u128) & ((1 << 48) - 1);
    let random = (u128::from(random_u64()) << 16) | u128::from(random_u64() as u16);
    let value = (time << 80) | (random & ((1 << 80) - 1));
    let text: String = (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect();
    PostId::parse(&text).expect("a ULID is a post id")
}

/// The page's path and query (`/demo/home?tab=patients`).
pub fn page() -> String {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return String::new();
    };
    location.pathname().unwrap_or_default() + &location.search().unwrap_or_default()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn local_get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

pub fn local_set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn local_remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// Whole years between an ISO birth date (`YYYY-MM-DD`) and today.
pub fn age(birth_date: &str) -> Option<i32> {
    let mut parts = birth_date.split('-').map(|p| p.parse::<i32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let now = js_sys::Date::new_0();
    let (ny, nm, nd) = (
        now.get_full_year() as i32,
        now.get_month() as i32 + 1,
        now.get_date() as i32,
    );
    let mut age = ny - y;
    if (nm, nd) < (m, d) {
        age -= 1;
    }
    (0..150).contains(&age).then_some(age)
}

/// A timestamp as people read it in a timeline: time today, date otherwise.
pub fn short_time(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    // Today as the server counts it: posts are dated by its clock, not a wrong device's.
    let now = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        crate::clock::server_now_ms() as f64,
    ));
    let hm = format!("{}:{:02}", date.get_hours(), date.get_minutes());
    if date.get_full_year() == now.get_full_year()
        && date.get_month() == now.get_month()
        && date.get_date() == now.get_date()
    {
        hm
    } else if date.get_full_year() == now.get_full_year() {
        format!("{}/{} {hm}", date.get_month() + 1, date.get_date())
    } else {
        format!(
            "{}/{}/{} {hm}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date()
        )
    }
}

/// Hiragana and katakana compare equal, as do full- and half-width Latin, so a filter typed
/// either way finds 「やまだ」 and 「ヤマダ」.
pub fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            '！'..='～' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '　' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

pub fn matches_filter(filter: &str, fields: &[&str]) -> bool {
    let needle = fold(filter);
    needle.is_empty() || fields.iter().any(|f| fold(f).contains(&needle))
}

/// Waits `ms` milliseconds (a `setTimeout` as a future).
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A User Timing mark (`performance.mark`): the start-up phases, for `cargo xtask bench-app`
/// and the browser's performance panel.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// Resolves after the browser has painted the current frame: a `requestAnimationFrame`
/// callback runs just before a paint, and a timeout queued from it runs after that paint.
pub async fn after_next_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(w) = web_sys::window() else {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            return;
        };
        let later = w.clone();
        let frame = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = later.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        });
        let _ = w.request_animation_frame(frame.unchecked_ref());
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Calls `f` on every `name` event of the window, inside the Dioxus runtime (a browser
/// callback runs outside it, where signals cannot be written: a channel carries it in).
pub fn use_window_event(name: &'static str, mut f: impl FnMut() + 'static) {
    use dioxus::prelude::*;
    use futures_util::StreamExt;
    use wasm_bindgen::JsCast;
    use_hook(move || {
        let (tx, mut rx) = futures_channel::mpsc::unbounded::<()>();
        let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(());
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        }
        // Listens for the page's lifetime.
        listener.forget();
        spawn(async move {
            while rx.next().await.is_some() {
                f();
            }
        });
    });
}
