//! Attachment rows: which room an attachment belongs to (so who may download it), and what
//! it is. The bytes are in the attachment store, under `sha256`.

use super::{flag, Db};
use crate::attachments::{AttachmentId, FileName, Kind, Sha256};
use crate::error::{Error, Result};
pub use renraku_contract::AttachmentMeta;
use renraku_sync::{RoomId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// What the server reads from a stored [`AttachmentMeta`]: its type, name and blob.
pub trait AttachmentMetaExt {
    fn kind(&self) -> Result<Kind>;
    fn file_name(&self) -> Result<FileName>;
    fn blob(&self) -> Result<Sha256>;
}

impl AttachmentMetaExt for AttachmentMeta {
    fn kind(&self) -> Result<Kind> {
        self.mime.parse().map_err(Error::internal)
    }

    fn file_name(&self) -> Result<FileName> {
        FileName::parse(&self.name).map_err(Error::internal)
    }

    fn blob(&self) -> Result<Sha256> {
        self.sha256.parse().map_err(Error::internal)
    }
}

/// Reads an attachment row (its id checked to be a canonical attachment id).
fn meta_from_row(row: &AnyRow) -> Result<AttachmentMeta> {
    {
        let id: String = row.try_get("id")?;
        Ok(AttachmentMeta {
            id: id
                .parse::<AttachmentId>()
                .map_err(Error::internal)?
                .to_string(),
            room: RoomId::new(row.try_get("room_id")?),
            uploader: UserId::new(row.try_get("uploader_id")?),
            name: row.try_get("name")?,
            mime: row.try_get("mime")?,
            size: row.try_get("size")?,
            sha256: row.try_get("sha256")?,
            has_thumbnail: flag(row, "has_thumbnail")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

const COLUMNS: &str = "id, room_id, uploader_id, name, mime, size, sha256, has_thumbnail, \
     width, height, created_at";

impl Db {
    pub async fn attachment(&self, id: &AttachmentId) -> Result<Option<AttachmentMeta>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM attachments WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(meta_from_row).transpose()
    }

    /// A room's attachments, oldest first.
    pub async fn room_attachments(&self, room: RoomId) -> Result<Vec<AttachmentMeta>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE room_id = $1 ORDER BY created_at, id"
        ))
        .bind(room.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(meta_from_row).collect()
    }

    /// Records a stored attachment; an id already taken is a `Conflict`. The posts that
    /// already name it (their author was offline and the post came first) become findable by
    /// its name, in the same transaction.
    pub async fn insert_attachment(&self, meta: &AttachmentMeta) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO attachments (id, room_id, uploader_id, name, mime, size, sha256, \
                 has_thumbnail, width, height, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(meta.id.as_str())
        .bind(meta.room.get())
        .bind(meta.uploader.get())
        .bind(meta.name.as_str())
        .bind(meta.mime.as_str())
        .bind(meta.size)
        .bind(meta.sha256.as_str())
        .bind(meta.has_thumbnail)
        .bind(meta.width)
        .bind(meta.height)
        .bind(meta.created_at)
        .execute(&mut *tx)
        .await?;
        let naming: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.post_id, p.text FROM post_attachments pa \
             JOIN posts p ON p.room_id = pa.room_id AND p.post_id = pa.post_id \
             WHERE pa.room_id = $1 AND pa.attachment_id = $2 AND NOT p.deleted",
        )
        .bind(meta.room.get())
        .bind(meta.id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for (post, text) in naming {
            let files: Vec<String> = sqlx::query_scalar(
                "SELECT attachment_id FROM post_attachments WHERE room_id = $1 AND post_id = $2 \
                 ORDER BY attachment_id",
            )
            .bind(meta.room.get())
            .bind(post.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let search_text = super::posts::search_text(&mut tx, meta.room, &text, &files).await?;
            sqlx::query(
                "UPDATE posts SET search_text = $1, search_grams = $2 \
                 WHERE room_id = $3 AND post_id = $4",
            )
            .bind(&search_text)
            .bind(self.backend.search_grams(&search_text))
            .bind(meta.room.get())
            .bind(post.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many rows name this blob (attachments, and 駐車場 spaces' photos, which share the
    /// store); a blob none names may be deleted.
    pub async fn blob_references(&self, sha256: &Sha256) -> Result<i64> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM attachments WHERE sha256 = $1) \
                  + (SELECT COUNT(*) FROM parking_spaces WHERE photo = $2) AS n",
        )
        .bind(sha256.to_string())
        .bind(sha256.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}
