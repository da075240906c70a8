//! Acknowledgement requests (要確認): the `ack_requests`, `ack_recipients` and `acks`
//! projection of room documents, written by [`project_in`] in the group commit that stores
//! the updates (like `posts`), the home screen's 「確認待ち」 list, and the scheduler's
//! steps (`crate::acks` drives them by the server's clock).
//!
//! A request's life: stored with its post (stage 0, `next_at` = the deadline); when the
//! deadline comes with people missing, they get a push and the author is told (stage 1,
//! `next_at` = [`REMIND_AFTER_MS`] later); then the missing get one more push (stage 2, no
//! `next_at`). Whenever everyone asked has acknowledged, the request closes and the author
//! is told, in the commit that stored the last acknowledgement.

use super::posts::Projection;
use super::push::{enqueue_notice_in, Notice};
use super::{flag, Db};
use crate::error::Result;
pub use renraku_contract::{AckInbox, AckItem};
use renraku_sync::{Post, PostId, RoomId, RoomKind, UserId};
use sqlx::Row;

/// How long after the deadline the people still missing are reminded once more.
pub const REMIND_AFTER_MS: i64 = 60 * 60 * 1000;
/// Characters of a post shown in the 「確認待ち」 list.
const EXCERPT_CHARS: usize = 80;
/// Requests the scheduler takes up in one pass.
const DUE_BATCH: i64 = 100;

/// Who is asked and has not acknowledged: current members (not the author), named by the
/// request or all of them for a whole-team request. `$1` post, `$2` room.
const MISSING: &str = "SELECT m.user_id FROM room_members m \
     JOIN ack_requests r ON r.room_id = m.room_id AND r.post_id = $1 \
     WHERE m.room_id = $2 AND m.user_id <> r.author_id \
       AND (r.everyone OR EXISTS (SELECT 1 FROM ack_recipients x \
            WHERE x.room_id = r.room_id AND x.post_id = r.post_id AND x.user_id = m.user_id)) \
       AND NOT EXISTS (SELECT 1 FROM acks a \
            WHERE a.room_id = r.room_id AND a.post_id = r.post_id AND a.user_id = m.user_id) \
     ORDER BY m.user_id";

/// How many are asked (as [`MISSING`], acknowledged or not). `$1` post, `$2` room.
const ASKED: &str = "SELECT COUNT(*) AS n FROM room_members m \
     JOIN ack_requests r ON r.room_id = m.room_id AND r.post_id = $1 \
     WHERE m.room_id = $2 AND m.user_id <> r.author_id \
       AND (r.everyone OR EXISTS (SELECT 1 FROM ack_recipients x \
            WHERE x.room_id = r.room_id AND x.post_id = r.post_id AND x.user_id = m.user_id))";

async fn missing_in(
    tx: &mut sqlx::AnyConnection,
    room: RoomId,
    post: &PostId,
) -> Result<Vec<UserId>> {
    Ok(sqlx::query(MISSING)
        .bind(post.as_str())
        .bind(room.get())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("user_id").map(UserId::new))
        .collect::<Result<_, sqlx::Error>>()?)
}

async fn asked_in(tx: &mut sqlx::AnyConnection, room: RoomId, post: &PostId) -> Result<i64> {
    Ok(sqlx::query(ASKED)
        .bind(post.as_str())
        .bind(room.get())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?)
}

