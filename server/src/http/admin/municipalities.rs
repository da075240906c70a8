//! Municipalities (system administrators).

use super::guard::{text, Admin};
use crate::db::municipalities::Municipality;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{MunicipalityUpdate, NewMunicipality};

/// Slugs that would shadow the app's own paths.
const RESERVED: &[&str] = &["api", "ws", "yjs", "assets", "admin", "static"];

pub fn check_slug(slug: &str) -> Result<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !RESERVED.contains(&slug);
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "slug: 2–40 lower-case letters, digits or '-', not reserved".into(),
        ))
    }
}

/// Every municipality.
#[utoipa::path(get, path = "/api/admin/municipalities", tag = "admin_system",
    responses((status = 200, body = Vec<Municipality>),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_municipalities(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Vec<Municipality>>> {
    admin.require_system()?;
    Ok(Json(state.db.municipalities().await?))
}

/// Adds a municipality.
#[utoipa::path(post, path = "/api/admin/municipalities", tag = "admin_system",
    request_body = NewMunicipality,
    responses((status = 201, body = Municipality),
              (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "The slug is taken", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_municipality(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<NewMunicipality>,
) -> Result<(StatusCode, Json<Municipality>)> {
    admin.require_system()?;
    check_slug(&req.slug)?;
    let name = text("name", &req.name, 100)?;
    let id = state.db.create_municipality(&req.slug, &name).await?;
    state
        .db
        .audit(admin.entry(AuditAction::AdminMunicipalityCreate, Some(id), &req.slug))
        .await?;
    let m = state.db.municipality(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Renames a municipality or sets its second-factor policy.
#[utoipa::path(patch, path = "/api/admin/municipalities/{slug}", tag = "admin_system",
    params(("slug" = String, Path)),
    request_body = MunicipalityUpdate,
    responses((status = 200, body = Municipality),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_municipality(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<MunicipalityUpdate>,
) -> Result<Json<Municipality>> {
    admin.require_system()?;
    let m = admin.municipality(&state, &slug).await?;
    if let Some(name) = &req.name {
        let name = text("name", name, 100)?;
        state.db.rename_municipality(m.id, &name).await?;
    }
    if let Some(required) = req.require_second_factor {
        state.db.set_require_second_factor(m.id, required).await?;
    }
    let detail = format!(
        "name changed: {}; require_second_factor: {:?}",
        req.name.is_some(),
        req.require_second_factor
    );
    state
        .db
        .audit(
            admin
                .entry(AuditAction::AdminMunicipalityUpdate, Some(m.id), &slug)
                .detail(detail),
        )
        .await?;
    Ok(Json(
        state.db.municipality(m.id).await?.ok_or(Error::NotFound)?,
    ))
}
