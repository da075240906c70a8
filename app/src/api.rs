//! The few JSON API calls the app makes, over the browser's `fetch` with the session cookie.

use renraku_sync::RoomId;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MunicipalityInfo {
    pub name: String,
}

/// One entry of `GET /api/rooms`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    /// `patient`, `project` or `message`.
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub member_count: i64,
    /// Patient rooms only.
    #[serde(default)]
    pub patient: Option<PatientBrief>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PatientBrief {
    pub name: String,
}

impl RoomSummary {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "patient" => "患者",
            "project" => "プロジェクト",
            "message" => "メッセージ",
            _ => "ルーム",
        }
    }
}

/// The municipality's slug: the first path segment (`/demo/…` → `demo`).
pub fn municipality_slug() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    let first = path.split('/').find(|s| !s.is_empty())?;
    is_slug(first).then(|| first.to_owned())
}

const LAST_MUNICIPALITY: &str = "renraku.municipality";

/// The municipality last opened on this device (so `/` and the installed app find it).
pub fn last_municipality() -> Option<String> {
    let slug = web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(LAST_MUNICIPALITY)
        .ok()??;
    is_slug(&slug).then_some(slug)
}

pub fn remember_municipality(slug: &str) {
    if let Some(Ok(Some(storage))) = web_sys::window().map(|w| w.local_storage()) {
        let _ = storage.set_item(LAST_MUNICIPALITY, slug);
    }
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

pub async fn municipality(slug: &str) -> Result<MunicipalityInfo, String> {
    let (status, body) = request("GET", &format!("/api/municipalities/{slug}"), None).await?;
    match status {
        200 => serde_json::from_str(&body).map_err(|_| unexpected()),
        404 => Err(format!(
            "自治体「{slug}」は見つかりません。URL をご確認ください。"
        )),
        _ => Err(server_error(status)),
    }
}

pub async fn sign_in(slug: &str, login_id: &str, password: &str) -> Result<(), String> {
    let body = serde_json::json!({ "login_id": login_id, "password": password }).to_string();
    let (status, body) = request("POST", &format!("/api/{slug}/signin"), Some(body)).await?;
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    match status {
        200..=299 => Ok(()),
        401 if code.as_deref() == Some("second_factor_required") => Err(
            "このアカウントは二段階認証が有効です。確認コードでのサインインはこのアプリではまだ使えません。"
                .into(),
        ),
        400 | 401 | 403 | 404 => Err("ログイン ID またはパスワードが違います。".into()),
        429 => Err("試行回数が多すぎます。しばらく待ってからお試しください。".into()),
        _ => Err(server_error(status)),
    }
}

pub async fn sign_out() -> Result<(), String> {
    let (status, _) = request("POST", "/api/signout", None).await?;
    match status {
        // 401: the session had already ended, which is what signing out wants.
        200..=299 | 401 => Ok(()),
        _ => Err(server_error(status)),
    }
}

/// My rooms, or `None` when there is no valid session.
pub async fn my_rooms() -> Result<Option<Vec<RoomSummary>>, String> {
    let (status, body) = request("GET", "/api/rooms", None).await?;
    match status {
        200 => serde_json::from_str(&body)
            .map(Some)
            .map_err(|_| unexpected()),
        401 | 403 => Ok(None),
        _ => Err(server_error(status)),
    }
}

fn unexpected() -> String {
    "サーバーから予期しない応答がありました。".into()
}

fn server_error(status: u16) -> String {
    format!("サーバーでエラーが発生しました（{status}）。しばらくしてからお試しください。")
}

fn offline() -> String {
    "サーバーに接続できません。通信状態をご確認ください。".into()
}

/// `fetch(url)` with the session cookie; returns the status and the body as text.
async fn request(method: &str, url: &str, json: Option<String>) -> Result<(u16, String), String> {
    let headers = Headers::new().map_err(|_| offline())?;
    headers
        .set("accept", "application/json")
        .map_err(|_| offline())?;
    // The server's CSRF check for cookie-authenticated mutations: a cross-site form cannot
    // send a custom header.
    headers.set("x-renraku-csrf", "1").map_err(|_| offline())?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = json {
        headers
            .set("content-type", "application/json")
            .map_err(|_| offline())?;
        init.set_body(&JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    send(Request::new_with_str_and_init(url, &init).map_err(|_| offline())?).await
}

async fn send(request: Request) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or_else(offline)?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| offline())?
        .dyn_into()
        .map_err(|_| offline())?;
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(|_| offline())?)
        .await
        .map_err(|_| offline())?
        .as_string()
        .unwrap_or_default();
    Ok((status, text))
}
