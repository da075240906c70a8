//! A municipality's accounts: create, change, disable (ending sessions and live
//! connections at once), reset passwords.

use super::guard::{opt_text, text, Admin};
use crate::auth;
use crate::db::users::{NewUser, Role, UserListing, UserUpdate};
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{CreatedAccount, Disabled, NewAccount, PasswordReset};
use renraku_sync::{MunicipalityId, OrganizationId, UserId};

/// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I): ~90 bits.
pub(crate) fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479";
    let bytes: [u8; 16] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

pub(crate) fn check_login_id(login: &str) -> Result<()> {
    let ok = (1..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "login_id: 1–64 ASCII letters, digits or . _ - @".into(),
        ))
    }
}

/// A municipality admin may grant member and municipality_admin; only a system admin may
/// grant (or take away) system_admin.
fn check_role_grant(admin: &Admin, role: Option<Role>) -> Result<()> {
    if role == Some(Role::SystemAdmin) {
        admin.require_system()?;
    }
    Ok(())
}

async fn check_organization(
    state: &AppState,
    org: Option<OrganizationId>,
    m: MunicipalityId,
) -> Result<()> {
    match org {
        Some(o) if o.get() != 0 => {
            if state.db.organization_municipality(o).await? != Some(m) {
                return Err(Error::BadRequest(
                    "organization: not one of this municipality's".into(),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The account, if this administrator manages its municipality.
async fn managed_user(state: &AppState, admin: &Admin, id: i64) -> Result<UserListing> {
    let profile = state
        .db
        .user(UserId::new(id))
        .await?
        .ok_or(Error::NotFound)?;
    admin.require_manages(profile.municipality)?;
    if profile.role == Role::SystemAdmin {
        admin.require_system()?;
    }
    Ok(UserListing::new(
        profile.profile(),
        profile.disabled,
        profile.must_change_password,
    ))
}

/// The municipality's accounts.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/users", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<UserListing>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<UserListing>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.users_of_municipality(m.id).await?))
}

/// Creates an account with a temporary password that must be changed at the first sign-in.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/users", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewAccount,
    responses((status = 201, body = CreatedAccount),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "The login id is taken", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<CreatedAccount>)> {
    let m = admin.municipality(&state, &slug).await?;
    check_login_id(&req.login_id)?;
    check_role_grant(&admin, req.role)?;
    check_organization(&state, req.organization, m.id).await?;
    let display_name = text("display_name", &req.display_name, 100)?;
    let kana = text("display_name_kana", &req.display_name_kana, 100)?;
    let password = temporary_password();
    let hash = auth::hash_password(password.clone()).await?;
    let id = state
        .db
        .create_user(&NewUser {
            municipality: m.id,
            organization: req.organization.filter(|o| o.get() != 0),
            login_id: &req.login_id,
            password_hash: &hash,
            display_name: &display_name,
            display_name_kana: &kana,
            profession: req.profession,
            role: req.role.unwrap_or(Role::Member),
        })
        .await?;
    state.db.reset_password_hash(id, &hash).await?;
    state
        .db
        .audit(
            admin
                .entry(
                    AuditAction::AdminUserCreate,
                    Some(m.id),
                    format!("user/{id}"),
                )
                .detail(format!(
                    "role: {}",
                    req.role.unwrap_or(Role::Member).as_str()
                )),
        )
        .await?;
    let user = managed_user(&state, &admin, id.get()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAccount {
            user,
            temporary_password: password,
        }),
    ))
}

/// Changes an account's name, profession, role or organization.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path)),
    request_body = UserUpdate,
    responses((status = 200, body = UserListing),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut req): ApiJson<UserUpdate>,
) -> Result<Json<UserListing>> {
    let before = managed_user(&state, &admin, id).await?;
    let m = before.municipality;
    check_role_grant(&admin, req.role)?;
    check_organization(&state, req.organization, m).await?;
    if before.id == admin.0.id && req.role.is_some_and(|r| r != before.role) {
        // Otherwise the last administrator could lock everyone out by accident.
        return Err(Error::BadRequest("you cannot change your own role".into()));
    }
    req.display_name = opt_text("display_name", req.display_name.as_deref(), 100)?;
    req.display_name_kana = opt_text("display_name_kana", req.display_name_kana.as_deref(), 100)?;
    state.db.update_user(before.id, &req).await?;
    let target = format!("user/{id}");
    if let Some(role) = req.role.filter(|r| *r != before.role) {
        let detail = format!("{} -> {}", before.role.as_str(), role.as_str());
        let entry = admin
            .entry(AuditAction::AdminUserRole, Some(m), &target)
            .detail(detail);
        state.db.audit(entry).await?;
    }
    if let Some(p) = req.profession.filter(|p| *p != before.profession) {
        let detail = format!("{} -> {}", before.profession.as_str(), p.as_str());
        let entry = admin
            .entry(AuditAction::AdminUserProfession, Some(m), &target)
            .detail(detail);
        state.db.audit(entry).await?;
    }
    state
        .db
        .audit(admin.entry(AuditAction::AdminUserUpdate, Some(m), &target))
        .await?;
    Ok(Json(managed_user(&state, &admin, id).await?))
}

/// Disables an account: its sessions and room tokens end, and its open WebSocket connections
/// are closed at once.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = Disabled),
              (status = 400, description = "Your own account", body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn disable_user(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Disabled>> {
    let user = managed_user(&state, &admin, id).await?;
    if user.id == admin.0.id {
        return Err(Error::BadRequest(
            "you cannot disable your own account".into(),
        ));
    }
    let uid = user.id;
    // Disabled first: a connection authenticating concurrently re-checks it after
    // registering, so none slips between these steps.
    state.db.set_user_disabled(uid, true).await?;
    let sessions_ended = state.db.end_all_sessions(uid).await?;
    let connections_closed = state
        .hub
        .disconnect_user(uid, renraku_sync::SessionEnd::AccountDisabled);
    state
        .db
        .audit(
            admin
                .entry(
                    AuditAction::AdminUserDisable,
                    Some(user.municipality),
                    format!("user/{id}"),
                )
                .detail(format!(
                    "sessions ended: {sessions_ended}; connections closed: {connections_closed}"
                )),
        )
        .await?;
    Ok(Json(Disabled {
        sessions_ended,
        connections_closed,
    }))
}

/// Enables a disabled account again (it signs in afresh).
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn enable_user(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    let user = managed_user(&state, &admin, id).await?;
    state.db.set_user_disabled(user.id, false).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminUserEnable,
            Some(user.municipality),
            format!("user/{id}"),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a temporary password that must be changed at the next sign-in; ends the account's
/// sessions and connections.
#[utoipa::path(post, path = "/api/admin/users/{id}/reset-password", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = PasswordReset),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PasswordReset>> {
    let user = managed_user(&state, &admin, id).await?;
    let password = temporary_password();
    let hash = auth::hash_password(password.clone()).await?;
    let uid = user.id;
    state.db.reset_password_hash(uid, &hash).await?;
    let sessions_ended = state.db.end_all_sessions(uid).await?;
    state
        .hub
        .disconnect_user(uid, renraku_sync::SessionEnd::PasswordReset);
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminUserPasswordReset,
            Some(user.municipality),
            format!("user/{id}"),
        ))
        .await?;
    Ok(Json(PasswordReset {
        temporary_password: password,
        sessions_ended,
    }))
}
