//! Attachments over HTTP: upload into a room, list a room's attachments, download one or
//! its thumbnail. Members of the attachment's room only; every download is audited, and so
//! is every refused attempt.

use super::ApiPath;
use crate::attachments::{self, AttachmentId, BlobKey, FileName, Refusal};
use crate::auth::CurrentUser;
use crate::db::attachments::{AttachmentMeta, AttachmentMetaExt};
use crate::db::audit::AuditEntry;
use crate::db::now_ms;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use renraku_sync::RoomId;

/// The request header carrying the original file name, percent-encoded UTF-8 (optionally
/// as RFC 5987 `UTF-8''…`), since a raw header cannot hold Japanese.
pub const FILE_NAME_HEADER: &str = "x-renraku-file-name";
/// Served files are inert: no scripts, no plugins, no frames, even if a browser were to
/// render one.
const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

fn room_id(raw: &str) -> Result<RoomId> {
    raw.parse().map_err(|_| Error::NotFound)
}

fn attachment_id(raw: &str) -> Result<AttachmentId> {
    raw.parse().map_err(|_| Error::NotFound)
}

/// Refuses non-members, and records the attempt: a refused read of a patient's photo is
/// exactly what an administrator wants to see.
async fn require_member(
    state: &AppState,
    user: &CurrentUser,
    room: RoomId,
    action: &'static str,
    id: &AttachmentId,
) -> Result<()> {
    if state.db.is_member(room, user.id).await? {
        return Ok(());
    }
    let entry = AuditEntry::new(AuditAction::AttachmentDenied, format!("room/{room}"))
        .by(user.id, user.municipality)
        .detail(format!("{action} attachment/{id}"));
    state.db.audit(entry).await?;
    Err(Error::Forbidden)
}

