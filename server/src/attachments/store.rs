//! Where attachment bytes live: the data directory (default), or an S3-compatible object
//! store. Keys are content hashes, so a blob is written once and never changes; uploads
//! are assembled in a temporary directory first and moved into place whole.

use super::Sha256;
use crate::config::Config;
use crate::error::{Error, Result};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The attachment directory under the data directory (the backup copies it).
pub const LOCAL_DIR: &str = crate::backup::ATTACHMENTS;
/// Uploads in progress, beside (not inside) the store so a backup never copies half a file,
/// and on the same file system so moving one into place is a rename.
pub const TMP_DIR: &str = "attachments-tmp";
/// Parts of a multipart upload to an object store.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// One stored blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKey<'a> {
    /// The attachment as served (photos already stripped).
    Original(&'a Sha256),
    /// The JPEG thumbnail of an image attachment.
    Thumbnail(&'a Sha256),
}

impl BlobKey<'_> {
    /// `blobs/ab/abcd…` or `thumbnails/ab/abcd….jpg`: two-character fan-out keeps
    /// directories small.
    fn relative(&self) -> String {
        match self {
            BlobKey::Original(sha) => {
                let hex = sha.to_string();
                format!("blobs/{}/{hex}", &hex[..2])
            }
            BlobKey::Thumbnail(sha) => {
                let hex = sha.to_string();
                format!("thumbnails/{}/{hex}.jpg", &hex[..2])
            }
        }
    }
}

/// A blob being read.
pub struct Blob {
    pub size: u64,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    tmp: PathBuf,
}

#[derive(Clone)]
enum Backend {
    Local {
        root: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
    },
}

impl Store {
    /// The store the configuration names: `attachment_store` unset → the data directory;
    /// `s3://bucket/prefix` → S3 or a compatible service (credentials, region and endpoint
    /// from the usual `AWS_*` variables); `file:///dir` → a directory through the same
    /// object-store code (for tests and mounted volumes).
    pub fn from_config(config: &Config) -> Result<Store> {
        let tmp = config.data_dir.join(TMP_DIR);
        let backend = match config.attachment_store.as_deref().filter(|s| !s.is_empty()) {
            None => Backend::Local {
                root: config.data_dir.join(LOCAL_DIR),
            },
            Some(url) => {
                let (store, prefix) = object_store_for(url)?;
                Backend::Object { store, prefix }
            }
        };
        Ok(Store { backend, tmp })
    }

    /// Where uploads are assembled; created on demand.
    pub async fn tmp_dir(&self) -> Result<&Path> {
        tokio::fs::create_dir_all(&self.tmp)
            .await
            .map_err(|e| Error::internal(format!("cannot create the upload directory: {e}")))?;
        Ok(&self.tmp)
    }

