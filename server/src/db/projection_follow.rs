//! The posts projection following the log, where it does
//! ([`super::Backend::projects_after_commit`], SQLite): the hub's writer writes what it
//! acknowledged a moment later, many rooms' posts in one transaction, and moves each room
//! document's mark in `projected_upto` in that same transaction. A start projects again
//! every room whose log has gone past its mark: what a crash between the acknowledgement
//! and the projection left out (pushes included) is written then, never lost.

use super::posts::{NewPost, Projection};
use super::{now_ms, Db};
use crate::error::Result;
use renraku_sync::{DocId, RoomId};
use sqlx::Row;

/// Moves documents' marks forward (never back) inside the caller's transaction.
async fn mark_in(
    tx: &mut sqlx::AnyConnection,
    backend: super::Backend,
    marks: &[(&str, i64)],
) -> Result<()> {
    for chunk in super::batch::shaped_chunks(marks) {
        let sql = backend.positional(format!(
            "INSERT INTO projected_upto (doc, seq) VALUES {} \
             ON CONFLICT (doc) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            super::batch::placeholders(1, chunk.len(), 2)
        ));
        let mut query = sqlx::query(&sql);
        for &(doc, seq) in chunk {
            query = query.bind(doc).bind(seq);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Marks a room document projected up to its log's head (or its snapshot's), inside the
/// caller's transaction, which holds the document's lock and has just projected all of it.
/// A no-op where the commit projects.
pub(super) async fn mark_whole_in(
    tx: &mut sqlx::AnyConnection,
    backend: super::Backend,
    doc: &str,
) -> Result<()> {
    if !backend.projects_after_commit() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO projected_upto (doc, seq) \
         SELECT $1, MAX(COALESCE((SELECT MAX(seq) FROM doc_updates WHERE doc = $1), 0), \
                        COALESCE((SELECT up_to_seq FROM doc_snapshots WHERE doc = $1), 0)) \
         WHERE true ON CONFLICT (doc) DO UPDATE SET seq = MAX(seq, excluded.seq)",
    )
    .bind(doc)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Db {
    /// Writes the projection of acknowledged updates — posts, read markers,
    /// acknowledgements, the pushes new posts call for — and moves the marks of the
    /// documents it covers (`(doc, seq)`: projected up to `seq`), in one transaction on the
    /// writer's connection. Returns the posts new to the server (not deleted).
    pub async fn project_following_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        projections: &[&Projection],
        marks: &[(&str, i64)],
    ) -> Result<Vec<NewPost>> {
        let now = now_ms();
        let mut tx = self.begin_write_on(conn).await?;
        let projected =
            super::posts::project_in(&mut tx, self.backend, projections, now, false).await?;
        let mut pushes =
            super::push::enqueue_in(&mut tx, self.backend, &projected.new_posts, now).await?;
        pushes += super::acks::project_in(&mut tx, projections, &projected, now, true).await?;
        mark_in(&mut tx, self.backend, marks).await?;
        tx.commit().await?;
        if pushes > 0 {
            self.push_notifier.wake();
        }
        Ok(projected.new_posts)
    }

    /// Projects again each room whose log goes past its mark (a crash came between an
    /// acknowledgement and its projection; or the log was written by a path that projects
    /// in its own commit and moves no mark, as imports and the demo seed do). Run at start,
    /// before the hub takes writes; idempotent. Posts without a row are new: their pushes go
    /// out now. A room with no projected rows at all is projected as a backfill (no pushes
    /// for old posts), as [`Db::backfill_projection`] does. Returns the rooms projected.
    pub async fn project_past_marks(&self) -> Result<usize> {
        if !self.backend.projects_after_commit() {
            return Ok(0);
        }
        let rooms: Vec<i64> = sqlx::query(
            "SELECT r.id FROM rooms r \
             WHERE MAX(COALESCE((SELECT MAX(u.seq) FROM doc_updates u \
                                 WHERE u.doc = 'room/' || CAST(r.id AS TEXT)), 0), \
                       COALESCE((SELECT s.up_to_seq FROM doc_snapshots s \
                                 WHERE s.doc = 'room/' || CAST(r.id AS TEXT)), 0)) \
                 > COALESCE((SELECT m.seq FROM projected_upto m \
                             WHERE m.doc = 'room/' || CAST(r.id AS TEXT)), 0)",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, sqlx::Error>>()?;
        for &room in &rooms {
            self.project_room_again(RoomId::new(room)).await?;
        }
        Ok(rooms.len())
    }

    async fn project_room_again(&self, room: RoomId) -> Result<()> {
        let id = DocId::Room(room);
        let key = id.storage_key();
        let (doc, head) = self.load_server_doc_at(id).await?;
        let projection = Projection::whole(room, &doc);
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        super::dialect::lock_doc_in(&mut tx, self.backend, &key).await?;
        let backfill = !super::posts::has_projected_rows_in(&mut tx, room).await?;
        let posts =
            super::posts::project_in(&mut tx, self.backend, &[&projection], now, backfill).await?;
        let mut pushes =
            super::push::enqueue_in(&mut tx, self.backend, &posts.new_posts, now).await?;
        pushes += super::acks::project_in(&mut tx, &[&projection], &posts, now, !backfill).await?;
        mark_in(&mut tx, self.backend, &[(key.as_str(), head)]).await?;
        tx.commit().await?;
        if pushes > 0 {
            self.push_notifier.wake();
        }
        tracing::info!(%room, posts = posts.new_posts.len(), "projected a room's log past its mark");
        Ok(())
    }
}
