//! The audit log for administrators: a municipality's entries (its own people's acts, and
//! accesses to its rooms by anyone), as JSON or CSV; the chain check for system admins.

use super::guard::Admin;
use crate::db::audit::{AuditFilter, AuditQuery, AuditRow, ChainReport, MAX_AUDIT_ROWS};
use crate::domain::audit::AuditAction;
use crate::error::Result;
use crate::http::{ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The municipality's audit log, newest first, filtered.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/audit", tag = "admin",
    params(("slug" = String, Path), AuditQuery),
    responses((status = 200, body = Vec<AuditRow>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_audit(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>> {
    let mut filter = AuditFilter::from(query);
    filter.check_limit()?;
    let m = admin.municipality(&state, &slug).await?;
    filter.municipality = Some(m.id);
    let rows = state.db.audit_rows(&filter).await?;
    // Reading the log is itself an access worth recording.
    state
        .db
        .audit(admin.entry(AuditAction::AdminAuditView, Some(m.id), &slug))
        .await?;
    Ok(Json(rows))
}

/// One CSV field, quoted when needed (RFC 4180), and defused for spreadsheets: a leading
/// `=`, `+`, `-` or `@` would otherwise be run as a formula when the file is opened.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub fn to_csv(rows: &[AuditRow]) -> String {
    let mut out = String::from("seq,at,user_id,municipality_id,action,target,detail,hash\r\n");
    for r in rows {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            r.seq,
            r.at,
            opt(r.user_id),
            opt(r.municipality_id),
            csv_field(&r.action),
            csv_field(&r.target),
            csv_field(&r.detail),
            r.hash
        ));
    }
    out
}

/// The same rows as CSV (UTF-8 with BOM, so spreadsheet software reads the Japanese).
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/audit.csv", tag = "admin",
    params(("slug" = String, Path), AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn export_audit_csv(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response> {
    let mut filter = AuditFilter::from(query);
    filter.check_limit()?;
    let m = admin.municipality(&state, &slug).await?;
    filter.municipality = Some(m.id);
    filter.limit = Some(filter.limit.unwrap_or(MAX_AUDIT_ROWS));
    let rows = state.db.audit_rows(&filter).await?;
    state
        .db
        .audit(
            admin
                .entry(AuditAction::AdminAuditExport, Some(m.id), &slug)
                .detail(format!("rows: {}", rows.len())),
        )
        .await?;
    let body = format!("\u{feff}{}", to_csv(&rows));
    let disposition = format!("attachment; filename=\"audit-{slug}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Recomputes the whole hash chain: edits, deletions and a cut-off tail show up as problems.
#[utoipa::path(get, path = "/api/admin/audit/verify", tag = "admin_system",
    responses((status = 200, body = ChainReport),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn verify_chain(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<ChainReport>> {
    admin.require_system()?;
    Ok(Json(state.db.verify_audit_chain().await?))
}
