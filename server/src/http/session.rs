//! Sign-in (password, then a second factor where the account has one), sign-out, and
//! "who am I".

use super::ApiJson;
use super::ApiPath;
use crate::auth::sealed::Column;
use crate::auth::{self, second_factor, ClientAddr, CurrentUser};
use crate::db::audit::AuditEntry;
use crate::db::municipalities::Municipality;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
pub use renraku_contract::{MeResponse, SigninRequest, SigninResponse};
use renraku_sync::UserId;
use std::net::IpAddr;

/// Login ids longer than this are not ours; cut before auditing so logs stay bounded.
pub(super) const MAX_LOGIN_ID: usize = 64;

/// Signs in with a login id and password of the municipality in the path, plus a TOTP or
/// recovery code if the account has a second factor.
#[utoipa::path(post, path = "/api/{municipality}/signin", tag = "session",
    params(("municipality" = String, Path, description = "Municipality slug")),
    request_body = SigninRequest,
    responses((status = 200, body = SigninResponse),
              (status = 401, description = "`bad_credentials`; `second_factor_required` (password right, code missing, no session; `second_factors` lists `totp` and/or `passkey`: sign in with a passkey through `/api/{municipality}/signin/passkey`); `bad_second_factor`", body = crate::error::ErrorBody),
              (status = 404, description = "No such municipality", body = crate::error::ErrorBody),
              (status = 429, description = "Too many failed attempts for the account or from the address; see `Retry-After`", body = crate::error::ErrorBody)))]
pub async fn signin(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SigninRequest>,
) -> Result<Response> {
    let PasswordChecked {
        municipality,
        user,
        login_id,
    } = check_password(&state, &slug, &req.login_id, req.password, addr).await?;
    let m = municipality.id;

    let totp = state.db.totp_state(user).await?;
    let passkeys = state.db.passkey_count(user).await? > 0;
    let enrolment_required = if totp.secret.is_some() || passkeys {
        let verified = match (req.totp.as_deref(), req.recovery_code.as_deref()) {
            // No code: not a failure (the app asks for one next, or for the passkey), and
            // no session.
            (None, None) => {
                return Err(Error::SecondFactorRequired {
                    totp: totp.secret.is_some(),
                    passkey: passkeys,
                })
            }
            (Some(code), _) => match totp
                .secret
                .as_deref()
                .map(|stored| state.sealer.open(user, Column::TotpSecret, stored))
                .transpose()?
                .and_then(|secret| {
                    second_factor::matching_step(&secret, code, second_factor::current_step())
                }) {
                Some(step) => state.db.claim_totp_step(user, step).await?,
                None => false,
            },
            (None, Some(code)) => match second_factor::recovery_code_hash(code) {
                Some(hash) => state.db.use_recovery_code(user, &hash).await?,
                None => false,
            },
        };
        if !verified {
            state.throttle.failed(m.get(), &login_id, addr).await?;
            let entry = AuditEntry::new(AuditAction::SigninSecondFactorFailed, &login_id);
            state.db.audit(entry.by(user, m)).await?;
            return Err(Error::BadSecondFactor);
        }
        if req.totp.is_none() {
            let entry = AuditEntry::new(AuditAction::SigninRecoveryCodeUsed, &login_id).by(user, m);
            state.db.audit(entry).await?;
        }
        false
    } else {
        municipality.require_second_factor
    };
    state.throttle.succeeded(m.get(), &login_id).await?;
    start_session(
        &state,
        &headers,
        municipality,
        user,
        &login_id,
        enrolment_required,
    )
    .await
}

