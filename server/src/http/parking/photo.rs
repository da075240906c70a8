//! A 駐車場 space's photo: the city uploads it (`PUT`), whoever sees the space reads it
//! (`GET`: the city, the space's lender, bookers), the city removes it (`DELETE`). The bytes
//! go through the attachments' ingest (streamed to a temporary file under a size limit,
//! typed by their bytes, metadata stripped — a photo taken on the spot carries its GPS —
//! decoded within the decode budget, thumbnailed) into the same store, so backups carry
//! them. Only JPEG, PNG and WebP are taken, decided by the leading bytes before anything is
//! kept. Uploads and removals are audited; reading a space's photo is not (it is no one's
//! medical data).

use super::Reader;
use crate::attachments::{self, BlobKey, FileName, Kind, Refusal, Sha256};
use crate::auth::CurrentUser;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::{ApiPath, ApiQuery};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use bytes::BytesMut;
use futures_util::StreamExt;
use renraku_contract::{PhotoQuery, Space, SpaceId, PARKING_PHOTO_MAX_BYTES};

/// Served photos are inert, as attachments are.
const PHOTO_CSP: &str = "default-src 'none'; sandbox";
/// The photo's URL names its version (`?v=`), so a day in the browser's own cache is safe;
/// `private` keeps it out of shared caches.
const PHOTO_CACHE: &str = "private, max-age=86400";
/// Enough leading bytes to tell JPEG, PNG and WebP apart.
const MAGIC_BYTES: usize = 12;

/// The photo type the leading bytes say, if they are one.
fn photo_kind(head: &[u8]) -> Option<Kind> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Kind::Webp)
    } else {
        None
    }
}

/// Uploads (or replaces) a space's photo (the city). The body is the image itself: JPEG,
/// PNG or WebP, told by its bytes; at most 10 MB (or the server's attachment limit, if
/// lower). Its metadata (location above all) is stripped before it is kept.
#[utoipa::path(put, path = "/api/parking/{slug}/spaces/{id}/photo", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 200, body = Space),
              (status = 400, description = "Empty or cut-off upload", body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 413, description = "Over the size limit (`too_large`) or the pixel limit (`image_too_large`)", body = crate::error::ErrorBody),
              (status = 415, description = "Not a JPEG, PNG or WebP photo, or a damaged one (`unsupported_type`)", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn put_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Space>> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = SpaceId(id);
    r.space(&state, id).await?;
    r.require_manage()?;
    let limit = PARKING_PHOTO_MAX_BYTES.min(state.config.attachment_max_bytes);
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > limit) {
        return Err(Refusal::TooLarge { limit }.into());
    }
    // The leading bytes decide before anything is written anywhere.
    let mut stream = body.into_data_stream();
    let mut head = BytesMut::new();
    while head.len() < MAGIC_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(Refusal::Incomplete.into()),
            None => break,
        }
    }
    if head.is_empty() {
        return Err(Refusal::EmptyFile.into());
    }
    let kind = photo_kind(&head).ok_or(Refusal::NotAPhoto)?;
    let extension = kind.extensions()[0];
    let name = FileName::parse(&format!("photo.{extension}"))?;
    let head = head.freeze();
    let whole = futures_util::stream::once(async move { Ok::<_, axum::Error>(head) }).chain(stream);
    let stored = attachments::ingest(
        &state.attachments,
        &state.photos,
        limit,
        declared_len,
        &name,
        Body::from_stream(whole),
    )
    .await?;
    let (width, height) = stored.dimensions.ok_or(Refusal::NotAPhoto)?;
    let sha = stored.sha256.to_string();
    let mime = stored.kind.mime();
    state
        .db
        .set_parking_photo(
            id,
            Some((&sha, mime, i64::from(width), i64::from(height))),
            &r.entry(
                AuditAction::ParkingSpacePhoto,
                format!("parking_space/{id}"),
            )
            .detail(format!("{mime} {} bytes {width}×{height}", stored.size)),
        )
        .await?;
    Ok(Json(
        state.db.parking_space(id).await?.ok_or(Error::NotFound)?,
    ))
}

/// A space's photo, or with `thumb=true` its JPEG thumbnail (at most 320 px) (the city, its
/// lender, bookers). 404 when it has none.
#[utoipa::path(get, path = "/api/parking/{slug}/spaces/{id}/photo", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path), PhotoQuery),
    responses((status = 200, description = "The photo", content_type = "image/jpeg"),
              (status = 404, description = "No such space, none of mine, or no photo", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<PhotoQuery>,
) -> Result<Response> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let space = r.space(&state, SpaceId(id)).await?;
    let Some(photo) = space.photo else {
        return Err(Error::NotFound);
    };
    let sha: Sha256 = state
        .db
        .parking_photo_blob(space.id)
        .await?
        .ok_or(Error::NotFound)?
        .parse()
        .map_err(Error::internal)?;
    let kind: Kind = photo.mime.parse().map_err(Error::internal)?;
    let (key, content_type) = if q.thumb.unwrap_or(false) {
        (BlobKey::Thumbnail(&sha), "image/jpeg")
    } else {
        (BlobKey::Original(&sha), kind.mime())
    };
    let blob = state.attachments.get(key).await?.ok_or_else(|| {
        Error::internal(format!(
            "parking space {id}: its photo is missing from the store"
        ))
    })?;
    Ok(crate::http::attachments::blob_response(
        blob,
        content_type,
        PHOTO_CSP,
        PHOTO_CACHE,
    ))
}

/// Removes a space's photo (the city). The bytes stay in the store, as a replaced one's do:
/// another space or a post may hold the same photo.
#[utoipa::path(delete, path = "/api/parking/{slug}/spaces/{id}/photo", tag = "parking",
    params(("slug" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn delete_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode> {
    let r = Reader::by_slug(&state, user, &slug).await?;
    let id = SpaceId(id);
    let space = r.space(&state, id).await?;
    r.require_manage()?;
    if space.photo.is_some() {
        state
            .db
            .set_parking_photo(
                id,
                None,
                &r.entry(
                    AuditAction::ParkingSpacePhotoDelete,
                    format!("parking_space/{id}"),
                ),
            )
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_bytes_tell_the_photo_type() {
        assert_eq!(photo_kind(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Kind::Jpeg));
        assert_eq!(
            photo_kind(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(Kind::Png)
        );
        assert_eq!(photo_kind(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(photo_kind(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(photo_kind(b"%PDF-1.7\n"), None);
        assert_eq!(photo_kind(b"<svg xmlns="), None);
        assert_eq!(photo_kind(b""), None);
    }
}