    /// Moves a finished temporary file (already flushed to disk) into place. A blob that
    /// already exists has the same bytes, so the new copy is simply dropped.
    pub async fn put_file(&self, key: BlobKey<'_>, file: tempfile::TempPath) -> Result<()> {
        match &self.backend {
            Backend::Local { root } => {
                let target = root.join(key.relative());
                if tokio::fs::try_exists(&target).await.unwrap_or(false) {
                    return Ok(());
                }
                let dir = target
                    .parent()
                    .expect("blob paths have a directory")
                    .to_owned();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    file.persist(&target).map_err(|e| e.error)?;
                    // The rename is durable only once the directory entry is.
                    std::fs::File::open(&dir)?.sync_all()
                })
                .await
                .map_err(Error::internal)?
                .map_err(|e| Error::internal(format!("cannot store an attachment: {e}")))
            }
            Backend::Object { store, prefix } => {
                let path = object_path(prefix, &key);
                if store.head(&path).await.is_ok() {
                    return Ok(());
                }
                let mut file = tokio::fs::File::open(&file)
                    .await
                    .map_err(Error::internal)?;
                let upload = store.put_multipart(&path).await.map_err(object_error)?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
                let mut buffer = vec![0u8; 256 * 1024];
                loop {
                    let n = file.read(&mut buffer).await.map_err(Error::internal)?;
                    if n == 0 {
                        break;
                    }
                    writer.wait_for_capacity(2).await.map_err(object_error)?;
                    writer.write(&buffer[..n]);
                }
                writer.finish().await.map_err(object_error)?;
                Ok(())
            }
        }
    }

    /// Stores bytes made on the server (a stripped photo, a thumbnail).
    pub async fn put_bytes(&self, key: BlobKey<'_>, bytes: Bytes) -> Result<()> {
        match &self.backend {
            Backend::Local { .. } => {
                let dir = self.tmp_dir().await?.to_owned();
                let temp = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                    use std::io::Write;
                    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
                    temp.write_all(&bytes)?;
                    temp.as_file().sync_all()?;
                    Ok(temp.into_temp_path())
                })
                .await
                .map_err(Error::internal)?
                .map_err(|e| Error::internal(format!("cannot write an attachment: {e}")))?;
                self.put_file(key, temp).await
            }
            Backend::Object { store, prefix } => {
                let path = object_path(prefix, &key);
                store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(object_error)?;
                Ok(())
            }
        }
    }

    /// Opens a blob for streaming; `None` when it is missing.
    pub async fn get(&self, key: BlobKey<'_>) -> Result<Option<Blob>> {
        match &self.backend {
            Backend::Local { root } => {
                let path = root.join(key.relative());
                let file = match tokio::fs::File::open(&path).await {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(Error::internal(format!("cannot read a blob: {e}"))),
                };
                let size = file.metadata().await.map_err(Error::internal)?.len();
                let body = tokio_util::io::ReaderStream::new(file).boxed();
                Ok(Some(Blob { size, body }))
            }
            Backend::Object { store, prefix } => {
                let path = object_path(prefix, &key);
                match store.get(&path).await {
                    Ok(result) => {
                        let size = result.meta.size;
                        let body = result
                            .into_stream()
                            .map_err(|e| std::io::Error::other(e.to_string()))
                            .boxed();
                        Ok(Some(Blob { size, body }))
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(object_error(e)),
                }
            }
        }
    }

    /// Whether a blob is stored.
    pub async fn contains(&self, key: BlobKey<'_>) -> Result<bool> {
        match &self.backend {
            Backend::Local { root } => Ok(tokio::fs::try_exists(root.join(key.relative()))
                .await
                .unwrap_or(false)),
            Backend::Object { store, prefix } => match store.head(&object_path(prefix, &key)).await
            {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(object_error(e)),
            },
        }
    }

    /// Removes a blob (missing is fine).
    pub async fn delete(&self, key: BlobKey<'_>) -> Result<()> {
        match &self.backend {
            Backend::Local { root } => {
                match tokio::fs::remove_file(root.join(key.relative())).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(Error::internal(format!("cannot delete a blob: {e}"))),
                }
            }
            Backend::Object { store, prefix } => {
                match store.delete(&object_path(prefix, &key)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(object_error(e)),
                }
            }
        }
    }
}

fn object_path(prefix: &ObjectPath, key: &BlobKey<'_>) -> ObjectPath {
    let mut path = prefix.clone();
    for part in key.relative().split('/') {
        path = path.child(part);
    }
    path
}

/// Object-store errors can quote URLs and credentials' key ids: logged as internal only.
fn object_error(e: object_store::Error) -> Error {
    Error::internal(format!("attachment store: {e}"))
}

fn object_store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::internal(format!("RENRAKU_ATTACHMENT_STORE is not a URL: {e}")))?;
    match parsed.scheme() {
        "s3" => {
            let bucket = parsed.host_str().unwrap_or_default();
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(object_error)?;
            let prefix = ObjectPath::from(parsed.path().trim_matches('/'));
            Ok((Arc::new(store), prefix))
        }
        "file" => {
            let dir = parsed.to_file_path().map_err(|()| {
                Error::internal("RENRAKU_ATTACHMENT_STORE: a file:// URL needs an absolute path")
            })?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(object_error)?;
            Ok((Arc::new(store), ObjectPath::from("")))
        }
        other => Err(Error::internal(format!(
            "RENRAKU_ATTACHMENT_STORE: unsupported scheme {other}:// (use s3:// or file://)"
        ))),
    }
}