/// Starts the session of a sign-in that passed: creates it, audits `signin.ok` (or
/// `signin.enrolment_only`), and answers with the cookie and the token.
pub(super) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    municipality: Municipality,
    user: UserId,
    login_id: &str,
    enrolment_required: bool,
) -> Result<Response> {
    let m = municipality.id;
    let session =
        auth::create_session(state, user, auth::user_agent(headers), enrolment_required).await?;
    let profile = state.db.user(user).await?.ok_or(Error::BadCredentials)?;
    let action = if enrolment_required {
        AuditAction::SigninEnrolmentOnly
    } else {
        AuditAction::SigninOk
    };
    state
        .db
        .audit(
            AuditEntry::new(action, login_id)
                .by(user, m)
                .detail(format!("session/{}", session.id)),
        )
        .await?;
    let cookie = auth::session_cookie(state, &session.token, session.max_age);
    let password_change_required = profile.must_change_password;
    let body = SigninResponse {
        password_change_required,
        user: CurrentUser::from(profile).into(),
        municipality,
        session_token: session.token,
        enrolment_required,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// A sign-in's first factor, passed.
pub(super) struct PasswordChecked {
    pub municipality: Municipality,
    pub user: UserId,
    /// As typed, trimmed and cut to [`MAX_LOGIN_ID`].
    pub login_id: String,
}

/// The first step of every sign-in: the municipality, throttling, and the password.
/// Failures are audited and count against the account and the address.
pub(super) async fn check_password(
    state: &AppState,
    slug: &str,
    login_id: &str,
    password: String,
    addr: IpAddr,
) -> Result<PasswordChecked> {
    let municipality = state
        .db
        .municipality_by_slug(slug)
        .await?
        .ok_or(Error::NotFound)?;
    let login_id: String = login_id.trim().chars().take(MAX_LOGIN_ID).collect();
    let m = municipality.id;
    if let Err(wait) = state.throttle.check(m.get(), &login_id, addr).await? {
        let entry = AuditEntry::new(AuditAction::SigninThrottled, &login_id).in_municipality(m);
        state.db.audit(entry).await?;
        return Err(Error::retry_after(wait));
    }
    let credentials = state.db.credentials(m, &login_id).await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let password_ok = auth::verify_password(password, hash).await?;
    match credentials {
        Some(c) if password_ok && !c.disabled => Ok(PasswordChecked {
            municipality,
            user: c.user,
            login_id,
        }),
        _ => {
            state.throttle.failed(m.get(), &login_id, addr).await?;
            let entry = AuditEntry::new(AuditAction::SigninFailed, &login_id).in_municipality(m);
            state.db.audit(entry).await?;
            Err(Error::BadCredentials)
        }
    }
}

/// Ends the current session (restricted ones included) and clears the cookie. Without a
/// live session: 401, and the cookie is cleared all the same.
#[utoipa::path(post, path = "/api/signout", tag = "session",
    responses((status = 204, description = "Signed out"),
              (status = 401, description = "No live session", body = crate::error::ErrorBody),
              (status = 403, description = "`csrf_rejected`: cookie without Origin or `X-Renraku-Csrf: 1`", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn signout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let clear = [(header::SET_COOKIE, auth::clear_session_cookie(&state))];
    let Some(token) = auth::session_token(&state.config, &headers) else {
        return Ok((clear, Error::Unauthorized).into_response());
    };
    let session = match auth::resolve_session(&state, &token).await {
        Ok(session) => session,
        Err(Error::Unauthorized) => return Ok((clear, Error::Unauthorized).into_response()),
        Err(e) => return Err(e),
    };
    auth::end_session(&state, &session.id, renraku_sync::SessionEnd::SignedOut).await?;
    let user = &session.user;
    let entry = user
        .audit(AuditAction::Signout)
        .detail(format!("session/{}", session.id));
    state.db.audit(entry).await?;
    Ok((StatusCode::NO_CONTENT, clear).into_response())
}

/// The signed-in user and their municipality.
#[utoipa::path(get, path = "/api/me", tag = "session",
    responses((status = 200, body = MeResponse),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "`enrolment_required`", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<MeResponse>> {
    let municipality = state
        .db
        .municipality(user.municipality)
        .await?
        .ok_or_else(|| Error::internal("user without municipality"))?;
    Ok(Json(MeResponse {
        user: user.into(),
        municipality,
        lock_after_secs: state.config.app_lock().as_secs(),
    }))
}
