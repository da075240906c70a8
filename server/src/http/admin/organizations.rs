//! A municipality's organizations (facilities).

use super::guard::{opt_text, text, Admin};
use crate::db::organizations::Organization;
use crate::domain::audit::AuditAction;
use crate::error::Result;
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{NewOrganization, OrganizationUpdate};
use renraku_sync::OrganizationId;

/// The municipality's organizations.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/organizations", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Organization>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_organizations(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Organization>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.organizations_of(m.id).await?))
}

/// Adds an organization.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/organizations", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewOrganization,
    responses((status = 201, body = Organization),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_organization(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewOrganization>,
) -> Result<(StatusCode, Json<Organization>)> {
    let m = admin.municipality(&state, &slug).await?;
    let name = text("name", &req.name, 100)?;
    let id = state.db.create_organization(m.id, &name, req.kind).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminOrganizationCreate,
            Some(m.id),
            format!("organization/{id}"),
        ))
        .await?;
    let org = Organization {
        id,
        municipality: m.id,
        name,
        kind: req.kind,
        user_count: 0,
    };
    Ok((StatusCode::CREATED, Json(org)))
}

/// Renames an organization or changes its kind.
#[utoipa::path(patch, path = "/api/admin/organizations/{id}", tag = "admin",
    params(("id" = i64, Path)),
    request_body = OrganizationUpdate,
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_organization(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<OrganizationUpdate>,
) -> Result<StatusCode> {
    let id = OrganizationId::new(id);
    let m = admin.require_owner(state.db.organization_municipality(id).await?)?;
    let name = opt_text("name", req.name.as_deref(), 100)?;
    state
        .db
        .update_organization(id, name.as_deref(), req.kind)
        .await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminOrganizationUpdate,
            Some(m),
            format!("organization/{id}"),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
