//! Export of a room's record to one's own chart (issue 18): members only, every export
//! audited (who, which room, format, period, how many posts). The record itself is
//! `server/src/record/`.

use super::rooms::{require_member, room_id};
use super::{ApiPath, ApiQuery};
use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::record;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use renraku_sync::PostId;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// Plain text to paste into a care or medical record.
    Text,
    /// CSV for Excel (UTF-8 with BOM).
    Csv,
    /// A4 PDF for printing or filing (Japanese font embedded; patient and period on every
    /// page). 503 when the server has no Japanese font.
    Pdf,
    /// A FHIR R4 (4.0.1) Bundle, `application/fhir+json` (docs/fhir-export.md).
    Fhir,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// `text`, `csv`, `pdf` or `fhir`.
    // Inline: the enum is no component of its own, and a `$ref` to it would point nowhere.
    #[param(inline)]
    pub format: RecordFormat,
    /// From (unix ms, inclusive); default: the beginning.
    pub from: Option<i64>,
    /// To (unix ms, inclusive); default: now.
    pub to: Option<i64>,
    /// Only this thread (its id: the id of its first post), whatever the period: "copy this
    /// thread".
    pub thread: Option<String>,
}

/// A room's posts in a period as text, CSV, PDF or a FHIR R4 Bundle, as a download.
#[utoipa::path(get, path = "/api/rooms/{room}/record", tag = "rooms",
    params(("room" = i64, Path), RecordQuery),
    responses((status = 200, description = "text/plain, text/csv (UTF-8 with BOM), application/pdf or application/fhir+json", body = String),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody),
              (status = 503, description = "PDF asked for and the server has no Japanese font", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn export_record(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let room = room_id(&room)?;
    require_member(&state, room, &user).await?;
    let thread = match &query.thread {
        Some(raw) => Some(
            PostId::parse(raw).ok_or_else(|| Error::BadRequest("thread: not a post id".into()))?,
        ),
        None => None,
    };
    let (from, to) = match thread {
        Some(_) => (i64::MIN, i64::MAX),
        None => (
            query.from.unwrap_or(0),
            query.to.unwrap_or(state.clock.now_ms()),
        ),
    };
    let mut rec = record::collect(&state.db, room, from, to).await?;
    if let Some(thread) = &thread {
        rec.threads.retain(|t| &t.root.post.id == thread);
        if rec.threads.is_empty() {
            return Err(Error::NotFound);
        }
    }
    let format = match query.format {
        RecordFormat::Text => "text",
        RecordFormat::Csv => "csv",
        RecordFormat::Fhir => "fhir",
        RecordFormat::Pdf => "pdf",
    };
    // Before the audit entry: an export the server cannot make is not one that happened.
    let font = match query.format {
        RecordFormat::Pdf => Some(pdf_font(&state).await?),
        _ => None,
    };
    let entry = AuditEntry::new(AuditAction::RoomRecordExport, format!("room/{room}"))
        .by(user.id, user.municipality)
        .detail(format!(
            "{}format={format} posts={} from={} to={}{}",
            rec.patient
                .map(|p| format!("patient/{p} "))
                .unwrap_or_default(),
            rec.posts(),
            query.from.unwrap_or(0),
            to,
            thread
                .as_ref()
                .map(|t| format!(" thread={t}"))
                .unwrap_or_default()
        ));
    state.db.audit(entry).await?;
    let stamp = record::jst_minutes(state.clock.now_ms()).replace([' ', ':', '-'], "");
    let (body, content_type, ext) = match query.format {
        RecordFormat::Text => (
            record::text::render(&rec).into_bytes(),
            "text/plain; charset=utf-8",
            "txt",
        ),
        RecordFormat::Csv => (record::csv::render(&rec)?, "text/csv; charset=utf-8", "csv"),
        RecordFormat::Pdf => {
            let font = font.ok_or_else(|| Error::internal("pdf font loaded above"))?;
            let printed_at = state.clock.now_ms();
            // Laying out and subsetting the font is CPU work: off the async workers.
            let pdf =
                tokio::task::spawn_blocking(move || record::pdf::render(&rec, &font, printed_at))
                    .await
                    .map_err(|e| Error::internal(format!("pdf render task: {e}")))??;
            (pdf, "application/pdf", "pdf")
        }
        RecordFormat::Fhir => {
            let base = super::security_txt::public_base(&state, &headers);
            let sources =
                record::fhir::gather(&state.db, room, &rec, base, state.clock.now_ms()).await?;
            (
                record::fhir::render(&rec, &sources)?,
                record::fhir::CONTENT_TYPE,
                "json",
            )
        }
    };
    // ASCII name plus RFC 5987's UTF-8 one; no patient name in it (file names travel).
    let disposition = format!("attachment; filename=\"renraku-room{room}-{stamp}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The PDF font, read once; a missing one is logged for the operator and looked for again at
/// the next PDF export.
async fn pdf_font(state: &AppState) -> Result<record::pdf::PdfFont> {
    state
        .pdf_font
        .get_or_try_init(|| async {
            let configured = state.config.pdf_font.clone();
            let found = tokio::task::spawn_blocking(move || {
                record::pdf::PdfFont::find(configured.as_deref())
            })
            .await
            .map_err(|e| Error::internal(format!("pdf font task: {e}")))?;
            match &found {
                Ok(font) => tracing::info!(font = %font.path.display(), "pdf export font"),
                Err(e) => tracing::warn!("pdf export unavailable: {e}"),
            }
            found
        })
        .await
        .cloned()
}
