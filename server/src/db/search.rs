//! Search over the posts projection: the posts of the rooms a user is a member of now whose
//! normalized text contains every term (`renraku_sync::search`). SQLite narrows through its
//! FTS5 bigram index, PostgreSQL through its trigram index (`dialect.rs`); both then apply the
//! same `LIKE` conditions, so the same data gives the same results on both.

use super::Db;
use crate::error::Result;
use renraku_contract::{SearchHit, SearchResults};
use renraku_sync::{RoomId, RoomKind, UserId};
use sqlx::Row;

/// A search as the database runs it (terms already normalized).
#[derive(Clone, Debug)]
pub struct PostSearch {
    pub user: UserId,
    pub terms: Vec<String>,
    pub room: Option<RoomId>,
    pub author: Option<UserId>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub has_attachment: bool,
    /// Acknowledgement requests (要確認) still waiting for this user.
    pub unacknowledged: bool,
    /// The next page: posts after this one in the order of the results (newest first, then
    /// by post id) — the last hit's `created_at` and, to tell posts of the same millisecond
    /// apart, its id.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

impl PostSearch {
    /// `terms` in every room `user` is a member of, no filter, the first page of 30.
    pub fn new(user: UserId, terms: Vec<String>) -> PostSearch {
        PostSearch {
            user,
            terms,
            room: None,
            author: None,
            from: None,
            to: None,
            has_attachment: false,
            unacknowledged: false,
            before: None,
            limit: 30,
        }
    }
}

/// `%term%` for `LIKE … ESCAPE '\'`.
fn like_pattern(term: &str) -> String {
    let mut out = String::from("%");
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Posts moved into SQLite's search index in one transaction at most
/// ([`Db::index_pending_posts_on`]): a backlog (an import, a restart after a crash) is
/// indexed in steps, and never holds the write lock for long.
pub const INDEX_STEP: i64 = 1024;

/// Up to this many posts in the rooms searched, SQLite reads them rather than its index.
const SCAN_AT_MOST: i64 = 20_000;

impl Db {
    /// How many posts the rooms a search covers hold (all of `user`'s rooms, or one).
    async fn member_posts(&self, user: UserId, room: Option<RoomId>) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM room_members m JOIN posts p ON p.room_id = m.room_id \
             WHERE m.user_id = $1 AND ($2 = 0 OR m.room_id = $3)",
        )
        .bind(user.get())
        .bind(room.map_or(0, |r| r.get()))
        .bind(room.map_or(0, |r| r.get()))
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    pub async fn search_posts(&self, s: &PostSearch) -> Result<SearchResults> {
        self.search_posts_reading_at_most(s, SCAN_AT_MOST).await
    }

    /// [`Db::search_posts`], reading the rooms' posts (rather than SQLite's index) only up to
    /// `scan_at_most` of them; the tests pass 0 to check the index path gives the same hits.
    pub async fn search_posts_reading_at_most(
        &self,
        s: &PostSearch,
        scan_at_most: i64,
    ) -> Result<SearchResults> {
        self.projection_settled().await;
        if s.terms.is_empty() {
            return Ok(SearchResults::default());
        }
        let fts = renraku_sync::search::fts_query(&s.terms);
        // A planner that starts from a text index reads, for a common two-letter word, every
        // match in every room. A professional is a member of a few dozen rooms: reading
        // their posts is cheaper than that until they hold many.
        let use_index = self.member_posts(s.user, s.room).await? > scan_at_most;
        let indexed = use_index && fts.is_some() && self.backend == super::dialect::Backend::Sqlite;
        // Reading the rooms' posts: an expression no index covers, so that PostgreSQL too
        // starts from the memberships (its trigram index cannot narrow a two-letter term
        // and would be read whole).
        let column = if use_index {
            "p.search_text"
        } else {
            "(p.search_text || '')"
        };
        // Placeholders in order: the index query (SQLite), the user, each term, each filter.
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let mut sql = String::new();
        let from = self.backend.search_from(indexed);
        if indexed {
            next();
        }
        let member = next();
        sql.push_str(&format!(
            "SELECT p.room_id, p.post_id, p.parent_id, p.author_id, p.text, p.created_at, \
                 p.has_attachments, ro.kind, ro.title, pa.name AS patient_name, u.display_name \
             FROM {from} \
             JOIN room_members m ON m.room_id = p.room_id AND m.user_id = {member} \
             JOIN rooms ro ON ro.id = p.room_id \
             LEFT JOIN patients pa ON pa.id = ro.patient_id \
             LEFT JOIN users u ON u.id = p.author_id \
             WHERE NOT p.deleted"
        ));
        for _ in &s.terms {
            sql.push_str(&format!(" AND {column} LIKE {} ESCAPE '\\'", next()));
        }
        if s.room.is_some() {
            sql.push_str(&format!(" AND p.room_id = {}", next()));
        }
        if s.author.is_some() {
            sql.push_str(&format!(" AND p.author_id = {}", next()));
        }
        if s.from.is_some() {
            sql.push_str(&format!(" AND p.created_at >= {}", next()));
        }
        if s.to.is_some() {
            sql.push_str(&format!(" AND p.created_at <= {}", next()));
        }
        if s.before.is_some() {
            let (a, b, c) = (next(), next(), next());
            sql.push_str(&format!(
                " AND (p.created_at < {a} OR (p.created_at = {b} AND p.post_id < {c}))"
            ));
        }
        if s.has_attachment {
            sql.push_str(" AND p.has_attachments");
        }
        if s.unacknowledged {
            let (a, b, c) = (next(), next(), next());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM ack_requests r WHERE r.room_id = p.room_id \
                   AND r.post_id = p.post_id AND r.closed_at IS NULL AND r.author_id <> {a} \
                   AND (r.everyone OR EXISTS (SELECT 1 FROM ack_recipients x \
                        WHERE x.room_id = r.room_id AND x.post_id = r.post_id AND x.user_id = {b})) \
                   AND NOT EXISTS (SELECT 1 FROM acks k WHERE k.room_id = r.room_id \
                        AND k.post_id = r.post_id AND k.user_id = {c}))"
            ));
        }
        let limit = next();
        sql.push_str(&format!(
            " ORDER BY p.created_at DESC, p.post_id DESC LIMIT {limit}"
        ));

        let mut query = sqlx::query(&sql);
        if let Some(fts) = fts.filter(|_| indexed) {
            query = query.bind(fts);
        }
        query = query.bind(s.user.get());
        for term in &s.terms {
            query = query.bind(like_pattern(term));
        }
        if let Some(room) = s.room {
            query = query.bind(room.get());
        }
        if let Some(author) = s.author {
            query = query.bind(author.get());
        }
        for bound in [s.from, s.to].into_iter().flatten() {
            query = query.bind(bound);
        }
        if let Some((at, post)) = &s.before {
            query = query.bind(*at).bind(*at).bind(post.clone());
        }
        if s.unacknowledged {
            query = query
                .bind(s.user.get())
                .bind(s.user.get())
                .bind(s.user.get());
        }
        // One more than asked: whether there are more.
        query = query.bind(s.limit as i64 + 1);
        let rows = query.fetch_all(&self.pool).await?;
        let more = rows.len() > s.limit;
        let mut hits = Vec::with_capacity(rows.len().min(s.limit));
        for row in rows.iter().take(s.limit) {
            let text: String = row.try_get("text")?;
            let room_kind: RoomKind = row
                .try_get::<String, _>("kind")?
                .parse()
                .map_err(crate::Error::internal)?;
            let patient: Option<String> = row.try_get("patient_name")?;
            let highlights = renraku_sync::search::highlights(&text, &s.terms)
                .into_iter()
                .map(|(a, b)| [a, b])
                .collect();
            let room_id: i64 = row.try_get("room_id")?;
            let post: String = row.try_get("post_id")?;
            // The post may have been found by a file's name: the hit shows them.
            let attachments = if super::flag(row, "has_attachments")? {
                sqlx::query_scalar(
                    "SELECT a.name FROM post_attachments l \
                     JOIN attachments a ON a.id = l.attachment_id AND a.room_id = l.room_id \
                     WHERE l.room_id = $1 AND l.post_id = $2 ORDER BY a.created_at, a.id",
                )
                .bind(room_id)
                .bind(post.as_str())
                .fetch_all(&self.pool)
                .await?
            } else {
                Vec::new()
            };
            hits.push(SearchHit {
                room: RoomId::new(room_id),
                room_kind,
                // As the 確認待ち list names a room (`db/acks.rs`).
                room_title: match patient {
                    Some(name) => name,
                    None => row.try_get("title")?,
                },
                post,
                parent: row.try_get("parent_id")?,
                author: UserId::new(row.try_get("author_id")?),
                author_name: row
                    .try_get::<Option<String>, _>("display_name")?
                    .unwrap_or_default(),
                created_at: row.try_get("created_at")?,
                text,
                highlights,
                attachments,
            });
        }
        Ok(SearchResults { hits, more })
    }

    /// Fills the search columns of posts projected before search existed (empty
    /// `search_text` with text); returns how many. Runs at start, in batches.
    pub async fn fill_search_columns(&self) -> Result<usize> {
        let mut filled = 0;
        loop {
            let rows = sqlx::query(
                "SELECT room_id, post_id, text FROM posts \
                 WHERE search_text = '' AND text <> '' AND NOT deleted LIMIT 500",
            )
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(filled);
            }
            let mut tx = self.begin_write().await?;
            for row in &rows {
                let text: String = row.try_get("text")?;
                let normalized = renraku_sync::search::normalize(&text);
                // Text that normalizes to nothing (white space only) is never searched.
                let normalized = if normalized.trim().is_empty() {
                    " ".to_owned()
                } else {
                    normalized
                };
                sqlx::query(
                    "UPDATE posts SET search_text = $1, search_grams = $2 \
                     WHERE room_id = $3 AND post_id = $4",
                )
                .bind(&normalized)
                .bind(self.backend.search_grams(&normalized))
                .bind(row.try_get::<i64, _>("room_id")?)
                .bind(row.try_get::<String, _>("post_id")?)
                .execute(&mut *tx)
                .await?;
                filled += 1;
            }
            tx.commit().await?;
        }
    }

    /// Moves up to `at_most` of the posts stored since the last call into SQLite's search
    /// index, oldest first, in one transaction on `conn` (the hub's writer passes the
    /// connection it keeps): one index segment for all of them rather than one per commit,
    /// and a bounded one, so that a backlog (an import, a restart after a crash) never holds
    /// the write lock for long. The posts still to index are those past the watermark
    /// `posts_fts_indexed.upto` (a new post's rowid is one past the largest), which moves in
    /// the same transaction. Returns how many rowids it went past (`at_most`: more may be
    /// left) and how many posts it indexed; nothing to do on PostgreSQL
    /// ([`super::Backend::indexes_search_later`]). A crash before it leaves them pending, and
    /// searched as such, until the next call.
    pub async fn index_pending_posts_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        at_most: i64,
    ) -> Result<(u64, u64)> {
        if !self.backend.indexes_search_later() {
            return Ok((0, 0));
        }
        const MARKS: &str = "SELECT (SELECT upto FROM posts_fts_indexed) AS upto, \
             (SELECT COALESCE(MAX(rowid), 0) FROM posts) AS top";
        // Without taking the write lock when there is nothing to do (most seconds of a
        // quiet server).
        let marks = sqlx::query(MARKS).fetch_one(&mut *conn).await?;
        if marks.try_get::<i64, _>("top")? <= marks.try_get::<i64, _>("upto")? {
            return Ok((0, 0));
        }
        let mut tx = self.begin_write_on(conn).await?;
        // Read again under the write lock: nothing else writes until the commit.
        let marks = sqlx::query(MARKS).fetch_one(&mut *tx).await?;
        let (upto, top): (i64, i64) = (marks.try_get("upto")?, marks.try_get("top")?);
        let next = top.min(upto.saturating_add(at_most));
        if next <= upto {
            return Ok((0, 0));
        }
        let indexed = sqlx::query(
            "INSERT INTO posts_fts (rowid, search_grams) \
             SELECT rowid, search_grams FROM posts WHERE rowid > $1 AND rowid <= $2",
        )
        .bind(upto)
        .bind(next)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE posts_fts_indexed SET upto = $1")
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(((next - upto) as u64, indexed))
    }

    /// Indexes every pending post ([`Db::index_pending_posts_on`]) on a pooled connection;
    /// returns how many.
    pub async fn index_pending_posts(&self) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        let mut total = 0;
        loop {
            let (taken, indexed) = self.index_pending_posts_on(&mut conn, INDEX_STEP).await?;
            total += indexed;
            if taken < INDEX_STEP as u64 {
                return Ok(total);
            }
        }
    }
}
