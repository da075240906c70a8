//! お知らせ: a municipality's (by its administrators) and system-wide ones (by system
//! administrators). Shown on the portal (`GET /api/municipalities/{slug}`).

use super::guard::{paragraph, text, Admin};
use crate::db::announcements::Announcement;
use crate::db::now_ms;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::NewAnnouncement;
use renraku_sync::MunicipalityId;

async fn create(
    state: &AppState,
    admin: &Admin,
    m: Option<MunicipalityId>,
    req: NewAnnouncement,
) -> Result<Announcement> {
    let title = text("title", &req.title, 200)?;
    let body = paragraph("body", &req.body, 5000)?;
    let starts_at = req.starts_at.unwrap_or_else(now_ms);
    if req.ends_at.is_some_and(|end| end <= starts_at) {
        return Err(Error::BadRequest("ends_at must be after starts_at".into()));
    }
    let id = state
        .db
        .create_announcement(m, &title, &body, starts_at, req.ends_at, admin.0.id)
        .await?;
    let mut entry = admin.entry(
        AuditAction::AdminAnnouncementCreate,
        m,
        format!("announcement/{id}"),
    );
    entry.municipality = m;
    state.db.audit(entry).await?;
    state.db.announcement(id).await?.ok_or(Error::NotFound)
}

/// The municipality's announcements, past, current and scheduled.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/announcements", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Announcement>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_announcements(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<Announcement>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.announcements_of(Some(m.id)).await?))
}

/// Posts an announcement to the municipality's portal and home screen.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/announcements", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewAnnouncement,
    responses((status = 201, body = Announcement),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_announcement(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>)> {
    let m = admin.municipality(&state, &slug).await?;
    let a = create(&state, &admin, Some(m.id), req).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// System-wide announcements.
#[utoipa::path(get, path = "/api/admin/announcements", tag = "admin_system",
    responses((status = 200, body = Vec<Announcement>),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_system_announcements(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Vec<Announcement>>> {
    admin.require_system()?;
    Ok(Json(state.db.announcements_of(None).await?))
}

/// Posts an announcement to every municipality.
#[utoipa::path(post, path = "/api/admin/announcements", tag = "admin_system",
    request_body = NewAnnouncement,
    responses((status = 201, body = Announcement),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_system_announcement(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>)> {
    admin.require_system()?;
    let a = create(&state, &admin, None, req).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Deletes an announcement: a municipality's by its administrators, a system-wide one by
/// system administrators.
#[utoipa::path(delete, path = "/api/admin/announcements/{id}", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn delete_announcement(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    let a = state.db.announcement(id).await?.ok_or(Error::NotFound)?;
    match a.municipality {
        Some(m) => admin.require_manages(m)?,
        None => admin.require_system()?,
    }
    state.db.delete_announcement(id).await?;
    let mut entry = admin.entry(
        AuditAction::AdminAnnouncementDelete,
        a.municipality,
        format!("announcement/{id}"),
    );
    entry.municipality = a.municipality;
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
