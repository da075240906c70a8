//! Maintenance windows (system administrators), and the layer that answers 503 to everyone
//! but administrators while one is open.

use super::guard::Admin;
use crate::auth;
use crate::db::announcements::MaintenanceWindow;
use crate::db::users::Role;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
pub use renraku_contract::NewMaintenance;

/// Windows that have not ended yet.
#[utoipa::path(get, path = "/api/admin/maintenance", tag = "admin_system",
    responses((status = 200, body = Vec<MaintenanceWindow>),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_maintenance(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Vec<MaintenanceWindow>>> {
    admin.require_system()?;
    Ok(Json(state.db.maintenance_windows().await?))
}

/// Schedules maintenance: between the two times, everyone but administrators gets the
/// maintenance page (HTTP 503 `maintenance`), and new WebSocket connections are refused.
#[utoipa::path(post, path = "/api/admin/maintenance", tag = "admin_system",
    request_body = NewMaintenance,
    responses((status = 201, body = MaintenanceWindow),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_maintenance(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<NewMaintenance>,
) -> Result<(StatusCode, Json<MaintenanceWindow>)> {
    admin.require_system()?;
    if req.ends_at <= req.starts_at {
        return Err(Error::BadRequest("ends_at must be after starts_at".into()));
    }
    if req.message.chars().count() > 1000 {
        return Err(Error::BadRequest(
            "message is longer than 1000 characters".into(),
        ));
    }
    crate::domain::text::free_of_controls(&req.message)
        .map_err(|problem| Error::BadRequest(format!("message {problem}")))?;
    let m = match &req.municipality {
        Some(slug) => Some(admin.municipality(&state, slug).await?.id),
        None => None,
    };
    let id = state
        .db
        .create_maintenance(m, req.starts_at, req.ends_at, &req.message, admin.0.id)
        .await?;
    let mut entry = admin.entry(
        AuditAction::AdminMaintenanceCreate,
        m,
        format!("maintenance/{id}"),
    );
    entry.municipality = m;
    state
        .db
        .audit(entry.detail(format!("{}..{}", req.starts_at, req.ends_at)))
        .await?;
    let w = state
        .db
        .maintenance_window(id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// Cancels or ends a maintenance window.
#[utoipa::path(delete, path = "/api/admin/maintenance/{id}", tag = "admin_system",
    params(("id" = i64, Path)),
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn delete_maintenance(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    admin.require_system()?;
    let w = state
        .db
        .maintenance_window(id)
        .await?
        .ok_or(Error::NotFound)?;
    state.db.delete_maintenance(id).await?;
    let mut entry = admin.entry(
        AuditAction::AdminMaintenanceDelete,
        w.municipality,
        format!("maintenance/{id}"),
    );
    entry.municipality = w.municipality;
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Paths that work during maintenance: health, the API document, the portal (which says
/// there is maintenance), sign-in and sign-out (administrators must get in), and the admin
/// API (administrators only anyway). The app's files are served too, so it can show the
/// maintenance page.
pub(crate) fn exempt(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/ws" || path.starts_with("/yjs/"))
        || path == "/api/healthz"
        || path == "/api/openapi.json"
        || path.starts_with("/api/municipalities/")
        || path.starts_with("/api/admin/")
        || path == "/api/signout"
        || (path.ends_with("/signin") && path.matches('/').count() == 3)
}

/// Answers 503 `maintenance` to everyone but administrators while a window is open (their
/// municipality's or a system-wide one).
pub async fn maintenance_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if exempt(req.uri().path()) {
        return next.run(req).await;
    }
    // Cheap when nothing is scheduled: one indexed lookup.
    let any = match state.db.active_maintenance(None).await {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let session = match auth::session_token(&state.config, req.headers()) {
        Some(token) => auth::resolve_session(&state, &token).await.ok(),
        None => None,
    };
    let window = match (&any, &session) {
        (Some(w), _) => Some(w.clone()),
        (None, Some(s)) => match state.db.active_maintenance(Some(s.user.municipality)).await {
            Ok(w) => w,
            Err(e) => return e.into_response(),
        },
        (None, None) => None,
    };
    let Some(window) = window else {
        return next.run(req).await;
    };
    if session.is_some_and(|s| s.user.role != Role::Member) {
        return next.run(req).await;
    }
    let mut response = Error::Maintenance {
        message: window.message,
    }
    .into_response();
    let retry = ((window.ends_at - crate::db::now_ms()) / 1000).max(1);
    if let Ok(v) = axum::http::HeaderValue::from_str(&retry.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    response
}
