//! Passkeys (WebAuthn): the browser's `navigator.credentials.create/get` through a few lines
//! of JavaScript, and the server's two-step ceremonies around them.
//!
//! The server (webauthn-rs) sends options as JSON with binary fields in base64url and wants
//! the credential back the same way; the browser API takes and gives `ArrayBuffer`s. The
//! conversion is the whole of the JavaScript below: written out by hand through web-sys it
//! would be several times longer and need a dozen more web-sys features. wasm-bindgen emits
//! it as a module file (`snippets/…`), so the CSP's `script-src 'self'` covers it.

use crate::api::ErrorCode;
use crate::api::{self, ApiError};
use crate::i18n::tr;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
function dec(s) {
  s = s.replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) s += "=";
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}
function enc(buf) {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
export function passkeys_supported() {
  return !!(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
}
export async function passkey_create(json) {
  const o = JSON.parse(json).publicKey;
  o.challenge = dec(o.challenge);
  o.user.id = dec(o.user.id);
  for (const c of o.excludeCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.create({ publicKey: o });
  return JSON.stringify({
    id: cred.id, rawId: enc(cred.rawId), type: cred.type, extensions: {},
    response: {
      attestationObject: enc(cred.response.attestationObject),
      clientDataJSON: enc(cred.response.clientDataJSON),
    },
  });
}
export async function passkey_get(json) {
  const o = JSON.parse(json).publicKey;
  o.challenge = dec(o.challenge);
  for (const c of o.allowCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.get({ publicKey: o });
  const r = cred.response;
  return JSON.stringify({
    id: cred.id, rawId: enc(cred.rawId), type: cred.type, extensions: {},
    response: {
      authenticatorData: enc(r.authenticatorData),
      clientDataJSON: enc(r.clientDataJSON),
      signature: enc(r.signature),
      userHandle: r.userHandle ? enc(r.userHandle) : null,
    },
  });
}
"#)]
extern "C" {
    fn passkeys_supported() -> bool;
    fn passkey_create(options: &str) -> js_sys::Promise;
    fn passkey_get(options: &str) -> js_sys::Promise;
}

/// Whether this browser can use passkeys here (a secure context: https, or localhost).
pub fn supported() -> bool {
    passkeys_supported()
}

use renraku_contract::{
    CeremonyStart, PasskeySigninFinish, PasskeySigninStart, RegistrationFinish,
};

/// One of my passkeys (`GET /api/me/passkeys`).
pub use renraku_contract::PasskeyView as PasskeyInfo;

/// Runs the browser's half of a ceremony; the credential as the server's JSON, or a
/// message for people (the user cancelled, or the browser refused).
async fn browser(promise: js_sys::Promise) -> Result<serde_json::Value, String> {
    match JsFuture::from(promise).await {
        Ok(text) => text
            .as_string()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| ApiError::Unexpected.message()),
        Err(e) => {
            let name = js_sys::Reflect::get(&e, &JsValue::from_str("name"))
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_default();
            web_sys::console::warn_1(&e);
            Err(match name.as_str() {
                "NotAllowedError" | "AbortError" => tr(
                    "パスキーの操作が取り消されたか、時間切れになりました。",
                    "The passkey request was cancelled or timed out.",
                )
                .into(),
                "InvalidStateError" => tr(
                    "この端末のパスキーはすでに登録されています。",
                    "This device's passkey is registered already.",
                )
                .into(),
                _ => tr(
                    "この端末ではパスキーを使えませんでした。",
                    "Passkeys did not work on this device.",
                )
                .into(),
            })
        }
    }
}

fn server_message(e: &ApiError) -> String {
    match e.code() {
        Some(ErrorCode::PasskeysUnavailable) => tr(
            "このサーバーではパスキーを使えません（ドメイン名での接続が必要です）。",
            "Passkeys are not available on this server (it needs a domain name).",
        )
        .into(),
        Some(ErrorCode::PasskeyRejected) | Some(ErrorCode::BadSecondFactor) => tr(
            "パスキーを確認できませんでした。もう一度お試しください。",
            "The passkey could not be verified. Try again.",
        )
        .into(),
        _ => e.message(),
    }
}

/// Registers a passkey of this device for the signed-in user.
pub async fn register(name: &str) -> Result<(), String> {
    let start: CeremonyStart = api::post("/api/me/passkeys/register", &())
        .await
        .map_err(|e| server_message(&e))?;
    let credential = browser(passkey_create(&start.options.to_string())).await?;
    let body = RegistrationFinish {
        ceremony: start.ceremony,
        name: name.to_owned(),
        credential,
    };
    api::post::<_, serde_json::Value>("/api/me/passkeys/register/finish", &body)
        .await
        .map(|_| ())
        .map_err(|e| server_message(&e))
}

/// Signs in with a passkey: after the password (`Some((login id, password))`, the passkey
/// as the second factor), or password-less (`None`: the authenticator names the account).
/// On success the session cookie is set.
pub async fn sign_in(slug: &str, password: Option<(&str, &str)>) -> Result<api::SigninOk, String> {
    let body = PasskeySigninStart {
        login_id: password.map(|(login, _)| login.to_owned()),
        password: password.map(|(_, password)| password.to_owned()),
    };
    let start: CeremonyStart = api::post(&format!("/api/{slug}/signin/passkey"), &body)
        .await
        .map_err(|e| server_message(&e))?;
    let credential = browser(passkey_get(&start.options.to_string())).await?;
    let body = PasskeySigninFinish {
        ceremony: start.ceremony,
        credential,
    };
    api::post(&format!("/api/{slug}/signin/passkey/finish"), &body)
        .await
        .map_err(|e| server_message(&e))
}

/// Unlocks the app after its idle lock with one of my passkeys.
pub async fn unlock() -> Result<(), String> {
    let start: CeremonyStart = api::post("/api/me/unlock/passkey", &())
        .await
        .map_err(|e| server_message(&e))?;
    let credential = browser(passkey_get(&start.options.to_string())).await?;
    let body = PasskeySigninFinish {
        ceremony: start.ceremony,
        credential,
    };
    api::post::<_, serde_json::Value>("/api/me/unlock/passkey/finish", &body)
        .await
        .map(|_| ())
        .map_err(|e| server_message(&e))
}

pub async fn list() -> Result<Vec<PasskeyInfo>, String> {
    api::get("/api/me/passkeys")
        .await
        .map_err(|e| server_message(&e))
}

pub async fn remove(id: i64) -> Result<(), String> {
    api::delete(&format!("/api/me/passkeys/{id}"))
        .await
        .map_err(|e| server_message(&e))
}
