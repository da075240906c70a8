//! The relational projection of room documents: `posts` (for statistics, search, export and
//! push) and `read_markers` (for unread counts). Written only from what the room tasks
//! acknowledged: on PostgreSQL in the same transaction as the log rows of the updates it
//! reflects (`doc_log::append_batch`); on SQLite by the hub's writer a moment after
//! (`projection_follow`), its readers waiting for what was acknowledged before they began
//! (`projection_lag`). Never a sync source.

use super::dialect::Backend;
use super::{flag, now_ms, Db};
use crate::error::Result;
pub use renraku_contract::RoomActivity;
use renraku_sync::yrs::{Map, ReadTxn, Transact};
use renraku_sync::{DocId, Post, PostId, ReadMarker, RoomId, ServerDoc, UserId};
use sqlx::Row;

/// What one room's committed batch wrote, read back from the room's replica after applying:
/// each touched post and read marker as it now stands.
#[derive(Clone, Debug)]
pub struct Projection {
    pub room: RoomId,
    /// `None`: the key was removed from the document (the post counts as deleted).
    pub posts: Vec<(PostId, Option<Post>)>,
    /// `None`: the member's marker was removed.
    pub reads: Vec<(UserId, Option<ReadMarker>)>,
    /// Acknowledgements (要確認): post, user, when (`None`: taken back).
    pub acks: Vec<(PostId, UserId, Option<i64>)>,
}

