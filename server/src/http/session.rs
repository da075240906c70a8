//! Sign-in, sign-out, and "who am I".

use super::ApiJson;
use crate::auth::{self, CurrentUser};
use crate::db::audit::AuditEntry;
use crate::db::municipalities::Municipality;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Login ids longer than this are not ours; cut before auditing so logs stay bounded.
const MAX_LOGIN_ID: usize = 64;

#[derive(Deserialize, ToSchema)]
pub struct SigninRequest {
    pub login_id: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SigninResponse {
    pub user: CurrentUser,
    pub municipality: Municipality,
    /// The session token, also set as an HttpOnly cookie. Native and test clients send it as
    /// `Authorization: Bearer …`; browsers can ignore it.
    pub session_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: CurrentUser,
    pub municipality: Municipality,
}

/// Signs in with a login id and password of the municipality in the path.
#[utoipa::path(post, path = "/api/{municipality}/signin", tag = "session",
    params(("municipality" = String, Path, description = "Municipality slug")),
    request_body = SigninRequest,
    responses((status = 200, body = SigninResponse),
              (status = 401, description = "Wrong login id or password", body = crate::error::ErrorBody),
              (status = 404, description = "No such municipality", body = crate::error::ErrorBody),
              (status = 429, description = "Too many failed attempts", body = crate::error::ErrorBody)))]
pub async fn signin(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<SigninRequest>,
) -> Result<Response> {
    let municipality = state
        .db
        .municipality_by_slug(&slug)
        .await?
        .ok_or(Error::NotFound)?;
    let login_id: String = req.login_id.trim().chars().take(MAX_LOGIN_ID).collect();
    let m = municipality.id;
    if !state.throttle.allows(m.get(), &login_id) {
        let entry = AuditEntry::new("signin.throttled", &login_id).in_municipality(m);
        state.db.audit(entry).await?;
        return Err(Error::TooManyRequests);
    }

    let credentials = state.db.credentials(m, &login_id).await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let password_ok = auth::verify_password(req.password, hash).await?;
    let user = match credentials {
        Some(c) if password_ok && !c.disabled => c.user,
        _ => {
            state.throttle.failed(m.get(), &login_id);
            let entry = AuditEntry::new("signin.failed", &login_id).in_municipality(m);
            state.db.audit(entry).await?;
            return Err(Error::BadCredentials);
        }
    };
    state.throttle.succeeded(m.get(), &login_id);

    let token = auth::create_session(&state, user).await?;
    let profile = state.db.user(user).await?.ok_or(Error::BadCredentials)?;
    state
        .db
        .audit(AuditEntry::new("signin.ok", &login_id).by(user, m))
        .await?;
    let cookie = auth::session_cookie(&state, &token);
    let body = SigninResponse {
        user: profile.into(),
        municipality,
        session_token: token,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Ends the current session (if any) and clears the cookie.
#[utoipa::path(post, path = "/api/signout", tag = "session",
    responses((status = 204, description = "Signed out")))]
pub async fn signout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if let Some(token) = auth::session_token(&headers) {
        if let Ok(user) = auth::authenticate_session(&state, &token).await {
            let entry =
                AuditEntry::new("signout", user.login_id.clone()).by(user.id, user.municipality);
            state.db.audit(entry).await?;
        }
        auth::end_session(&state, &token).await?;
    }
    let cookie = auth::clear_session_cookie(&state);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The signed-in user and their municipality.
#[utoipa::path(get, path = "/api/me", tag = "session",
    responses((status = 200, body = MeResponse),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<MeResponse>> {
    let municipality = state
        .db
        .municipality(user.municipality)
        .await?
        .ok_or_else(|| Error::internal("user without municipality"))?;
    Ok(Json(MeResponse { user, municipality }))
}
