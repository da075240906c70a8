//! Passkeys (WebAuthn): a user registers, lists and removes their own; at sign-in a passkey
//! is the second factor after the password. Each ceremony has two requests: the first gets
//! the browser's options and a ceremony id (the server keeps its half in the database, for
//! [`CEREMONY_TTL`], bound to the user and, for registration, to the session), the second
//! hands in what the authenticator made, and the ceremony is used up whatever the outcome.

use super::session::{check_password, start_session, PasswordChecked};
use super::ApiJson;
use super::ApiPath;
use crate::auth::passkey::{self, CEREMONY_TTL, MAX_NAME};
use crate::auth::token::{looks_like_token, new_token, token_hash};
use crate::auth::{AnySession, ClientAddr, CurrentSession};
use crate::db::audit::AuditEntry;
use crate::db::now_ms;
use crate::db::passkeys::{CeremonyKind, NewPasskey, PasskeyUse};
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
pub use renraku_contract::{
    CeremonyStart, PasskeySigninFinish, PasskeySigninStart, PasskeyView, RegistrationFinish,
};
use renraku_sync::UserId;
use serde::Serialize;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};
use webauthn_rs::Webauthn;

fn relying_party(state: &AppState) -> Result<&Webauthn> {
    state.webauthn.as_ref().ok_or(Error::PasskeysUnavailable)
}

/// Starts an assertion over `user`'s passkeys (second factor, unlock); `none` is the refusal
/// when they have none.
async fn start_assertion(
    state: &AppState,
    webauthn: &Webauthn,
    user: UserId,
    none: &'static str,
) -> Result<(
    webauthn_rs::prelude::RequestChallengeResponse,
    PasskeyAuthentication,
)> {
    let passkeys = state
        .db
        .passkeys_of(user)
        .await?
        .iter()
        .map(passkey::parse)
        .collect::<Result<Vec<_>>>()?;
    if passkeys.is_empty() {
        return Err(Error::PasskeyRejected(none));
    }
    webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| Error::internal(format!("passkey authentication: {e}")))
}

fn ceremony_expiry() -> i64 {
    now_ms().saturating_add(i64::try_from(CEREMONY_TTL.as_millis()).unwrap_or(i64::MAX))
}

fn options_json<T: Serialize>(options: &T) -> Result<serde_json::Value> {
    serde_json::to_value(options).map_err(|e| Error::internal(format!("webauthn options: {e}")))
}

/// My passkeys, oldest first. Also for sessions that may only enrol a second factor.
#[utoipa::path(get, path = "/api/me/passkeys", tag = "me",
    responses((status = 200, body = Vec<PasskeyView>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list(
    AnySession(session): AnySession,
    State(state): State<AppState>,
) -> Result<Json<Vec<PasskeyView>>> {
    let rows = state.db.passkeys_of(session.user.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| PasskeyView {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                backup_eligible: r.backup_eligible,
                backup_state: r.backup_state,
            })
            .collect(),
    ))
}