impl Projection {
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.reads.is_empty() && self.acks.is_empty()
    }

    /// Everything a replica holds: for rebuilding the projection of a room.
    pub fn whole(room: RoomId, doc: &ServerDoc) -> Projection {
        let (post_keys, read_keys, ack_keys) = {
            let txn = doc.doc().transact();
            let keys = |root: &str| -> Vec<String> {
                txn.get_map(root)
                    .map(|m| m.keys(&txn).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            (
                keys(renraku_sync::schema::POSTS),
                keys(renraku_sync::schema::READ),
                keys(renraku_sync::schema::ACKS),
            )
        };
        Projection {
            room,
            posts: post_keys
                .iter()
                .filter_map(|k| PostId::parse(k))
                .map(|id| {
                    let post = doc.post(&id);
                    (id, post)
                })
                .collect(),
            reads: read_keys
                .iter()
                .filter_map(|k| k.parse::<UserId>().ok())
                .map(|user| (user, doc.read_marker(user)))
                .collect(),
            acks: ack_keys
                .iter()
                .filter_map(|k| renraku_sync::schema::parse_reaction_key(k))
                .map(|(post, user)| {
                    let at = doc.ack(&post, user);
                    (post, user, at)
                })
                .collect(),
        }
    }
}

/// What a post is found by: its text and the names of those of its files uploaded so far,
/// normalized (`renraku_sync::search`). A file uploaded later re-indexes the post
/// (`Db::insert_attachment`).
pub(super) async fn search_text(
    tx: &mut sqlx::AnyConnection,
    room: RoomId,
    text: &str,
    attachments: &[String],
) -> Result<String> {
    let mut all = text.to_owned();
    for id in attachments {
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM attachments WHERE room_id = $1 AND id = $2")
                .bind(room.get())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(name) = name {
            all.push('\n');
            all.push_str(&name);
        }
    }
    Ok(renraku_sync::search::normalize(&all))
}

/// Records which attachments a post names (`post_attachments`), replacing what an earlier
/// version of the post named (`had_files`: it named some). A post that names no file, now
/// or before, costs no statement.
async fn link_attachments(
    tx: &mut sqlx::AnyConnection,
    room: RoomId,
    post: &PostId,
    attachments: &[String],
    had_files: bool,
) -> Result<()> {
    if had_files {
        sqlx::query("DELETE FROM post_attachments WHERE room_id = $1 AND post_id = $2")
            .bind(room.get())
            .bind(post.as_str())
            .execute(&mut *tx)
            .await?;
    }
    for id in attachments {
        sqlx::query(
            "INSERT INTO post_attachments (room_id, post_id, attachment_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(room.get())
        .bind(post.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Whether the stored row of a post names files (false when there is no row).
async fn had_files(tx: &mut sqlx::AnyConnection, room: RoomId, post: &PostId) -> Result<bool> {
    let old = sqlx::query("SELECT has_attachments FROM posts WHERE room_id = $1 AND post_id = $2")
        .bind(room.get())
        .bind(post.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    Ok(old
        .as_ref()
        .map(|r| flag(r, "has_attachments"))
        .transpose()?
        == Some(true))
}

/// A post that reached the server for the first time in a transaction (a push is due).
#[derive(Clone, Debug)]
pub struct NewPost {
    pub room: RoomId,
    pub post: Post,
}

const INSERT_POSTS: &str = "INSERT INTO posts (room_id, post_id, author_id, parent_id, text, \
     created_at, edited_at, deleted, activity_at, stored_at, updated_at, search_text, \
     search_grams, has_attachments)";

/// The columns of a post's row that are computed rather than copied from the post.
struct PostRowValues {
    activity: i64,
    parent: Option<String>,
    search_text: String,
    search_grams: String,
    has_attachments: bool,
}

impl PostRowValues {
    fn new(post: &Post, search_text: String, search_grams: String) -> PostRowValues {
        PostRowValues {
            activity: post.created_at.max(post.edited_at.unwrap_or(i64::MIN)),
            parent: post.parent.as_ref().map(|p| p.as_str().to_owned()),
            search_text,
            search_grams,
            has_attachments: !post.deleted && !post.attachments.is_empty(),
        }
    }

    /// Binds the 14 values of [`INSERT_POSTS`]. `stored_at` is `now`, or the post's own
    /// time when rebuilding (`backfill`).
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        room: RoomId,
        id: &'q PostId,
        post: &'q Post,
        backfill: bool,
        now: i64,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        query
            .bind(room.get())
            .bind(id.as_str())
            .bind(post.author.get())
            .bind(self.parent.as_deref())
            .bind(post.text.as_str())
            .bind(post.created_at)
            .bind(post.edited_at)
            .bind(post.deleted)
            .bind(self.activity)
            .bind(if backfill { post.created_at } else { now })
            .bind(now)
            .bind(self.search_text.as_str())
            .bind(self.search_grams.as_str())
            .bind(self.has_attachments)
    }
}

/// What writing a projection did.
#[derive(Default)]
pub struct Projected {
    /// The posts new to the server, not deleted (pushes are due for them).
    pub new_posts: Vec<NewPost>,
    /// Every post that had no row before (deleted ones included): nothing else was ever
    /// written for them, so the acknowledgement projection has nothing to clear.
    pub inserted: std::collections::HashSet<(RoomId, PostId)>,
}

/// Writes `projections` inside `tx`. `stored_at` of a new row is `now`, or the post's own
/// time when rebuilding (`backfill`).
pub(crate) async fn project_in(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    projections: &[&Projection],
    now: i64,
    backfill: bool,
) -> Result<Projected> {
    let mut new_posts = Vec::new();
    let mut inserted_posts = std::collections::HashSet::new();
    // Every post the batch writes, in order, with what search will find of it.
    let mut rows = Vec::new();
    for projection in projections {
        for (id, post) in &projection.posts {
            let room = projection.room;
            // `None`: the post was removed from the document.
            let written = match post {
                // A deleted post is found by nobody.
                Some(post) if !post.deleted => {
                    let text = search_text(&mut *tx, room, &post.text, &post.attachments).await?;
                    let grams = backend.search_grams(&text);
                    Some((post, PostRowValues::new(post, text, grams)))
                }
                Some(post) => Some((post, PostRowValues::new(post, String::new(), String::new()))),
                None => None,
            };
            rows.push((room, id, written));
        }
    }
    // Most posts are new: one multi-row INSERT for all of them tells which were (RETURNING
    // names only the rows it inserted); an edit pays the look after the conflict. Done one
    // post at a time instead when a post comes twice in the batch (written, then deleted or
    // edited again), where the order of its writes matters.
    let mut keys = std::collections::HashSet::with_capacity(rows.len());
    let once = rows.iter().all(|(room, id, ..)| keys.insert((*room, *id)));
    let mut batch_inserted = std::collections::HashSet::new();
    if once {
        let values: Vec<_> = rows
            .iter()
            .filter_map(|(room, id, written)| {
                let (post, row) = written.as_ref()?;
                Some((*room, *id, *post, row))
            })
            .collect();
        for chunk in super::batch::shaped_chunks(&values) {
            let sql = backend.positional(format!(
                "{INSERT_POSTS} VALUES {} ON CONFLICT (room_id, post_id) DO NOTHING \
                 RETURNING room_id, post_id",
                super::batch::placeholders(1, chunk.len(), 14)
            ));
            let mut query = sqlx::query(&sql);
            for (room, id, post, row) in chunk {
                query = row.bind(query, *room, id, post, backfill, now);
            }
            for inserted in query.fetch_all(&mut *tx).await? {
                batch_inserted.insert((
                    RoomId::new(inserted.try_get("room_id")?),
                    inserted.try_get::<String, _>("post_id")?,
                ));
            }
        }
    }
    for (room, id, written) in rows {
        match written {
            Some((post, row)) => {
                let PostRowValues {
                    activity,
                    parent,
                    search_text,
                    search_grams,
                    has_attachments,
                } = &row;
                let inserted = if once {
                    batch_inserted.contains(&(room, id.as_str().to_owned()))
                } else {
                    let sql = backend.positional(format!(
                        "{INSERT_POSTS} VALUES {} ON CONFLICT (room_id, post_id) DO NOTHING",
                        super::batch::placeholders(1, 1, 14)
                    ));
                    row.bind(sqlx::query(&sql), room, id, post, backfill, now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        == 1
                };
                // Whether the old row named files (then it has `post_attachments` rows to
                // replace; otherwise an edit costs no statement more).
                let had_files = if inserted {
                    inserted_posts.insert((room, id.clone()));
                    if !post.deleted && !backfill {
                        new_posts.push(NewPost {
                            room,
                            post: post.clone(),
                        });
                    }
                    false
                } else {
                    let had_files = had_files(&mut *tx, room, id).await?;
                    sqlx::query(
                        "UPDATE posts SET author_id = $1, parent_id = $2, text = $3, \
                                 created_at = $4, edited_at = $5, deleted = $6, \
                                 activity_at = $7, updated_at = $8, search_text = $9, \
                                 search_grams = $10, has_attachments = $11 \
                             WHERE room_id = $12 AND post_id = $13",
                    )
                    .bind(post.author.get())
                    .bind(parent)
                    .bind(post.text.as_str())
                    .bind(post.created_at)
                    .bind(post.edited_at)
                    .bind(post.deleted)
                    .bind(activity)
                    .bind(now)
                    .bind(search_text)
                    .bind(search_grams)
                    .bind(has_attachments)
                    .bind(room.get())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                    had_files
                };
                let files: &[String] = if post.deleted { &[] } else { &post.attachments };
                link_attachments(&mut *tx, room, id, files, had_files).await?;
            }
            None => {
                let had_files = had_files(&mut *tx, room, id).await?;
                link_attachments(&mut *tx, room, id, &[], had_files).await?;
                sqlx::query(
                    "UPDATE posts SET deleted = $1, text = $2, updated_at = $3, \
                             search_text = '', search_grams = '', has_attachments = NOT $1 \
                         WHERE room_id = $4 AND post_id = $5",
                )
                .bind(true)
                .bind("")
                .bind(now)
                .bind(room.get())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    for projection in projections {
        let room = projection.room;
        for (user, marker) in &projection.reads {
            match marker {
                Some(marker) => {
                    sqlx::query(
                        "INSERT INTO read_markers (room_id, user_id, post_id, at) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (room_id, user_id) DO UPDATE \
                         SET post_id = excluded.post_id, at = excluded.at",
                    )
                    .bind(room.get())
                    .bind(user.get())
                    .bind(marker.post.as_str())
                    .bind(marker.at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM read_markers WHERE room_id = $1 AND user_id = $2")
                        .bind(room.get())
                        .bind(user.get())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
    }
    Ok(Projected {
        new_posts,
        inserted: inserted_posts,
    })
}

/// Whether any `posts` or `read_markers` row of `room` exists (read inside the caller's
/// transaction): a room without is projected as a backfill, without pushes for old posts.
pub(super) async fn has_projected_rows_in(
    tx: &mut sqlx::AnyConnection,
    room: RoomId,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM posts WHERE room_id = $1 \
         UNION ALL SELECT 1 AS one FROM read_markers WHERE room_id = $2",
    )
    .bind(room.get())
    .bind(room.get())
    .fetch_optional(&mut *tx)
    .await?
    .is_some())
}

/// One projected post, as statistics, search and export read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostRow {
    pub room: RoomId,
    pub post: Post,
    pub stored_at: i64,
}

impl Db {
    /// For each room `user` is a member of: latest activity and unread count.
    pub async fn room_activity(&self, user: UserId) -> Result<Vec<RoomActivity>> {
        self.projection_settled().await;
        let rows = sqlx::query(
            "SELECT m.room_id, \
                 (SELECT MAX(p.activity_at) FROM posts p \
                  WHERE p.room_id = m.room_id AND NOT p.deleted) AS latest, \
                 (SELECT COUNT(*) FROM posts p \
                  WHERE p.room_id = m.room_id AND p.author_id <> $1 AND NOT p.deleted \
                    AND p.post_id > COALESCE((SELECT r.post_id FROM read_markers r \
                        WHERE r.room_id = m.room_id AND r.user_id = $1), '')) AS unread, \
                 (SELECT p.text FROM posts p WHERE p.room_id = m.room_id AND NOT p.deleted \
                  ORDER BY p.post_id DESC LIMIT 1) AS latest_text \
             FROM room_members m WHERE m.user_id = $1 ORDER BY m.room_id",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoomActivity {
                    room: RoomId::new(row.try_get("room_id")?),
                    latest_activity_at: row.try_get("latest")?,
                    unread: row.try_get("unread")?,
                    latest_text: row.try_get("latest_text")?,
                })
            })
            .collect()
    }

    /// A room's projected posts in id (creation) order, deleted ones included.
    pub async fn projected_posts(&self, room: RoomId) -> Result<Vec<PostRow>> {
        self.projection_settled().await;
        let rows = sqlx::query(
            "SELECT post_id, author_id, parent_id, text, created_at, edited_at, deleted, \
                 stored_at FROM posts WHERE room_id = $1 ORDER BY post_id",
        )
        .bind(room.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("post_id")?;
                let parent: Option<String> = row.try_get("parent_id")?;
                Ok(PostRow {
                    room,
                    post: Post {
                        id: PostId::parse(&id)
                            .ok_or_else(|| crate::Error::internal("bad post id in posts"))?,
                        author: UserId::new(row.try_get("author_id")?),
                        created_at: row.try_get("created_at")?,
                        text: row.try_get("text")?,
                        parent: parent.as_deref().and_then(PostId::parse),
                        attachments: vec![],
                        edited_at: row.try_get("edited_at")?,
                        deleted: flag(row, "deleted")?,
                        // Requests live in `ack_requests`, not in this row.
                        ack: None,
                        urgent: false,
                    },
                    stored_at: row.try_get("stored_at")?,
                })
            })
            .collect()
    }

    /// A room's projected read markers, in user order.
    pub async fn projected_read_markers(&self, room: RoomId) -> Result<Vec<ReadMarker>> {
        self.projection_settled().await;
        let rows = sqlx::query(
            "SELECT user_id, post_id, at FROM read_markers WHERE room_id = $1 ORDER BY user_id",
        )
        .bind(room.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let post: String = row.try_get("post_id")?;
                Ok(ReadMarker {
                    user: UserId::new(row.try_get("user_id")?),
                    post: PostId::parse(&post)
                        .ok_or_else(|| crate::Error::internal("bad post id in read_markers"))?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    /// Projects rooms whose documents hold data but which have no projected rows: rooms
    /// written before the projection existed, and the demo data (seeded straight into the
    /// log). Run at start; idempotent. Pushes are not queued for these old posts.
    pub async fn backfill_projection(&self) -> Result<usize> {
        let rooms: Vec<i64> = sqlx::query(
            "SELECT r.id FROM rooms r \
             WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.room_id = r.id) \
               AND NOT EXISTS (SELECT 1 FROM read_markers k WHERE k.room_id = r.id) \
               AND (EXISTS (SELECT 1 FROM doc_updates u \
                            WHERE u.doc = 'room/' || CAST(r.id AS TEXT)) \
                 OR EXISTS (SELECT 1 FROM doc_snapshots s \
                            WHERE s.doc = 'room/' || CAST(r.id AS TEXT)))",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, sqlx::Error>>()?;
        let mut projected = 0;
        for &room in &rooms {
            let room = RoomId::new(room);
            let doc = self.load_server_doc(DocId::Room(room)).await?;
            let projection = Projection::whole(room, &doc);
            let mut tx = self.begin_write().await?;
            // Several nodes starting at once all find the room unprojected: under the room's
            // lock (the one its appends take, which project too) only the first projects it,
            // and the others find its rows.
            super::dialect::lock_doc_in(&mut tx, self.backend, &DocId::Room(room).storage_key())
                .await?;
            if has_projected_rows_in(&mut tx, room).await? {
                continue;
            }
            let posts = project_in(&mut tx, self.backend, &[&projection], now_ms(), true).await?;
            super::acks::project_in(&mut tx, &[&projection], &posts, now_ms(), false).await?;
            // Where the projection follows the log, the room is now projected to its head.
            super::projection_follow::mark_whole_in(
                &mut tx,
                self.backend,
                &DocId::Room(room).storage_key(),
            )
            .await?;
            tx.commit().await?;
            projected += 1;
        }
        Ok(projected)
    }
}
