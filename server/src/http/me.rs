//! The signed-in user's own security settings: TOTP enrolment, sessions, password.

use super::ApiJson;
use super::ApiPath;
use crate::auth::sealed::Column;
use crate::auth::{self, second_factor, AnySession, ClientAddr, CurrentSession};
use crate::db::sessions::SessionId;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{
    PasswordChange, RecoveryCodes, SessionView, TotpCode, TotpRemoval, TotpSetup, Unlock,
};
use renraku_sync::SessionEnd;
use std::net::IpAddr;

/// Shown in authenticator apps next to the account.
const TOTP_ISSUER: &str = "Renraku";

/// Checks a code from the user's confirmed authenticator (or a recovery code) and uses it
/// up. Failures count against the account's sign-in budget: a stolen session must not be a
/// way to guess codes freely.
async fn verify_second_factor(
    state: &AppState,
    session: &auth::Session,
    addr: IpAddr,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<()> {
    let user = &session.user;
    let (m, login) = (user.municipality.get(), user.login_id.as_str());
    state
        .throttle
        .check(m, login, addr)
        .await?
        .map_err(Error::retry_after)?;
    let secret = state
        .db
        .totp_state(user.id)
        .await?
        .secret
        .map(|stored| state.sealer.open(user.id, Column::TotpSecret, &stored))
        .transpose()?;
    let ok = match (secret, code, recovery_code) {
        (Some(secret), Some(code), _) => {
            match second_factor::matching_step(&secret, code, second_factor::current_step()) {
                Some(step) => state.db.claim_totp_step(user.id, step).await?,
                None => false,
            }
        }
        (Some(_), None, Some(code)) => match second_factor::recovery_code_hash(code) {
            Some(hash) => state.db.use_recovery_code(user.id, &hash).await?,
            None => false,
        },
        (None, _, _) => return Err(Error::NotFound),
        (Some(_), None, None) => false,
    };
    if ok {
        Ok(())
    } else {
        state.throttle.failed(m, login, addr).await?;
        Err(Error::InvalidCode)
    }
}

/// Starts TOTP enrolment: a new secret, pending until confirmed. Allowed to sessions that
/// may only enrol. 409 if a second factor is already set up (remove it first).
#[utoipa::path(post, path = "/api/me/totp/setup", tag = "me",
    responses((status = 200, body = TotpSetup),
              (status = 401, body = crate::error::ErrorBody),
              (status = 409, description = "Already set up", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn totp_setup(
    AnySession(session): AnySession,
    State(state): State<AppState>,
) -> Result<Json<TotpSetup>> {
    let user = &session.user;
    if state.db.totp_state(user.id).await?.secret.is_some() {
        return Err(Error::Conflict);
    }
    let municipality = state
        .db
        .municipality(user.municipality)
        .await?
        .ok_or_else(|| Error::internal("user without municipality"))?;
    let secret = second_factor::new_secret();
    let stored = state.sealer.seal(user.id, Column::TotpPending, &secret);
    state.db.set_pending_totp(user.id, &stored).await?;
    let account = format!("{}/{}", municipality.slug, user.login_id);
    let entry = user.audit(AuditAction::TotpSetup);
    state.db.audit(entry).await?;
    Ok(Json(TotpSetup {
        otpauth_uri: second_factor::otpauth_uri(TOTP_ISSUER, &account, &secret),
        secret,
    }))
}

/// Confirms enrolment with a code from the new secret: the second factor is on, the
/// recovery codes are returned (once), and the user's other sessions end.
#[utoipa::path(post, path = "/api/me/totp/confirm", tag = "me",
    request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes),
              (status = 400, description = "`invalid_code`", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 409, description = "No enrolment pending", body = crate::error::ErrorBody),
              (status = 429, description = "Too many wrong codes", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn totp_confirm(
    AnySession(session): AnySession,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<TotpCode>,
) -> Result<Json<RecoveryCodes>> {
    let user = &session.user;
    let (m, login) = (user.municipality.get(), user.login_id.as_str());
    state
        .throttle
        .check(m, login, addr)
        .await?
        .map_err(Error::retry_after)?;
    let totp = state.db.totp_state(user.id).await?;
    let pending = match (totp.secret, totp.pending) {
        (None, Some(pending)) => pending,
        _ => return Err(Error::Conflict),
    };
    let secret = state.sealer.open(user.id, Column::TotpPending, &pending)?;
    let Some(step) =
        second_factor::matching_step(&secret, &req.code, second_factor::current_step())
    else {
        state.throttle.failed(m, login, addr).await?;
        return Err(Error::InvalidCode);
    };
    let codes = second_factor::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| second_factor::recovery_code_hash(c))
        .collect();
    if !state
        .db
        .confirm_totp(
            user.id,
            &pending,
            &state.sealer.seal(user.id, Column::TotpSecret, &secret),
            step,
            &hashes,
        )
        .await?
    {
        return Err(Error::Conflict);
    }
    let ended = auth::end_other_sessions(
        &state,
        user.id,
        Some(&session.id),
        SessionEnd::SecondFactorEnabled,
    )
    .await?;
    let entry = user
        .audit(AuditAction::TotpEnabled)
        .detail(format!("other sessions ended: {ended}"));
    state.db.audit(entry).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Removes the second factor; needs a current code (or a recovery code). Where the
/// municipality requires one, the user's sessions are then restricted to enrolling again.
#[utoipa::path(delete, path = "/api/me/totp", tag = "me",
    request_body = TotpRemoval,
    responses((status = 204, description = "Removed"),
              (status = 400, description = "`invalid_code`", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No second factor set up", body = crate::error::ErrorBody),
              (status = 429, description = "Too many wrong codes", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn totp_remove(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<TotpRemoval>,
) -> Result<StatusCode> {
    verify_second_factor(
        &state,
        &session,
        addr,
        req.code.as_deref(),
        req.recovery_code.as_deref(),
    )
    .await?;
    let user = &session.user;
    state.db.remove_totp(user.id).await?;
    let entry = user.audit(AuditAction::TotpDisabled);
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My live sessions, newest first; the one making the request is marked `current`.
#[utoipa::path(get, path = "/api/me/sessions", tag = "me",
    responses((status = 200, body = Vec<SessionView>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_sessions(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionView>>> {
    let now = state.clock.now_ms();
    let idle = i64::try_from(state.config.session_idle().as_millis()).unwrap_or(i64::MAX);
    let sessions = state
        .db
        .sessions_of(session.user.id, now, now.saturating_sub(idle))
        .await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.id == session.id,
                id: s.id.to_string(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Ends one of my sessions (a lost phone, a shared computer). 404 for anyone else's.
#[utoipa::path(delete, path = "/api/me/sessions/{id}", tag = "me",
    params(("id" = String, Path, description = "The session's public id")),
    responses((status = 204, description = "Ended"),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn revoke_session(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode> {
    let id = SessionId::parse(&id).ok_or(Error::NotFound)?;
    let user = &session.user;
    if !auth::revoke_session(&state, user.id, &id).await? {
        return Err(Error::NotFound);
    }
    let entry = user
        .audit(AuditAction::SessionRevoked)
        .detail(format!("session/{id}"));
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes my password: the current one, and a new one that meets the policy. My other
/// sessions end.
#[utoipa::path(post, path = "/api/me/password", tag = "me",
    request_body = PasswordChange,
    responses((status = 204, description = "Changed"),
              (status = 400, description = "`weak_password`", body = crate::error::ErrorBody),
              (status = 401, description = "Not signed in, or `bad_credentials`", body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn change_password(
    auth::PasswordSession(session): auth::PasswordSession,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    let user = &session.user;
    let (m, login) = (user.municipality.get(), user.login_id.as_str());
    state
        .throttle
        .check(m, login, addr)
        .await?
        .map_err(Error::retry_after)?;
    if !password_matches(&state, user, req.current).await? {
        state.throttle.failed(m, login, addr).await?;
        return Err(Error::BadCredentials);
    }
    auth::check_new_password(&req.new, login)?;
    let new_hash = auth::hash_password(req.new).await?;
    state.db.set_password_hash(user.id, &new_hash).await?;
    let ended = auth::end_other_sessions(
        &state,
        user.id,
        Some(&session.id),
        SessionEnd::PasswordChanged,
    )
    .await?;
    let entry = user
        .audit(AuditAction::PasswordChanged)
        .detail(format!("other sessions ended: {ended}"));
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `password` is the signed-in user's current one (argon2, off the runtime).
async fn password_matches(
    state: &AppState,
    user: &auth::CurrentUser,
    password: String,
) -> Result<bool> {
    let hash = state
        .db
        .credentials(user.municipality, &user.login_id)
        .await?
        .map(|c| c.password_hash);
    auth::verify_password(password, hash).await
}

/// Unlocks the app on this device after its idle lock: the current password again. Failures
/// count against the account's sign-in budget (a found phone is not a way to guess
/// passwords) and are audited, as are unlocks.
#[utoipa::path(post, path = "/api/me/unlock", tag = "me",
    request_body = Unlock,
    responses((status = 204, description = "Unlocked"),
              (status = 401, description = "Not signed in, or `bad_credentials`", body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn unlock(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<Unlock>,
) -> Result<StatusCode> {
    let user = &session.user;
    let (m, login) = (user.municipality.get(), user.login_id.as_str());
    state
        .throttle
        .check(m, login, addr)
        .await?
        .map_err(Error::retry_after)?;
    let ok = password_matches(&state, user, req.password).await?;
    let action = if ok {
        AuditAction::AppUnlocked
    } else {
        AuditAction::AppUnlockFailed
    };
    let entry = user.audit(action).detail(format!("session/{}", session.id));
    state.db.audit(entry).await?;
    if !ok {
        state.throttle.failed(m, login, addr).await?;
        return Err(Error::BadCredentials);
    }
    Ok(StatusCode::NO_CONTENT)
}
