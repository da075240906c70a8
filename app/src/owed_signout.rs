//! A sign-out the server has not heard of yet. Signing out with no network still removes the
//! user's data from the device at once, but the server session lives on in an HttpOnly
//! cookie that the app can neither read nor delete: whoever opened the app next would be let
//! straight in. So the debt is kept in local storage and paid before anything else the app
//! asks the server (`api::request` calls `settle` first), on the browser's `online` event
//! while the sign-in screen shows, and therefore also at the next start.
//!
//! The marker is per origin, like the cookie it stands for. It must be paid before a new
//! sign-in: paid later, it would end the new session instead of the old one.

use crate::api::{self, ApiError, ApiResult};

const KEY: &str = "renraku.signout-owed";

/// Remembers that the server must still be told (the sign-out request could not reach it).
pub fn owe() {
    crate::util::local_set(KEY, "1");
}

pub fn is_owed() -> bool {
    crate::util::local_get(KEY).is_some()
}

/// Ends the old session on the server if a sign-out is owed. `Err` while it is still owed
/// (offline, or a server that could not answer): a request sent meanwhile would carry the
/// old session's cookie, so the caller's request must not go either.
pub async fn settle() -> ApiResult<()> {
    if !is_owed() {
        return Ok(());
    }
    match api::sign_out_unsettled().await {
        Err(e @ ApiError::Offline) => Err(e),
        Err(e @ ApiError::Status { status, .. }) if status == 429 || status >= 500 => Err(e),
        // Ended now, or already ended (401), or a refusal that asking again cannot change.
        _ => {
            crate::util::local_remove(KEY);
            Ok(())
        }
    }
}

/// Resolves at the browser's next `online` event (a `once` listener, so none pile up).
pub async fn next_online() {
    use wasm_bindgen::{JsCast, JsValue};
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(w) = web_sys::window() else { return };
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"once".into(), &JsValue::TRUE);
        if let Ok(add) = js_sys::Reflect::get(&w, &"addEventListener".into()) {
            let add: js_sys::Function = add.unchecked_into();
            let _ = add.call3(&w, &"online".into(), &resolve, &options);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
