//! A municipality's shared 定型文 (templates), kept by its administrators (and system
//! administrators): every professional of the municipality sees them in the composer's
//! picker (`GET /api/templates`). Users' own templates are not reached from here.

use super::guard::Admin;
use crate::db::templates::StoredTemplate;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::templates::checked;
use crate::http::{ApiJson, ApiPath};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use renraku_contract::{NewTemplate, Template, TEMPLATE_SHARED_MAX};
use renraku_sync::TemplateId;

/// The shared template `id`, if this administrator manages its municipality; a user's own
/// template is 404 here.
async fn shared(state: &AppState, admin: &Admin, id: TemplateId) -> Result<StoredTemplate> {
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    if t.owner.is_some() {
        return Err(Error::NotFound);
    }
    admin.require_manages(t.municipality)?;
    Ok(t)
}

/// The municipality's shared templates, in their order.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/templates", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Template>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_shared_templates(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Template>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.shared_templates(m.id).await?))
}

/// Adds a shared template for every professional of the municipality.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/templates", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewTemplate,
    responses((status = 201, body = Template),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_shared_template(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewTemplate>,
) -> Result<(StatusCode, Json<Template>)> {
    let m = admin.municipality(&state, &slug).await?;
    let (title, body, order) = checked(&req)?;
    if state.db.count_templates(m.id, None).await? >= TEMPLATE_SHARED_MAX as i64 {
        return Err(Error::BadRequest(format!(
            "at most {TEMPLATE_SHARED_MAX} shared templates; delete one first"
        )));
    }
    let id = state
        .db
        .create_template(m.id, None, &title, &body, order)
        .await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminTemplateCreate,
            Some(m.id),
            format!("template/{id}"),
        ))
        .await?;
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(t.template)))
}

/// Replaces a shared template's title, body and order.
#[utoipa::path(put, path = "/api/admin/templates/{id}", tag = "admin",
    params(("id" = i64, Path)),
    request_body = NewTemplate,
    responses((status = 200, body = Template),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_shared_template(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<TemplateId>,
    ApiJson(req): ApiJson<NewTemplate>,
) -> Result<Json<Template>> {
    let t = shared(&state, &admin, id).await?;
    let (title, body, order) = checked(&req)?;
    state.db.update_template(id, &title, &body, order).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminTemplateUpdate,
            Some(t.municipality),
            format!("template/{id}"),
        ))
        .await?;
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(t.template))
}

/// Deletes a shared template.
#[utoipa::path(delete, path = "/api/admin/templates/{id}", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn delete_shared_template(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<TemplateId>,
) -> Result<StatusCode> {
    let t = shared(&state, &admin, id).await?;
    state.db.delete_template(id).await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminTemplateDelete,
            Some(t.municipality),
            format!("template/{id}"),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