/// Uploads an attachment under a client-chosen ULID. The body is the raw file; its name
/// comes in `X-Renraku-File-Name`. Repeating an upload that succeeded answers 200 with the
/// same attachment (so an offline client can retry blindly); another upload under a taken
/// id is 409.
#[utoipa::path(put, path = "/api/rooms/{id}/attachments/{attachment}", tag = "attachments",
    params(("id" = i64, Path, description = "Room id"),
           ("attachment" = String, Path, description = "Attachment id (a ULID made by the client)"),
           ("x-renraku-file-name" = String, Header, description = "Original file name, percent-encoded UTF-8")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentMeta),
              (status = 200, description = "Already uploaded", body = AttachmentMeta),
              (status = 400, description = "Bad file name, empty or cut-off upload", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody),
              (status = 409, description = "The id names another attachment", body = crate::error::ErrorBody),
              (status = 413, description = "Over the size limit (`too_large`), or a photo over the pixel limit (`image_too_large`)", body = crate::error::ErrorBody),
              (status = 415, description = "Type not allowed, or not what the name says", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((room, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let room = room_id(&room)?;
    let id = attachment_id(&id).map_err(|_| Error::BadRequest("attachment id".into()))?;
    require_member(&state, &user, room, "upload", &id).await?;
    if let Some(existing) = state.db.attachment(&id).await? {
        return if existing.room == room && existing.uploader == user.id {
            Ok((StatusCode::OK, Json(existing)).into_response())
        } else {
            Err(Error::Conflict)
        };
    }
    let name = FileName::from_header(
        headers
            .get(FILE_NAME_HEADER)
            .map(HeaderValue::as_bytes)
            .ok_or(Refusal::BadFileName(
                "ファイル名がありません (X-Renraku-File-Name missing)",
            ))?,
    )?;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = state.config.attachment_max_bytes;
    let stored = attachments::ingest(
        &state.attachments,
        &state.photos,
        limit,
        declared_len,
        &name,
        body,
    )
    .await?;
    let meta = AttachmentMeta {
        id: id.to_string(),
        room,
        uploader: user.id,
        name: name.as_str().to_owned(),
        mime: stored.kind.mime().to_owned(),
        size: i64::try_from(stored.size).map_err(Error::internal)?,
        sha256: stored.sha256.to_string(),
        has_thumbnail: stored.has_thumbnail,
        width: stored.dimensions.map(|(w, _)| i64::from(w)),
        height: stored.dimensions.map(|(_, h)| i64::from(h)),
        created_at: now_ms(),
    };
    match state.db.insert_attachment(&meta).await {
        Ok(()) => {}
        Err(Error::Conflict) => {
            // A concurrent upload under the same id won; identical content is the same
            // upload retried.
            let existing = state.db.attachment(&id).await?.ok_or(Error::Conflict)?;
            forget_unreferenced(&state, &stored.sha256).await;
            return if existing.room == room
                && existing.uploader == user.id
                && existing.sha256 == meta.sha256
            {
                Ok((StatusCode::OK, Json(existing)).into_response())
            } else {
                Err(Error::Conflict)
            };
        }
        Err(e) => {
            forget_unreferenced(&state, &stored.sha256).await;
            return Err(e);
        }
    }
    let entry = AuditEntry::new(AuditAction::AttachmentUpload, format!("room/{room}"))
        .by(user.id, user.municipality)
        .detail(format!("attachment/{id} {} {} bytes", meta.mime, meta.size));
    state.db.audit(entry).await?;
    Ok((StatusCode::CREATED, Json(meta)).into_response())
}

/// Deletes a blob that no row names (a lost race, a failed insert); best effort, since an
/// orphaned blob costs space, not safety.
async fn forget_unreferenced(state: &AppState, sha: &attachments::Sha256) {
    if let Ok(0) = state.db.blob_references(sha).await {
        let _ = state.attachments.delete(BlobKey::Thumbnail(sha)).await;
        let _ = state.attachments.delete(BlobKey::Original(sha)).await;
    }
}

/// The attachments uploaded to a room. Members only. An id a post names but this list
/// lacks has not arrived yet (its author is offline).
#[utoipa::path(get, path = "/api/rooms/{id}/attachments", tag = "attachments",
    params(("id" = i64, Path, description = "Room id")),
    responses((status = 200, body = Vec<AttachmentMeta>),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<Vec<AttachmentMeta>>> {
    let room = room_id(&room)?;
    if !state.db.is_member(room, user.id).await? {
        return Err(Error::Forbidden);
    }
    Ok(Json(state.db.room_attachments(room).await?))
}

/// Downloads an attachment. Members of its room only; audited. Images are served inline,
/// everything else as a download with its original name.
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "attachments",
    params(("id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member of its room", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    serve(&state, &user, &id, false).await
}

/// An image attachment's thumbnail (JPEG, at most 320 px). Members only; audited.
#[utoipa::path(get, path = "/api/attachments/{id}/thumbnail", tag = "attachments",
    params(("id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "JPEG thumbnail", content_type = "image/jpeg"),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member of its room", body = crate::error::ErrorBody),
              (status = 404, description = "No such attachment, or not an image", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn thumbnail(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    serve(&state, &user, &id, true).await
}

async fn serve(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    thumbnail: bool,
) -> Result<Response> {
    let id = attachment_id(id)?;
    let Some(meta) = state.db.attachment(&id).await? else {
        return Err(Error::NotFound);
    };
    let action = if thumbnail { "thumbnail" } else { "download" };
    require_member(state, user, meta.room, action, &id).await?;
    let sha = meta.blob()?;
    let kind = meta.kind()?;
    let (key, content_type, disposition) = if thumbnail {
        if !meta.has_thumbnail {
            return Err(Error::NotFound);
        }
        (BlobKey::Thumbnail(&sha), "image/jpeg", None)
    } else {
        let name = meta.file_name()?;
        (
            BlobKey::Original(&sha),
            kind.mime(),
            Some(name.content_disposition(kind.is_image())),
        )
    };
    let blob = state.attachments.get(key).await?.ok_or_else(|| {
        Error::internal(format!(
            "attachment {id}: its blob is missing from the store"
        ))
    })?;
    let entry = AuditEntry::new(
        if thumbnail {
            AuditAction::AttachmentThumbnail
        } else {
            AuditAction::AttachmentDownload
        },
        format!("room/{}", meta.room),
    )
    .by(user.id, user.municipality)
    .detail(format!("attachment/{id}"));
    state.db.audit(entry).await?;

    // Patient data: kept out of shared caches and off the disk of a shared PC.
    let mut response = blob_response(blob, content_type, DOWNLOAD_CSP, "private, no-store");
    let headers = response.headers_mut();
    if let Some(disposition) = disposition {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(Error::internal)?,
        );
    }
    Ok(response)
}

/// A stored file as the answer: its bytes streamed with their own type and length, never
/// sniffed into something else, under `csp` and `cache` (a post's file and a parking
/// space's photo differ only there).
pub(crate) fn blob_response(
    blob: attachments::store::Blob,
    content_type: &'static str,
    csp: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = Body::from_stream(blob.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
