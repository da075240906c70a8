//! The JSON API, over the browser's `fetch` with the session cookie. Responses the app needs
//! offline (me, rooms, room details, directory) are also kept in IndexedDB and answered from
//! there when the network is gone.

use crate::i18n::tr;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

// ---- types: the API contract (`renraku-contract`), shared with the server ----

pub use renraku_contract::{
    AckInbox, AckItem, Colleague, ErrorBody, ErrorCode, MeResponse as Me, Member,
    MessageRoomCreated as CreatedRoom, NewMessageRoom, Portal as MunicipalityPortal, Profession,
    RoomDetail, RoomSummary, SecondFactorKind, SigninRequest, SigninResponse as SigninOk,
};

/// A profession as people say it.
pub fn profession_label(p: Profession) -> &'static str {
    match p {
        Profession::Doctor => tr("医師", "Doctor"),
        Profession::Nurse => tr("看護師", "Nurse"),
        Profession::CareManager => tr("ケアマネジャー", "Care manager"),
        Profession::Pharmacist => tr("薬剤師", "Pharmacist"),
        Profession::Therapist => tr("リハビリ職", "Therapist"),
        Profession::Helper => tr("ヘルパー", "Care worker"),
        Profession::CityStaff => tr("市職員", "City staff"),
        Profession::Other => tr("その他", "Other"),
    }
}

// ---- errors ----

#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// No network, or the server could not be reached.
    Offline,
    /// The server answered with an error status, its error code (`error` field), the text
    /// it wrote for people (`message` field), and with `second_factor_required` the kinds
    /// of second factor the account has (`second_factors`: `totp`, `passkey`).
    Status {
        status: u16,
        code: Option<ErrorCode>,
        detail: Option<String>,
        factors: Vec<SecondFactorKind>,
    },
    /// A body that was not what we expected.
    Unexpected,
}