/// Stores (or replaces) the request a post makes.
async fn upsert_request(tx: &mut sqlx::AnyConnection, room: RoomId, post: &Post) -> Result<()> {
    let Some(request) = &post.ack else {
        return Ok(());
    };
    let existing =
        sqlx::query("SELECT due_at, stage FROM ack_requests WHERE room_id = $1 AND post_id = $2")
            .bind(room.get())
            .bind(post.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    match existing {
        None => {
            sqlx::query(
                "INSERT INTO ack_requests (room_id, post_id, author_id, everyone, urgent, due_at, \
                     created_at, stage, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(room.get())
            .bind(post.id.as_str())
            .bind(post.author.get())
            .bind(request.everyone)
            .bind(post.urgent)
            .bind(request.due)
            .bind(post.created_at)
            .bind(0_i64)
            .bind(request.due)
            .execute(&mut *tx)
            .await?;
        }
        Some(row) => {
            let due: Option<i64> = row.try_get("due_at")?;
            // A new deadline starts the schedule over; an edit of the text keeps it.
            let restart = due != request.due;
            sqlx::query(
                "UPDATE ack_requests SET everyone = $1, urgent = $2, due_at = $3, \
                     stage = CASE WHEN $4 THEN 0 ELSE stage END, \
                     next_at = CASE WHEN $5 THEN $6 ELSE next_at END \
                 WHERE room_id = $7 AND post_id = $8",
            )
            .bind(request.everyone)
            .bind(post.urgent)
            .bind(request.due)
            .bind(restart)
            .bind(restart)
            .bind(request.due)
            .bind(room.get())
            .bind(post.id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM ack_recipients WHERE room_id = $1 AND post_id = $2")
                .bind(room.get())
                .bind(post.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    for user in &request.to {
        sqlx::query("INSERT INTO ack_recipients (room_id, post_id, user_id) VALUES ($1, $2, $3)")
            .bind(room.get())
            .bind(post.id.as_str())
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Writes the requests and acknowledgements of `projections` inside `tx` (after the posts),
/// closes requests that are now complete and, with `notify`, queues the author's push for
/// each. Returns the number of pushes queued.
pub(crate) async fn project_in(
    tx: &mut sqlx::AnyConnection,
    projections: &[&Projection],
    posts: &super::posts::Projected,
    now: i64,
    notify: bool,
) -> Result<usize> {
    let mut pushes = 0;
    for projection in projections {
        let room = projection.room;
        let mut touched: Vec<&PostId> = Vec::new();
        for (id, post) in &projection.posts {
            match post.as_ref().filter(|p| !p.deleted && p.ack.is_some()) {
                Some(post) => {
                    upsert_request(tx, room, post).await?;
                    touched.push(id);
                }
                // A post new in this commit has no request to clear.
                None if posts.inserted.contains(&(room, id.clone())) => {}
                None => {
                    // No request (any more): a deleted post, or one edited to ask nothing.
                    // Recipients are written only with their request.
                    let removed =
                        sqlx::query("DELETE FROM ack_requests WHERE room_id = $1 AND post_id = $2")
                            .bind(room.get())
                            .bind(id.as_str())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    if removed > 0 {
                        sqlx::query(
                            "DELETE FROM ack_recipients WHERE room_id = $1 AND post_id = $2",
                        )
                        .bind(room.get())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        for (post, user, at) in &projection.acks {
            match at {
                Some(at) => {
                    sqlx::query(
                        "INSERT INTO acks (room_id, post_id, user_id, at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (room_id, post_id, user_id) DO UPDATE SET at = excluded.at",
                    )
                    .bind(room.get())
                    .bind(post.as_str())
                    .bind(user.get())
                    .bind(*at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM acks WHERE room_id = $1 AND post_id = $2 AND user_id = $3",
                    )
                    .bind(room.get())
                    .bind(post.as_str())
                    .bind(user.get())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            touched.push(post);
        }
        touched.sort();
        touched.dedup();
        for post in touched {
            pushes += settle_in(tx, room, post, now, notify).await?;
        }
    }
    Ok(pushes)
}

/// Closes a request everyone asked has acknowledged (telling its author), or reopens one
/// that someone asked has not (an acknowledgement taken back, a name added).
async fn settle_in(
    tx: &mut sqlx::AnyConnection,
    room: RoomId,
    post: &PostId,
    now: i64,
    notify: bool,
) -> Result<usize> {
    let Some(row) = sqlx::query(
        "SELECT author_id, urgent, stage, due_at, closed_at FROM ack_requests \
         WHERE room_id = $1 AND post_id = $2",
    )
    .bind(room.get())
    .bind(post.as_str())
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(0);
    };
    let closed = row.try_get::<Option<i64>, _>("closed_at")?.is_some();
    let missing = missing_in(tx, room, post).await?;
    let asked = asked_in(tx, room, post).await?;
    let complete = missing.is_empty() && asked > 0;
    if complete && !closed {
        sqlx::query(
            "UPDATE ack_requests SET closed_at = $1, next_at = NULL \
             WHERE room_id = $2 AND post_id = $3",
        )
        .bind(now)
        .bind(room.get())
        .bind(post.as_str())
        .execute(&mut *tx)
        .await?;
        if !notify {
            return Ok(0);
        }
        let author = UserId::new(row.try_get("author_id")?);
        let notice = Notice {
            room,
            post,
            users: &[author],
            urgent: flag(&row, "urgent")?,
            private_body: format!("確認をお願いした投稿を全員（{asked} 人）が確認しました"),
            detail_prefix: "【全員確認済み】".to_owned(),
        };
        return enqueue_notice_in(tx, &notice, now, now).await;
    }
    if !complete && closed {
        // Open again: waiting for the deadline if it has not been passed yet.
        let stage: i64 = row.try_get("stage")?;
        let due: Option<i64> = row.try_get("due_at")?;
        sqlx::query(
            "UPDATE ack_requests SET closed_at = NULL, next_at = $1 \
             WHERE room_id = $2 AND post_id = $3",
        )
        .bind(if stage == 0 { due } else { None })
        .bind(room.get())
        .bind(post.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(0)
}

/// One request whose time has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRequest {
    pub room: RoomId,
    pub post: PostId,
    pub stage: i64,
}

fn item_from_row(row: &sqlx::any::AnyRow) -> Result<AckItem> {
    let kind: RoomKind = row
        .try_get::<String, _>("kind")?
        .parse()
        .map_err(crate::Error::internal)?;
    let text: String = row.try_get("text")?;
    Ok(AckItem {
        room: RoomId::new(row.try_get("room_id")?),
        room_kind: kind,
        room_title: row
            .try_get::<Option<String>, _>("patient_name")?
            .unwrap_or(row.try_get("title")?),
        post: row.try_get("post_id")?,
        author: UserId::new(row.try_get("author_id")?),
        author_name: row
            .try_get::<Option<String>, _>("display_name")?
            .unwrap_or_default(),
        excerpt: text.chars().take(EXCERPT_CHARS).collect(),
        created_at: row.try_get("created_at")?,
        due_at: row.try_get("due_at")?,
        urgent: flag(row, "urgent")?,
        acked: 0,
        asked: 0,
    })
}

const ITEM_COLUMNS: &str = "r.room_id, r.post_id, r.author_id, r.urgent, r.due_at, \
     r.created_at, ro.kind, ro.title, pa.name AS patient_name, u.display_name, p.text \
     FROM ack_requests r \
     JOIN rooms ro ON ro.id = r.room_id \
     LEFT JOIN patients pa ON pa.id = ro.patient_id \
     JOIN posts p ON p.room_id = r.room_id AND p.post_id = r.post_id \
     LEFT JOIN users u ON u.id = r.author_id";

/// The order of the list: overdue first, then urgent, then by deadline, then the newest.
fn sort_items(items: &mut [AckItem], now: i64) {
    items.sort_by_key(|i| {
        (
            i.due_at.is_none_or(|d| d > now),
            !i.urgent,
            i.due_at.unwrap_or(i64::MAX),
            std::cmp::Reverse(i.created_at),
        )
    });
}

impl Db {
    /// The 「確認待ち」 list of `user` at `now`.
    pub async fn ack_inbox(&self, user: UserId, now: i64) -> Result<AckInbox> {
        self.projection_settled().await;
        let mut conn = self.pool.acquire().await?;
        let mut waiting_for_me = Vec::new();
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} \
             JOIN room_members m ON m.room_id = r.room_id AND m.user_id = $1 \
             WHERE r.closed_at IS NULL AND r.author_id <> $2 \
               AND (r.everyone OR EXISTS (SELECT 1 FROM ack_recipients x \
                    WHERE x.room_id = r.room_id AND x.post_id = r.post_id AND x.user_id = $3)) \
               AND NOT EXISTS (SELECT 1 FROM acks a \
                    WHERE a.room_id = r.room_id AND a.post_id = r.post_id AND a.user_id = $4)"
        ))
        .bind(user.get())
        .bind(user.get())
        .bind(user.get())
        .bind(user.get())
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            waiting_for_me.push(item_from_row(row)?);
        }
        let mut mine = Vec::new();
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} \
             JOIN room_members m ON m.room_id = r.room_id AND m.user_id = $1 \
             WHERE r.closed_at IS NULL AND r.author_id = $2"
        ))
        .bind(user.get())
        .bind(user.get())
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            mine.push(item_from_row(row)?);
        }
        for item in waiting_for_me.iter_mut().chain(mine.iter_mut()) {
            let Some(post) = PostId::parse(&item.post) else {
                continue;
            };
            let asked = asked_in(&mut conn, item.room, &post).await?;
            let missing = missing_in(&mut conn, item.room, &post).await?.len() as i64;
            item.asked = asked;
            item.acked = asked - missing;
        }
        sort_items(&mut waiting_for_me, now);
        sort_items(&mut mine, now);
        Ok(AckInbox {
            waiting_for_me,
            mine,
        })
    }

    /// Open requests whose next step is due at `now` (the scheduler's clock).
    pub async fn due_ack_requests(&self, now: i64) -> Result<Vec<DueRequest>> {
        self.projection_settled().await;
        let rows = sqlx::query(
            "SELECT room_id, post_id, stage FROM ack_requests \
             WHERE closed_at IS NULL AND next_at IS NOT NULL AND next_at <= $1 \
             ORDER BY next_at LIMIT $2",
        )
        .bind(now)
        .bind(DUE_BATCH)
        .fetch_all(&self.pool)
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            let post: String = row.try_get("post_id")?;
            if let Some(post) = PostId::parse(&post) {
                due.push(DueRequest {
                    room: RoomId::new(row.try_get("room_id")?),
                    post,
                    stage: row.try_get("stage")?,
                });
            }
        }
        Ok(due)
    }

    /// Takes one step of a due request at `clock_now`: pushes to those still missing (and at
    /// the deadline, the author's news), then the next step's time. Another node that took
    /// the step first leaves nothing to do (the stage is claimed in the transaction).
    /// Returns the number of pushes queued.
    pub async fn fire_ack_request(&self, due: &DueRequest, clock_now: i64) -> Result<usize> {
        self.projection_settled().await;
        let now = super::now_ms();
        let mut tx = self.begin_write().await?;
        let next_at = (due.stage == 0).then_some(clock_now + REMIND_AFTER_MS);
        let claimed = sqlx::query(
            "UPDATE ack_requests SET stage = $1, next_at = $2 \
             WHERE room_id = $3 AND post_id = $4 AND stage = $5 AND closed_at IS NULL",
        )
        .bind(due.stage + 1)
        .bind(next_at)
        .bind(due.room.get())
        .bind(due.post.as_str())
        .bind(due.stage)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(0);
        }
        let row = sqlx::query(
            "SELECT author_id, urgent FROM ack_requests WHERE room_id = $1 AND post_id = $2",
        )
        .bind(due.room.get())
        .bind(due.post.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let author = UserId::new(row.try_get("author_id")?);
        let urgent = flag(&row, "urgent")?;
        let missing = missing_in(&mut tx, due.room, &due.post).await?;
        let mut pushes = 0;
        if !missing.is_empty() {
            let (private_body, detail_prefix) = if due.stage == 0 {
                ("確認をお願いされた投稿の期限が来ました", "【要確認・期限】")
            } else {
                (
                    "確認をお願いされた投稿がまだ確認されていません",
                    "【要確認・再通知】",
                )
            };
            pushes += enqueue_notice_in(
                &mut tx,
                &Notice {
                    room: due.room,
                    post: &due.post,
                    users: &missing,
                    urgent,
                    private_body: private_body.to_owned(),
                    detail_prefix: detail_prefix.to_owned(),
                },
                clock_now,
                now,
            )
            .await?;
            if due.stage == 0 {
                let n = missing.len();
                pushes += enqueue_notice_in(
                    &mut tx,
                    &Notice {
                        room: due.room,
                        post: &due.post,
                        users: &[author],
                        urgent,
                        private_body: format!(
                            "確認をお願いした投稿の期限が過ぎました（未確認 {n} 人）"
                        ),
                        detail_prefix: format!("【期限切れ・未確認 {n} 人】"),
                    },
                    clock_now,
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        if pushes > 0 {
            self.push_notifier.wake();
        }
        Ok(pushes)
    }

    /// The requests of a room's posts with their acknowledgements, as projected: (post,
    /// author, asked, acknowledged by whom and when), for tests and checks.
    pub async fn projected_acks(&self, room: RoomId) -> Result<Vec<(PostId, UserId, i64)>> {
        self.projection_settled().await;
        let rows = sqlx::query(
            "SELECT post_id, user_id, at FROM acks WHERE room_id = $1 ORDER BY post_id, user_id",
        )
        .bind(room.get())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let post: String = row.try_get("post_id")?;
            if let Some(post) = PostId::parse(&post) {
                out.push((
                    post,
                    UserId::new(row.try_get("user_id")?),
                    row.try_get("at")?,
                ));
            }
        }
        Ok(out)
    }
}
