//! Wide-area agreements (system administrators). Leaving one removes the room memberships
//! it allowed, and closes those rooms on their members' open connections.

use super::guard::{text, Admin};
use crate::db::agreements::{Agreement, AgreementId};
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{LeaveResult, NewAgreement};

/// Every agreement and its members.
#[utoipa::path(get, path = "/api/admin/agreements", tag = "admin_system",
    responses((status = 200, body = Vec<Agreement>),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_agreements(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Vec<Agreement>>> {
    admin.require_system()?;
    Ok(Json(state.db.agreements().await?))
}

/// Creates an agreement (with no members yet).
#[utoipa::path(post, path = "/api/admin/agreements", tag = "admin_system",
    request_body = NewAgreement,
    responses((status = 201, body = Agreement),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_agreement(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<NewAgreement>,
) -> Result<(StatusCode, Json<Agreement>)> {
    admin.require_system()?;
    let name = text("name", &req.name, 100)?;
    let id = state.db.create_agreement(&name).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminAgreementCreate,
            None,
            format!("agreement/{}", id.0),
        ))
        .await?;
    let a = state.db.agreement(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Adds a municipality to an agreement.
#[utoipa::path(put, path = "/api/admin/agreements/{id}/members/{slug}", tag = "admin_system",
    params(("id" = i64, Path), ("slug" = String, Path)),
    responses((status = 200, body = Agreement),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "Already a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn join_agreement(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((id, slug)): ApiPath<(i64, String)>,
) -> Result<Json<Agreement>> {
    admin.require_system()?;
    let id = AgreementId(id);
    state.db.agreement(id).await?.ok_or(Error::NotFound)?;
    let m = admin.municipality(&state, &slug).await?;
    state.db.join_agreement(id, m.id).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminAgreementJoin,
            Some(m.id),
            format!("agreement/{}", id.0),
        ))
        .await?;
    Ok(Json(state.db.agreement(id).await?.ok_or(Error::NotFound)?))
}

/// Removes a municipality from an agreement: professionals lose the rooms on the other side
/// that only this agreement let them into, at once (open connections included).
#[utoipa::path(delete, path = "/api/admin/agreements/{id}/members/{slug}", tag = "admin_system",
    params(("id" = i64, Path), ("slug" = String, Path)),
    responses((status = 200, body = LeaveResult),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn leave_agreement(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((id, slug)): ApiPath<(i64, String)>,
) -> Result<Json<LeaveResult>> {
    admin.require_system()?;
    let id = AgreementId(id);
    let m = admin.municipality(&state, &slug).await?;
    let lost = state
        .db
        .leave_agreement(id, m.id)
        .await?
        .ok_or(Error::NotFound)?;
    state
        .db
        .audit(
            admin
                .entry(
                    AuditAction::AdminAgreementLeave,
                    Some(m.id),
                    format!("agreement/{}", id.0),
                )
                .detail(format!("memberships removed: {}", lost.len())),
        )
        .await?;
    for access in &lost {
        state.hub.close_room_for(access.user, access.room);
        let mut entry = admin.entry(
            AuditAction::RoomMemberRemoved,
            None,
            format!("room/{}", access.room),
        );
        entry.municipality = None;
        state
            .db
            .audit(entry.detail(format!("user/{} (agreement left)", access.user)))
            .await?;
    }
    Ok(Json(LeaveResult {
        memberships_removed: lost.len(),
    }))
}