impl ApiError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status { status: 401, .. })
    }

    /// With `second_factor_required`: the account's kinds of second factor.
    pub fn second_factors(&self) -> &[SecondFactorKind] {
        match self {
            ApiError::Status { factors, .. } => factors,
            _ => &[],
        }
    }

    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Status { code, .. } => *code,
            _ => None,
        }
    }

    /// What the server said about a refused request (a 400's reason, a 409's conflict, a
    /// 422's rule), for forms whose users can fix their input; `message` otherwise.
    pub fn explain(&self) -> String {
        match self {
            ApiError::Status {
                status: 400 | 409 | 422,
                detail: Some(d),
                ..
            } if !d.is_empty() => d.clone(),
            _ => self.message(),
        }
    }

    /// What to tell the user.
    pub fn message(&self) -> String {
        match self {
            ApiError::Offline => tr(
                "サーバーに接続できません。通信状態をご確認ください。",
                "Cannot reach the server. Check your connection.",
            )
            .into(),
            ApiError::Unexpected => tr(
                "サーバーから予期しない応答がありました。",
                "The server sent an unexpected answer.",
            )
            .into(),
            ApiError::Status { status: 403, .. } => {
                tr("この操作は許可されていません。", "You may not do that.").into()
            }
            ApiError::Status { status: 404, .. } => tr("見つかりません。", "Not found.").into(),
            ApiError::Status { status: 429, .. } => tr(
                "試行回数が多すぎます。しばらく待ってからお試しください。",
                "Too many attempts. Wait a moment and try again.",
            )
            .into(),
            ApiError::Status { status, .. } => crate::i18n::tr_string(
                format!(
                    "サーバーでエラーが発生しました（{status}）。しばらくしてからお試しください。"
                ),
                format!("The server had an error ({status}). Try again later."),
            ),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

// ---- calls ----

pub async fn get<T: DeserializeOwned>(url: &str) -> ApiResult<T> {
    let body = request("GET", url, None).await?;
    serde_json::from_str(&body).map_err(|_| ApiError::Unexpected)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    send("POST", url, body).await
}

/// `PATCH`, `PUT` or `DELETE` (the admin API), with the same handling as `post`; an empty
/// answer (204) reads as `null`, so `T = ()` fits it.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    url: &str,
    body: &B,
) -> ApiResult<T> {
    let json = serde_json::to_string(body).map_err(|_| ApiError::Unexpected)?;
    let text = request(method, url, Some(json)).await?;
    serde_json::from_str(if text.is_empty() { "null" } else { &text })
        .map_err(|_| ApiError::Unexpected)
}

/// `DELETE` without a body.
pub async fn delete(url: &str) -> ApiResult<()> {
    request("DELETE", url, None).await.map(|_| ())
}

/// `GET` that keeps the answer in IndexedDB, and answers the kept copy when offline.
pub async fn cached_get<T: DeserializeOwned>(
    store: &crate::store::Store,
    url: &str,
) -> ApiResult<T> {
    cached_get_telling(store, url).await.map(|(value, _)| value)
}

/// [`cached_get`], also telling whether the answer is the kept copy (the server could not
/// be reached), for screens that say so.
pub async fn cached_get_telling<T: DeserializeOwned>(
    store: &crate::store::Store,
    url: &str,
) -> ApiResult<(T, bool)> {
    match request("GET", url, None).await {
        Ok(body) => {
            let value = serde_json::from_str(&body).map_err(|_| ApiError::Unexpected)?;
            store.put_cache(url, &body).await;
            Ok((value, false))
        }
        Err(ApiError::Offline) => match store.get_cache(url).await {
            Some(body) => serde_json::from_str(&body)
                .map(|v| (v, true))
                .map_err(|_| ApiError::Unexpected),
            None => Err(ApiError::Offline),
        },
        Err(e) => Err(e),
    }
}

/// The kept copy only (to paint at once, before the network answers).
pub async fn cached_only<T: DeserializeOwned>(store: &crate::store::Store, url: &str) -> Option<T> {
    serde_json::from_str(&store.get_cache(url).await?).ok()
}

pub async fn municipality(slug: &str) -> ApiResult<MunicipalityPortal> {
    get(&format!("/api/municipalities/{slug}")).await
}

/// Signs in; `code` is the second factor when the server asked for one (6 digits: TOTP,
/// otherwise a recovery code).
pub async fn sign_in(
    slug: &str,
    login_id: &str,
    password: &str,
    code: Option<&str>,
) -> ApiResult<SigninOk> {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let is_totp = code.is_some_and(|c| c.len() == 6 && c.chars().all(|ch| ch.is_ascii_digit()));
    let body = SigninRequest {
        login_id: login_id.to_owned(),
        password: password.to_owned(),
        totp: code.filter(|_| is_totp).map(str::to_owned),
        recovery_code: code.filter(|_| !is_totp).map(str::to_owned),
    };
    post(&format!("/api/{slug}/signin"), &body).await
}

pub async fn sign_out() -> ApiResult<()> {
    // An owed sign-out went with the old cookie; this one ends the current session.
    crate::owed_signout::settle().await?;
    sign_out_unsettled().await
}

/// `POST /api/signout` as it is, for `owed_signout::settle` (which every request waits for).
pub(crate) async fn sign_out_unsettled() -> ApiResult<()> {
    match send_request("POST", "/api/signout", None).await {
        // 401: the session had already ended, which is what signing out wants.
        Ok(_) => Ok(()),
        Err(e) if e.is_unauthorized() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sends a file as the request body (`Content-Type: content_type`) and returns the status
/// and body of any answer the server gave, so a refusal's own body (a CSV import's report of
/// problems) can be read; only a failed connection is an error.
pub async fn send_file(
    method: &str,
    url: &str,
    file: &web_sys::File,
    content_type: &str,
) -> ApiResult<(u16, String)> {
    crate::owed_signout::settle().await?;
    fetch(method, url, Some((content_type, file.as_ref()))).await
}

// ---- municipality in the URL ----

/// The municipality's slug: the first path segment (`/demo/…` → `demo`).
pub fn municipality_slug() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    let first = path.split('/').find(|s| !s.is_empty())?;
    is_slug(first).then(|| first.to_owned())
}

const LAST_MUNICIPALITY: &str = "renraku.municipality";

/// The municipality last opened on this device (so `/` and the installed app find it).
pub fn last_municipality() -> Option<String> {
    let slug = crate::util::local_get(LAST_MUNICIPALITY)?;
    is_slug(&slug).then_some(slug)
}

pub fn remember_municipality(slug: &str) {
    crate::util::local_set(LAST_MUNICIPALITY, slug);
}

pub fn go_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().replace(path);
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

// ---- fetch ----

/// `fetch(url)` with the session cookie and the CSRF header, and a body of the given type:
/// the status and text of whatever the server answered (noting its clock); `Offline` only
/// when there was no answer.
async fn fetch(
    method: &str,
    url: &str,
    body: Option<(&str, &JsValue)>,
) -> ApiResult<(u16, String)> {
    let response = fetch_response(method, url, body).await?;
    Ok((response.status(), response_text(&response).await?))
}

/// The answer itself, for a caller that reads its body otherwise (a file to save).
async fn fetch_response(
    method: &str,
    url: &str,
    body: Option<(&str, &JsValue)>,
) -> ApiResult<Response> {
    let headers = Headers::new().map_err(|_| ApiError::Offline)?;
    let _ = headers.set("accept", "application/json");
    // The server's CSRF check for cookie-authenticated mutations: a cross-site form cannot
    // send a custom header.
    let _ = headers.set("x-renraku-csrf", "1");
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some((content_type, body)) = body {
        let _ = headers.set("content-type", content_type);
        init.set_body(body);
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(url, &init).map_err(|_| ApiError::Offline)?;
    let window = web_sys::window().ok_or(ApiError::Offline)?;
    let sent = crate::util::now_ms();
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| ApiError::Offline)?
        .dyn_into()
        .map_err(|_| ApiError::Offline)?;
    if let Ok(Some(date)) = response.headers().get("date") {
        crate::clock::observe(sent, crate::util::now_ms(), &date);
    }
    Ok(response)
}

async fn response_text(response: &Response) -> ApiResult<String> {
    Ok(
        JsFuture::from(response.text().map_err(|_| ApiError::Offline)?)
            .await
            .map_err(|_| ApiError::Offline)?
            .as_string()
            .unwrap_or_default(),
    )
}

/// Saves what `GET url` answers as a file, under the name the server gives. Not a plain
/// `<a download>`: with one, a refusal (a session that ended, a server without its PDF
/// font) is saved as a file of JSON; here it is an error the screen can show.
pub async fn download(url: &str) -> ApiResult<()> {
    crate::owed_signout::settle().await?;
    let response = fetch_response("GET", url, None).await?;
    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(status_error(status, &response_text(&response).await?));
    }
    let name = response
        .headers()
        .get("content-disposition")
        .ok()
        .flatten()
        .and_then(|d| file_name(&d))
        .unwrap_or_else(|| "renraku-download".to_owned());
    let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(|_| ApiError::Offline)?)
        .await
        .map_err(|_| ApiError::Offline)?
        .dyn_into()
        .map_err(|_| ApiError::Offline)?;
    let href = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| ApiError::Offline)?;
    let saved = (|| {
        let document = web_sys::window()?.document()?;
        let link: web_sys::HtmlElement = document.create_element("a").ok()?.dyn_into().ok()?;
        link.set_attribute("href", &href).ok()?;
        link.set_attribute("download", &name).ok()?;
        link.click();
        Some(())
    })();
    // The browser has taken the file once the click returns; the blob may go.
    let _ = web_sys::Url::revoke_object_url(&href);
    saved.ok_or(ApiError::Offline)
}