/// Starts registering a passkey for me (also as the second factor a municipality requires,
/// from a session that may only enrol one).
#[utoipa::path(post, path = "/api/me/passkeys/register", tag = "me",
    responses((status = 200, body = CeremonyStart),
              (status = 401, body = crate::error::ErrorBody),
              (status = 409, description = "`passkeys_unavailable`: the server's public URL has no domain name", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn register_start(
    AnySession(session): AnySession,
    State(state): State<AppState>,
) -> Result<Json<CeremonyStart>> {
    let webauthn = relying_party(&state)?;
    let user = &session.user;
    let municipality = state
        .db
        .municipality(user.municipality)
        .await?
        .ok_or_else(|| Error::internal("user without municipality"))?;
    let existing = state
        .db
        .passkeys_of(user.id)
        .await?
        .iter()
        .map(|row| passkey::parse(row).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>>>()?;
    let account = format!("{}/{}", municipality.slug, user.login_id);
    let (options, registration) = webauthn
        .start_passkey_registration(
            passkey::user_handle(user.id),
            &account,
            &user.display_name,
            Some(existing),
        )
        .map_err(|e| Error::internal(format!("passkey registration: {e}")))?;
    let mut options = options_json(&options)?;
    passkey::prefer_discoverable(&mut options);
    let ceremony = new_token();
    state
        .db
        .put_ceremony(
            &token_hash(&ceremony),
            CeremonyKind::Register,
            Some(user.id),
            Some(session.id.as_str()),
            &passkey::to_state(&registration)?,
            ceremony_expiry(),
        )
        .await?;
    Ok(Json(CeremonyStart { ceremony, options }))
}

/// Finishes registering: checks what the authenticator made against the ceremony and keeps
/// the passkey. If it is my first second factor, my other sessions end (as when TOTP is
/// turned on). A forged or garbled credential is refused (400 `passkey_rejected`) and
/// audited.
#[utoipa::path(post, path = "/api/me/passkeys/register/finish", tag = "me",
    request_body = RegistrationFinish,
    responses((status = 200, body = PasskeyView),
              (status = 400, description = "`passkey_rejected`: unknown or expired ceremony, or a credential that does not verify", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 409, description = "This authenticator's passkey is registered already", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn register_finish(
    AnySession(session): AnySession,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegistrationFinish>,
) -> Result<Json<PasskeyView>> {
    let webauthn = relying_party(&state)?;
    let user = &session.user;
    // Before the ceremony is used up, so a bad name costs no second ceremony.
    crate::domain::text::optional_line(&req.name, usize::MAX)
        .map_err(|problem| Error::BadRequest(format!("name {problem}")))?;
    let audit_failure = |why: &str| {
        user.audit(AuditAction::PasskeyRegisterFailed)
            .detail(why.to_owned())
    };
    let ceremony = if looks_like_token(&req.ceremony) {
        state
            .db
            .take_ceremony(&token_hash(&req.ceremony), CeremonyKind::Register)
            .await?
    } else {
        None
    };
    let ceremony = match ceremony {
        Some(c)
            if c.user == Some(user.id) && c.session_id.as_deref() == Some(session.id.as_str()) =>
        {
            c
        }
        _ => {
            state.db.audit(audit_failure("unknown ceremony")).await?;
            return Err(Error::PasskeyRejected(
                "登録の手続きが見つからないか期限切れです。(Unknown or expired registration.)",
            ));
        }
    };
    let registration: PasskeyRegistration = passkey::from_state(&ceremony.state)?;
    let new = serde_json::from_value::<RegisterPublicKeyCredential>(req.credential)
        .map_err(|_| "unreadable credential".to_owned())
        .and_then(|credential| {
            webauthn
                .finish_passkey_registration(&credential, &registration)
                .map_err(|e| format!("not verified: {e}"))
        });
    let new = match new {
        Ok(new) => new,
        Err(why) => {
            state.db.audit(audit_failure(&why)).await?;
            return Err(Error::PasskeyRejected(
                "認証器の応答を確認できませんでした。(The authenticator's answer did not verify.)",
            ));
        }
    };
    let first_factor = state.db.totp_state(user.id).await?.secret.is_none()
        && state.db.passkey_count(user.id).await? == 0;
    let name: String = match req.name.trim() {
        "" => "パスキー".to_owned(),
        name => name.chars().take(MAX_NAME).collect(),
    };
    let credential_id = passkey::credential_id(&new);
    let (counter, backup_eligible, backup_state) = passkey::counter_and_flags(&new);
    let id = state
        .db
        .add_passkey(&NewPasskey {
            user: user.id,
            credential_id: &credential_id,
            name: &name,
            passkey: &passkey::to_state(&new)?,
            counter,
            backup_eligible,
            backup_state,
        })
        .await?;
    let ended = if first_factor {
        crate::auth::end_other_sessions(
            &state,
            user.id,
            Some(&session.id),
            renraku_sync::SessionEnd::SecondFactorEnabled,
        )
        .await?
    } else {
        0
    };
    let entry = user
        .audit(AuditAction::PasskeyRegistered)
        .detail(format!("passkey/{id}; other sessions ended: {ended}"));
    state.db.audit(entry).await?;
    Ok(Json(PasskeyView {
        id,
        name,
        created_at: now_ms(),
        last_used_at: None,
        backup_eligible,
        backup_state,
    }))
}

/// Removes one of my passkeys. Where the municipality requires a second factor and this was
/// my last one, my sessions are then restricted to enrolling again.
#[utoipa::path(delete, path = "/api/me/passkeys/{id}", tag = "me",
    params(("id" = i64, Path, description = "The passkey's id from the list")),
    responses((status = 204, description = "Removed"),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "Not one of my passkeys", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn remove(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode> {
    let id: i64 = id.parse().map_err(|_| Error::NotFound)?;
    let user = &session.user;
    if state.db.remove_passkey(user.id, id).await?.is_none() {
        return Err(Error::NotFound);
    }
    let entry = user
        .audit(AuditAction::PasskeyRemoved)
        .detail(format!("passkey/{id}"));
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign-in with a passkey. With `login_id` and `password`, the passkey is the second factor:
/// the password first (throttled and audited as for `/signin`), then the options for
/// `navigator.credentials.get()` with the account's passkeys. Without them, password-less:
/// the options name no credential, and the authenticator offers the passkeys it holds for
/// this site (those registered as discoverable), naming the account itself.
#[utoipa::path(post, path = "/api/{municipality}/signin/passkey", tag = "session",
    params(("municipality" = String, Path, description = "Municipality slug")),
    request_body = PasskeySigninStart,
    responses((status = 200, body = CeremonyStart),
              (status = 400, description = "`passkey_rejected`: the account has no passkey, or only one of login id and password", body = crate::error::ErrorBody),
              (status = 401, description = "`bad_credentials`", body = crate::error::ErrorBody),
              (status = 404, description = "No such municipality", body = crate::error::ErrorBody),
              (status = 409, description = "`passkeys_unavailable`", body = crate::error::ErrorBody),
              (status = 429, description = "Too many failed attempts; see `Retry-After`", body = crate::error::ErrorBody)))]
pub async fn signin_start(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<PasskeySigninStart>,
) -> Result<Json<CeremonyStart>> {
    let webauthn = relying_party(&state)?;
    let (options, user, state_json) = match (req.login_id, req.password) {
        (Some(login_id), Some(password)) => {
            let PasswordChecked { user, .. } =
                check_password(&state, &slug, &login_id, password, addr).await?;
            let (options, authentication) = start_assertion(
                &state,
                webauthn,
                user,
                "このアカウントにはパスキーが登録されていません。(This account has no passkey.)",
            )
            .await?;
            (
                options_json(&options)?,
                Some(user),
                passkey::to_state(&authentication)?,
            )
        }
        (None, None) => {
            state
                .db
                .municipality_by_slug(&slug)
                .await?
                .ok_or(Error::NotFound)?;
            let (options, authentication) = webauthn
                .start_discoverable_authentication()
                .map_err(|e| Error::internal(format!("passkey authentication: {e}")))?;
            let mut options = options_json(&options)?;
            // webauthn-rs asks for conditional mediation (autofill); the app asks with a
            // button instead, which every browser with passkeys supports.
            if let Some(o) = options.as_object_mut() {
                o.remove("mediation");
            }
            (options, None, passkey::to_state(&authentication)?)
        }
        _ => {
            return Err(Error::PasskeyRejected(
                "ログイン ID とパスワードを両方入力するか、どちらも入力しないでください。(Give both login id and password, or neither.)",
            ))
        }
    };
    let ceremony = new_token();
    state
        .db
        .put_ceremony(
            &token_hash(&ceremony),
            CeremonyKind::Signin,
            user,
            None,
            &state_json,
            ceremony_expiry(),
        )
        .await?;
    Ok(Json(CeremonyStart { ceremony, options }))
}

/// Finishes a passkey sign-in: the assertion must verify against one of the account's
/// passkeys and the ceremony's challenge (each ceremony answers once). Then the session
/// starts as for `/signin`. The passkey's counter and backup flags are updated; failures
/// are audited (`signin.passkey_failed`) and count against the account.
#[utoipa::path(post, path = "/api/{municipality}/signin/passkey/finish", tag = "session",
    params(("municipality" = String, Path, description = "Municipality slug")),
    request_body = PasskeySigninFinish,
    responses((status = 200, body = super::session::SigninResponse),
              (status = 400, description = "`passkey_rejected`: unknown or expired ceremony", body = crate::error::ErrorBody),
              (status = 401, description = "`bad_second_factor`: the assertion did not verify", body = crate::error::ErrorBody),
              (status = 429, description = "Too many failed attempts; see `Retry-After`", body = crate::error::ErrorBody)))]
pub async fn signin_finish(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PasskeySigninFinish>,
) -> Result<Response> {
    let webauthn = relying_party(&state)?;
    let municipality = state
        .db
        .municipality_by_slug(&slug)
        .await?
        .ok_or(Error::NotFound)?;
    let m = municipality.id;
    let ceremony = if looks_like_token(&req.ceremony) {
        state
            .db
            .take_ceremony(&token_hash(&req.ceremony), CeremonyKind::Signin)
            .await?
    } else {
        None
    };
    let expired = || {
        Error::PasskeyRejected(
            "サインインの手続きが見つからないか期限切れです。最初からやり直してください。(Unknown or expired sign-in: start again.)",
        )
    };
    let Some(ceremony) = ceremony else {
        return Err(expired());
    };
    let credential = serde_json::from_value::<PublicKeyCredential>(req.credential);
    // Whose sign-in this is: the ceremony's user, or (password-less) the one the
    // authenticator names.
    let named = match (ceremony.user, &credential) {
        (Some(user), _) => Some(user),
        (None, Ok(credential)) => webauthn
            .identify_discoverable_authentication(credential)
            .ok()
            .and_then(|(handle, _)| passkey::user_of_handle(handle)),
        (None, Err(_)) => None,
    };
    let profile = match named {
        Some(user) => state.db.user(user).await?,
        None => None,
    };
    let Some(profile) = profile.filter(|p| p.municipality == m) else {
        state.throttle.failed(m.get(), "", addr).await?;
        let entry = AuditEntry::new(AuditAction::SigninPasskeyFailed, "")
            .in_municipality(m)
            .detail("no account of this municipality named");
        state.db.audit(entry).await?;
        return Err(Error::BadSecondFactor);
    };
    if profile.disabled {
        return Err(Error::BadCredentials);
    }
    let login_id = profile.login_id.clone();
    state
        .throttle
        .check(m.get(), &login_id, addr)
        .await?
        .map_err(Error::retry_after)?;
    let used = match credential {
        Err(_) => Err("unreadable credential".to_owned()),
        Ok(credential) => {
            let verified = if ceremony.user.is_some() {
                let authentication: PasskeyAuthentication = passkey::from_state(&ceremony.state)?;
                webauthn.finish_passkey_authentication(&credential, &authentication)
            } else {
                let discovery: DiscoverableAuthentication = passkey::from_state(&ceremony.state)?;
                let keys: Vec<DiscoverableKey> = state
                    .db
                    .passkeys_of(profile.id)
                    .await?
                    .iter()
                    .map(|row| passkey::parse(row).map(|p| DiscoverableKey::from(&p)))
                    .collect::<Result<_>>()?;
                webauthn.finish_discoverable_authentication(&credential, discovery, &keys)
            };
            match verified {
                Ok(result) => record_use(&state, profile.id, &result).await?,
                Err(e) => Err(format!("not verified: {e}")),
            }
        }
    };
    let used = match used {
        Ok(id) => id,
        Err(why) => {
            state.throttle.failed(m.get(), &login_id, addr).await?;
            let entry = AuditEntry::new(AuditAction::SigninPasskeyFailed, login_id.clone())
                .by(profile.id, m)
                .detail(why);
            state.db.audit(entry).await?;
            return Err(Error::BadSecondFactor);
        }
    };
    state.throttle.succeeded(m.get(), &login_id).await?;
    let how = if ceremony.user.is_some() {
        "after the password"
    } else {
        "password-less"
    };
    let entry = AuditEntry::new(AuditAction::PasskeyUsed, login_id.clone())
        .by(profile.id, m)
        .detail(format!("passkey/{used}; {how}"));
    state.db.audit(entry).await?;
    start_session(&state, &headers, municipality, profile.id, &login_id, false).await
}

/// Checks an assertion against a ceremony's state and the user's passkeys, and records the
/// counter and backup flags the authenticator reported. The passkey's id, or why not (for
/// the audit log; never sent).
async fn verify_assertion(
    state: &AppState,
    webauthn: &Webauthn,
    user: UserId,
    ceremony_state: &str,
    credential: serde_json::Value,
) -> Result<Result<i64, String>> {
    let authentication: PasskeyAuthentication = passkey::from_state(ceremony_state)?;
    let result = serde_json::from_value::<PublicKeyCredential>(credential)
        .map_err(|_| "unreadable credential".to_owned())
        .and_then(|credential| {
            webauthn
                .finish_passkey_authentication(&credential, &authentication)
                .map_err(|e| format!("not verified: {e}"))
        });
    match result {
        Ok(result) => record_use(state, user, &result).await,
        Err(why) => Ok(Err(why)),
    }
}

/// Records a verified assertion on the stored passkey: counter, backup flags, last use. The
/// passkey's id, or why not.
async fn record_use(
    state: &AppState,
    user: UserId,
    result: &AuthenticationResult,
) -> Result<Result<i64, String>> {
    let used_id = passkey::encode_id(result.cred_id().as_ref());
    let stored = state
        .db
        .passkeys_of(user)
        .await?
        .into_iter()
        .find(|row| row.credential_id == used_id);
    // Removed between the two requests.
    let Some(stored) = stored else {
        return Ok(Err("passkey removed meanwhile".to_owned()));
    };
    let mut key = passkey::parse(&stored)?;
    key.update_credential(result);
    state
        .db
        .passkey_used(
            user,
            &used_id,
            &PasskeyUse {
                passkey: &passkey::to_state(&key)?,
                counter: i64::from(result.counter()),
                backup_eligible: result.backup_eligible(),
                backup_state: result.backup_state(),
            },
        )
        .await?;
    Ok(Ok(stored.id))
}

/// Unlocking the app after its idle lock with a passkey instead of the password: the options
/// for `navigator.credentials.get()` with my passkeys.
#[utoipa::path(post, path = "/api/me/unlock/passkey", tag = "me",
    responses((status = 200, body = CeremonyStart),
              (status = 400, description = "`passkey_rejected`: I have no passkey", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 409, description = "`passkeys_unavailable`", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn unlock_start(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
) -> Result<Json<CeremonyStart>> {
    let webauthn = relying_party(&state)?;
    let user = session.user.id;
    let (options, authentication) = start_assertion(
        &state,
        webauthn,
        user,
        "パスキーが登録されていません。(You have no passkey.)",
    )
    .await?;
    let ceremony = new_token();
    state
        .db
        .put_ceremony(
            &token_hash(&ceremony),
            CeremonyKind::Unlock,
            Some(user),
            Some(session.id.as_str()),
            &passkey::to_state(&authentication)?,
            ceremony_expiry(),
        )
        .await?;
    Ok(Json(CeremonyStart {
        ceremony,
        options: options_json(&options)?,
    }))
}

/// Finishes unlocking with a passkey. Failures count against the account's sign-in budget
/// and are audited (`app.unlock_failed`), as are unlocks (`app.unlocked`).
#[utoipa::path(post, path = "/api/me/unlock/passkey/finish", tag = "me",
    request_body = PasskeySigninFinish,
    responses((status = 204, description = "Unlocked"),
              (status = 400, description = "`passkey_rejected`: unknown or expired ceremony, or an assertion that does not verify", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn unlock_finish(
    CurrentSession(session): CurrentSession,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<PasskeySigninFinish>,
) -> Result<StatusCode> {
    let webauthn = relying_party(&state)?;
    let user = &session.user;
    let (m, login) = (user.municipality.get(), user.login_id.as_str());
    state
        .throttle
        .check(m, login, addr)
        .await?
        .map_err(Error::retry_after)?;
    let ceremony = if looks_like_token(&req.ceremony) {
        state
            .db
            .take_ceremony(&token_hash(&req.ceremony), CeremonyKind::Unlock)
            .await?
    } else {
        None
    };
    let outcome = match ceremony {
        Some(c)
            if c.user == Some(user.id) && c.session_id.as_deref() == Some(session.id.as_str()) =>
        {
            verify_assertion(&state, webauthn, user.id, &c.state, req.credential).await?
        }
        _ => Err("unknown ceremony".to_owned()),
    };
    let entry = user.audit(AuditAction::AppUnlocked);
    match outcome {
        Ok(id) => {
            let entry = entry.detail(format!("session/{}; passkey/{id}", session.id));
            state.db.audit(entry).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(why) => {
            state.throttle.failed(m, login, addr).await?;
            let entry = AuditEntry {
                action: AuditAction::AppUnlockFailed,
                ..entry.detail(format!("session/{}; {why}", session.id))
            };
            state.db.audit(entry).await?;
            Err(Error::PasskeyRejected(
                "パスキーを確認できませんでした。(The passkey did not verify.)",
            ))
        }
    }
}
