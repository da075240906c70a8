//! One upload, from the request body to a stored blob.

use super::kind::{classify, Evidence};
use super::photo::{self, DecodePool, PhotoError};
use super::{BlobKey, FileName, Kind, Refusal, Sha256, Store};
use crate::error::{Error, Result};
use axum::body::Body;
use futures_util::StreamExt;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

/// What was stored.
#[derive(Clone, Debug)]
pub struct Ingested {
    pub sha256: Sha256,
    pub size: u64,
    pub kind: Kind,
    pub has_thumbnail: bool,
    /// Display size of images.
    pub dimensions: Option<(u32, u32)>,
}

/// Streams `body` into a temporary file (refusing past `limit` bytes, or a body shorter
/// than `declared_len`), decides its type from the bytes, strips and thumbnails photos, and
/// moves the result into `store`. On any error the temporary file is removed (it is a
/// `TempPath`, deleted on drop, also when the request is cancelled) and nothing is stored.
pub async fn ingest(
    store: &Store,
    photos: &DecodePool,
    limit: u64,
    declared_len: Option<u64>,
    name: &FileName,
    body: Body,
) -> Result<Ingested> {
    if declared_len.is_some_and(|n| n > limit) {
        return Err(Refusal::TooLarge { limit }.into());
    }
    let dir = store.tmp_dir().await?.to_owned();
    let temp = tokio::task::spawn_blocking(move || tempfile::NamedTempFile::new_in(dir))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format!("cannot create an upload file: {e}")))?;
    let (file, path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);

    let mut hasher = sha2::Sha256::new();
    let mut evidence = Evidence::default();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        // A broken connection or a body cut short of its Content-Length.
        let chunk = chunk.map_err(|_| Refusal::Incomplete)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(Refusal::TooLarge { limit }.into());
        }
        hasher.update(&chunk);
        evidence.observe(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::internal(format!("cannot write an upload: {e}")))?;
    }
    if declared_len.is_some_and(|n| n != size) {
        return Err(Refusal::Incomplete.into());
    }
    if size == 0 {
        return Err(Refusal::EmptyFile.into());
    }
    file.flush().await.map_err(Error::internal)?;
    file.sync_all().await.map_err(Error::internal)?;
    drop(file);

    let whole_path = path.to_path_buf();
    let kind =
        tokio::task::spawn_blocking(move || classify(&evidence, || std::fs::read(&whole_path)))
            .await
            .map_err(Error::internal)??;
    kind.check_extension(name.extension().as_deref())?;

    if !kind.is_image() {
        let sha256 = Sha256::from_digest(hasher.finalize().into());
        store.put_file(BlobKey::Original(&sha256), path).await?;
        return Ok(Ingested {
            sha256,
            size,
            kind,
            has_thumbnail: false,
            dimensions: None,
        });
    }

    // Photos are rewritten, so the stored hash is of the stripped bytes. The photo is in
    // memory for this step only, bounded by the size limit.
    let original = tokio::fs::read(&path)
        .await
        .map_err(|e| Error::internal(format!("cannot read an upload: {e}")))?;
    drop(path);
    let refusal = |e: PhotoError| match e {
        PhotoError::TooManyPixels {
            width,
            height,
            max_pixels,
        } => Refusal::ImageTooLarge {
            width,
            height,
            max_pixels,
        },
        PhotoError::Unreadable(_) => Refusal::UnsupportedType {
            found: format!("{} (壊れています / damaged)", kind.label()),
        },
    };
    // Refused from its header before anything is decoded; else decoded when the budget
    // has room for it.
    let permit = photos.admit(&original).await.map_err(refusal)?;
    let pool = photos.clone();
    let clean = tokio::task::spawn_blocking(move || {
        let clean = photo::clean(&pool, kind, &original);
        drop(permit);
        clean
    })
    .await
    .map_err(Error::internal)?
    .map_err(refusal)?;
    let sha256 = Sha256::of(&clean.bytes);
    let size = clean.bytes.len() as u64;
    let has_thumbnail = clean.thumbnail.is_some();
    if let Some(thumbnail) = clean.thumbnail {
        store
            .put_bytes(BlobKey::Thumbnail(&sha256), thumbnail)
            .await?;
    }
    store
        .put_bytes(BlobKey::Original(&sha256), clean.bytes)
        .await?;
    Ok(Ingested {
        sha256,
        size,
        kind,
        has_thumbnail,
        dimensions: Some((clean.width, clean.height)),
    })
}