/// The file name in a `Content-Disposition: attachment; filename="…"` header.
fn file_name(disposition: &str) -> Option<String> {
    let name = disposition
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("filename="))?
        .trim_matches('"');
    // Only a plain name: never a path the browser would have to clean.
    (!name.is_empty() && !name.contains(['/', '\\'])).then(|| name.to_owned())
}

/// `fetch(url)` with the session cookie; the body of a 2xx answer, or the error. A sign-out
/// made offline is paid first: until the server has heard of it, the cookie this request
/// would carry belongs to a session the user ended.
pub(crate) async fn request(method: &str, url: &str, json: Option<String>) -> ApiResult<String> {
    crate::owed_signout::settle().await?;
    send_request(method, url, json).await
}

async fn send_request(method: &str, url: &str, json: Option<String>) -> ApiResult<String> {
    let body = json.map(|j| JsValue::from_str(&j));
    let (status, text) = fetch(method, url, body.as_ref().map(|b| ("application/json", b))).await?;
    if (200..300).contains(&status) {
        return Ok(text);
    }
    Err(status_error(status, &text))
}

/// The error for a non-2xx answer, with the server's code and message when it sent its JSON.
fn status_error(status: u16, text: &str) -> ApiError {
    let body = serde_json::from_str::<ErrorBody>(text).ok();
    match body {
        Some(body) => ApiError::Status {
            status,
            code: Some(body.error),
            detail: Some(body.message),
            factors: body.second_factors,
        },
        None => ApiError::Status {
            status,
            code: None,
            detail: None,
            factors: Vec::new(),
        },
    }
}
