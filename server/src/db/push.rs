//! Web push storage: the VAPID key pair, per-user settings and room mutes, subscriptions (one
//! per signed-in browser, removed with its session), and the outbox the sender drains.
//! Pushes are queued by [`enqueue_in`] inside the transaction that projects the new posts.

use super::posts::NewPost;
use super::{flag, now_ms, Db};
use crate::error::{Error, Result};
pub use renraku_contract::PushSettings;
use renraku_sync::{PostId, RoomId, RoomKind, UserId};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Japan has one time zone and no daylight saving: quiet hours are read in UTC+9.
const JST_OFFSET_MINUTES: i64 = 9 * 60;
const MINUTES_PER_DAY: i64 = 24 * 60;
/// How long a push service keeps a notification for a device that is offline.
pub const PUSH_TTL_SECS: i64 = 24 * 60 * 60;
/// The lock-screen text when details are not to be shown.
pub const PRIVATE_BODY: &str = "新しい投稿があります";
/// The lock-screen text of a new urgent post, without details.
pub const PRIVATE_URGENT_BODY: &str = "至急の投稿があります";
/// The lock-screen text of a new post asking the recipient to acknowledge it.
pub const PRIVATE_ASKING_BODY: &str = "確認をお願いする投稿があります";
/// Characters of a post's text shown when the user opted into details.
const DETAIL_CHARS: usize = 120;

/// Whether `now_ms` falls into the quiet hours `[start, end)` (Japan time, minutes).
pub fn in_quiet_hours(now_ms: i64, start: Option<i64>, end: Option<i64>) -> bool {
    let (Some(start), Some(end)) = (start, end) else {
        return false;
    };
    let minute = (now_ms.div_euclid(60_000) + JST_OFFSET_MINUTES).rem_euclid(MINUTES_PER_DAY);
    match start.cmp(&end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => start <= minute && minute < end,
        std::cmp::Ordering::Greater => minute >= start || minute < end,
    }
}

/// What the service worker receives (JSON, encrypted for the device). Never holds a patient's
/// name or a post's text unless the recipient opted into details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPayload {
    pub title: String,
    pub body: String,
    /// One notification per room: a burst of posts replaces rather than piles up.
    pub tag: String,
    /// The room in the app, `/{municipality}/rooms/{id}`.
    pub url: String,
    pub room: i64,
    /// `patient`, `project` or `message`.
    pub kind: String,
}

fn kind_label(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Patient => "患者",
        RoomKind::Project => "プロジェクト",
        RoomKind::Message => "メッセージ",
    }
}

/// The push-service topic of a room: a newer undelivered push of the room replaces the older.
pub fn room_topic(room: RoomId) -> String {
    format!("room-{room}")
}

/// A subscription as the sender needs it.
#[derive(Clone, Debug)]
pub struct SubscriptionKeys {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// One leased outbox row.
#[derive(Clone, Debug)]
pub struct OutboxPush {
    pub id: i64,
    pub subscription_id: i64,
    pub subscription: SubscriptionKeys,
    pub payload: String,
    pub urgency: String,
    pub ttl_secs: i64,
    pub topic: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub created_at: i64,
}

/// Queues one push per device of every other member who wants one, for each new post.
/// Runs inside the transaction that projects the posts. Returns the number queued.
pub(super) async fn enqueue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: super::Backend,
    new_posts: &[NewPost],
    now: i64,
) -> Result<usize> {
    let mut queued = 0;
    // Every subscription of the batch's rooms in one statement (the author's own are passed
    // over below): a busy commit does not ask once per post.
    let mut rooms: Vec<i64> = new_posts.iter().map(|new| new.room.get()).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut subscribed: std::collections::HashMap<i64, Vec<sqlx::any::AnyRow>> =
        std::collections::HashMap::new();
    for list in super::batch::in_lists(&rooms) {
        let sql = backend.positional(format!(
            "SELECT m.room_id, s.id AS subscription_id, m.user_id, \
                 ps.user_id AS settings_user, ps.enabled, ps.show_details, ps.quiet_start, \
                 ps.quiet_end, ps.urgent_in_quiet \
             FROM room_members m \
             JOIN users u ON u.id = m.user_id \
             JOIN push_subscriptions s ON s.user_id = m.user_id \
             LEFT JOIN push_settings ps ON ps.user_id = m.user_id \
             WHERE m.room_id IN ({}) AND NOT u.disabled \
               AND NOT EXISTS (SELECT 1 FROM push_mutes x \
                   WHERE x.user_id = m.user_id AND x.room_id = m.room_id) \
             ORDER BY m.room_id, s.id",
            super::batch::placeholders(1, list.len(), 1)
        ));
        let mut query = sqlx::query(&sql);
        for room in list {
            query = query.bind(room);
        }
        for row in query.fetch_all(&mut **tx).await? {
            subscribed
                .entry(row.try_get("room_id")?)
                .or_default()
                .push(row);
        }
    }
    for new in new_posts {
        let mut recipients = Vec::new();
        for row in subscribed.get(&new.room.get()).into_iter().flatten() {
            if row.try_get::<i64, _>("user_id")? != new.post.author.get() {
                recipients.push(row);
            }
        }
        // A post no member is subscribed to hear of costs no statement of its own: the
        // room's details are read only when somebody is to be told.
        if recipients.is_empty() {
            continue;
        }
        let Some(room) = sqlx::query(
            "SELECT r.kind, r.title, mu.slug, u.display_name FROM rooms r \
             JOIN municipalities mu ON mu.id = r.municipality_id \
             JOIN users u ON u.id = $1 WHERE r.id = $2",
        )
        .bind(new.post.author.get())
        .bind(new.room.get())
        .fetch_optional(&mut **tx)
        .await?
        else {
            continue;
        };
        let kind: RoomKind = room
            .try_get::<String, _>("kind")?
            .parse()
            .map_err(Error::internal)?;
        let title: String = room.try_get("title")?;
        let slug: String = room.try_get("slug")?;
        let author: String = room.try_get("display_name")?;
        let urgent = new.post.urgent;
        for row in recipients {
            let settings = settings_from_row(row)?;
            if !wants_push(&settings, now, urgent) {
                continue;
            }
            let user = UserId::new(row.try_get("user_id")?);
            let asked = new
                .post
                .ack
                .as_ref()
                .is_some_and(|r| r.asks(user, new.post.author));
            let payload = if settings.show_details {
                let text: String = new.post.text.chars().take(DETAIL_CHARS).collect();
                PushPayload {
                    title: if urgent {
                        format!("【至急】{title}")
                    } else {
                        title.clone()
                    },
                    body: if asked {
                        format!("【要確認】{author}: {text}")
                    } else {
                        format!("{author}: {text}")
                    },
                    tag: format!("renraku-room-{}", new.room),
                    url: format!("/{slug}/rooms/{}", new.room),
                    room: new.room.get(),
                    kind: kind.as_str().to_owned(),
                }
            } else {
                PushPayload {
                    title: format!("Renraku · {}", kind_label(kind)),
                    body: if urgent {
                        PRIVATE_URGENT_BODY
                    } else if asked {
                        PRIVATE_ASKING_BODY
                    } else {
                        PRIVATE_BODY
                    }
                    .to_owned(),
                    tag: format!("renraku-room-{}", new.room),
                    url: format!("/{slug}/rooms/{}", new.room),
                    room: new.room.get(),
                    kind: kind.as_str().to_owned(),
                }
            };
            let payload = serde_json::to_string(&payload).map_err(Error::internal)?;
            sqlx::query(
                "INSERT INTO push_outbox (subscription_id, room_id, payload, urgency, ttl_secs, \
                     topic, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(row.try_get::<i64, _>("subscription_id")?)
            .bind(new.room.get())
            .bind(payload)
            .bind(if urgent { "high" } else { "normal" })
            .bind(PUSH_TTL_SECS)
            .bind(room_topic(new.room))
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// A user's settings from a row with `settings_user`, `enabled`, `show_details`,
/// `quiet_start`, `quiet_end` and `urgent_in_quiet` (a LEFT JOIN: no row, the defaults).
fn settings_from_row(row: &sqlx::any::AnyRow) -> Result<PushSettings> {
    if row.try_get::<Option<i64>, _>("settings_user")?.is_none() {
        return Ok(PushSettings::default());
    }
    Ok(PushSettings {
        enabled: flag(row, "enabled")?,
        show_details: flag(row, "show_details")?,
        quiet_start: row.try_get("quiet_start")?,
        quiet_end: row.try_get("quiet_end")?,
        urgent_in_quiet: flag(row, "urgent_in_quiet")?,
        muted_rooms: vec![],
    })
}

/// Whether a push reaches a user with `settings` at `now`: notifications on, and outside
/// quiet hours — unless the post is urgent and the user let urgent posts through.
pub fn wants_push(settings: &PushSettings, now: i64, urgent: bool) -> bool {
    settings.enabled
        && (!in_quiet_hours(now, settings.quiet_start, settings.quiet_end)
            || urgent && settings.urgent_in_quiet)
}

/// A push to particular members of a room about one post, other than "a new post": an
/// acknowledgement request's deadline and reminder, or news for its author.
pub(crate) struct Notice<'a> {
    pub room: RoomId,
    pub post: &'a PostId,
    pub users: &'a [UserId],
    pub urgent: bool,
    /// The lock-screen text without details.
    pub private_body: String,
    /// With details: what goes before the post's author and text.
    pub detail_prefix: String,
}

/// The push-service topic of a room's acknowledgement news: a newer one replaces an
/// undelivered older one, and neither replaces the room's new-post push.
pub fn ack_topic(room: RoomId) -> String {
    format!("ack-{room}")
}

/// Queues `notice` for every device of its users who are still members, enabled, have not
/// muted the room and want a push at `clock_now` (the scheduler's clock: quiet hours are
/// read by it); rows are due at `now` (the push worker's clock). Returns the number queued.
pub(crate) async fn enqueue_notice_in(
    tx: &mut sqlx::AnyConnection,
    notice: &Notice<'_>,
    clock_now: i64,
    now: i64,
) -> Result<usize> {
    if notice.users.is_empty() {
        return Ok(0);
    }
    let Some(room) = sqlx::query(
        "SELECT r.kind, r.title, mu.slug, p.text, u.display_name FROM rooms r \
         JOIN municipalities mu ON mu.id = r.municipality_id \
         LEFT JOIN posts p ON p.room_id = r.id AND p.post_id = $1 \
         LEFT JOIN users u ON u.id = p.author_id \
         WHERE r.id = $2",
    )
    .bind(notice.post.as_str())
    .bind(notice.room.get())
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(0);
    };
    let kind: RoomKind = room
        .try_get::<String, _>("kind")?
        .parse()
        .map_err(Error::internal)?;
    let title: String = room.try_get("title")?;
    let slug: String = room.try_get("slug")?;
    let text: String = room
        .try_get::<Option<String>, _>("text")?
        .unwrap_or_default();
    let author: String = room
        .try_get::<Option<String>, _>("display_name")?
        .unwrap_or_default();
    let mut queued = 0;
    for user in notice.users {
        let rows = sqlx::query(
            "SELECT s.id AS subscription_id, ps.user_id AS settings_user, ps.enabled, \
                 ps.show_details, ps.quiet_start, ps.quiet_end, ps.urgent_in_quiet \
             FROM room_members m \
             JOIN users u ON u.id = m.user_id \
             JOIN push_subscriptions s ON s.user_id = m.user_id \
             LEFT JOIN push_settings ps ON ps.user_id = m.user_id \
             WHERE m.room_id = $1 AND m.user_id = $2 AND NOT u.disabled \
               AND NOT EXISTS (SELECT 1 FROM push_mutes x \
                   WHERE x.user_id = m.user_id AND x.room_id = m.room_id) \
             ORDER BY s.id",
        )
        .bind(notice.room.get())
        .bind(user.get())
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let settings = settings_from_row(&row)?;
            if !wants_push(&settings, clock_now, notice.urgent) {
                continue;
            }
            let payload = if settings.show_details {
                let text: String = text.chars().take(DETAIL_CHARS).collect();
                PushPayload {
                    title: if notice.urgent {
                        format!("【至急】{title}")
                    } else {
                        title.clone()
                    },
                    body: format!("{}{author}: {text}", notice.detail_prefix),
                    tag: format!("renraku-ack-{}-{}", notice.room, notice.post),
                    url: format!("/{slug}/rooms/{}", notice.room),
                    room: notice.room.get(),
                    kind: kind.as_str().to_owned(),
                }
            } else {
                PushPayload {
                    title: format!("Renraku · {}", kind_label(kind)),
                    body: notice.private_body.clone(),
                    tag: format!("renraku-ack-{}-{}", notice.room, notice.post),
                    url: format!("/{slug}/rooms/{}", notice.room),
                    room: notice.room.get(),
                    kind: kind.as_str().to_owned(),
                }
            };
            let payload = serde_json::to_string(&payload).map_err(Error::internal)?;
            sqlx::query(
                "INSERT INTO push_outbox (subscription_id, room_id, payload, urgency, ttl_secs, \
                     topic, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(row.try_get::<i64, _>("subscription_id")?)
            .bind(notice.room.get())
            .bind(payload)
            .bind(if notice.urgent { "high" } else { "normal" })
            .bind(PUSH_TTL_SECS)
            .bind(ack_topic(notice.room))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            queued += 1;
        }
    }
    Ok(queued)
}

impl Db {
    /// The stored VAPID key pair (private, public; base64url), if any.
    pub async fn vapid_keys(&self) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT private_key, public_key FROM push_vapid WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get("private_key")?, r.try_get("public_key")?))
            })
            .transpose()?)
    }

    /// Stores a key pair unless one exists (two nodes starting at once keep the first).
    pub async fn insert_vapid_keys(&self, private: &str, public: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO push_vapid (id, private_key, public_key, created_at) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(private)
        .bind(public)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn push_settings(&self, user: UserId) -> Result<PushSettings> {
        let row = sqlx::query(
            "SELECT enabled, show_details, quiet_start, quiet_end, urgent_in_quiet \
             FROM push_settings WHERE user_id = $1",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?;
        let mut settings = match row {
            Some(row) => PushSettings {
                enabled: flag(&row, "enabled")?,
                show_details: flag(&row, "show_details")?,
                quiet_start: row.try_get("quiet_start")?,
                quiet_end: row.try_get("quiet_end")?,
                urgent_in_quiet: flag(&row, "urgent_in_quiet")?,
                muted_rooms: vec![],
            },
            None => PushSettings::default(),
        };
        settings.muted_rooms =
            sqlx::query("SELECT room_id FROM push_mutes WHERE user_id = $1 ORDER BY room_id")
                .bind(user.get())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get("room_id").map(RoomId::new))
                .collect::<Result<_, sqlx::Error>>()?;
        Ok(settings)
    }

    /// Replaces the settings (not the mutes: see [`PushSettings::muted_rooms`]).
    pub async fn set_push_settings(&self, user: UserId, settings: &PushSettings) -> Result<()> {
        sqlx::query(
            "INSERT INTO push_settings (user_id, enabled, show_details, quiet_start, quiet_end, \
                 urgent_in_quiet, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, \
                 show_details = excluded.show_details, quiet_start = excluded.quiet_start, \
                 quiet_end = excluded.quiet_end, urgent_in_quiet = excluded.urgent_in_quiet, \
                 updated_at = excluded.updated_at",
        )
        .bind(user.get())
        .bind(settings.enabled)
        .bind(settings.show_details)
        .bind(settings.quiet_start)
        .bind(settings.quiet_end)
        .bind(settings.urgent_in_quiet)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Mutes or unmutes one room (the caller checks membership).
    pub async fn set_room_muted(&self, user: UserId, room: RoomId, muted: bool) -> Result<()> {
        if muted {
            sqlx::query(
                "INSERT INTO push_mutes (user_id, room_id, muted_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, room_id) DO NOTHING",
            )
            .bind(user.get())
            .bind(room.get())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM push_mutes WHERE user_id = $1 AND room_id = $2")
                .bind(user.get())
                .bind(room.get())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Stores this browser's subscription for `session`. The same endpoint again (the browser
    /// re-subscribing, or another account signing in on it) moves it to this session.
    pub async fn save_push_subscription(
        &self,
        user: UserId,
        session: &str,
        keys: &SubscriptionKeys,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO push_subscriptions (user_id, session_id, endpoint, p256dh, auth, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, \
                 session_id = excluded.session_id, p256dh = excluded.p256dh, \
                 auth = excluded.auth, created_at = excluded.created_at \
             RETURNING id",
        )
        .bind(user.get())
        .bind(session)
        .bind(keys.endpoint.as_str())
        .bind(keys.p256dh.as_str())
        .bind(keys.auth.as_str())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Removes the subscription of this session (the browser turned notifications off).
    pub async fn remove_session_subscriptions(&self, session: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM push_subscriptions WHERE session_id = $1")
            .bind(session)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether this session has a subscription.
    pub async fn session_subscribed(&self, session: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM push_subscriptions WHERE session_id = $1")
                .bind(session)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Forgets a subscription the push service says is gone (its queued pushes go with it).
    pub async fn delete_push_subscription(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM push_outbox WHERE subscription_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Leases up to `limit` due pushes for `lease_ms`: another worker (another node, or this
    /// one after a crash) takes them only once the lease ran out. Workers of several nodes
    /// leasing at once each get other rows: on PostgreSQL the due rows are picked with
    /// [`super::Backend::skip_locked`] (a row another lease is taking is passed over, not
    /// waited for and then found taken), and the outer `lease_until` condition is checked
    /// again on the locked row; SQLite's one writer runs one lease at a time.
    pub async fn lease_pushes(&self, limit: i64, lease_ms: i64) -> Result<Vec<OutboxPush>> {
        let now = now_ms();
        let until = now + lease_ms;
        // An idle worker looks every few seconds: with a read (`Db::finds_any`).
        let due = "SELECT 1 AS one FROM push_outbox \
                   WHERE next_attempt_at <= $1 AND lease_until <= $2 LIMIT 1";
        if !self.finds_any(due, &[now, now]).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE push_outbox SET lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM push_outbox \
                 WHERE next_attempt_at <= $2 AND lease_until <= $3 ORDER BY id LIMIT $4{}) \
               AND lease_until <= $5 \
             RETURNING id",
            self.backend.skip_locked()
        );
        let ids: Vec<i64> = sqlx::query(&sql)
            .bind(until)
            .bind(now)
            .bind(now)
            .bind(limit)
            .bind(now)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, sqlx::Error>>()?;
        let mut leased = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(row) = sqlx::query(
                "SELECT o.id, o.subscription_id, o.payload, o.urgency, o.ttl_secs, o.topic, \
                     o.attempts, o.created_at, s.endpoint, s.p256dh, s.auth \
                 FROM push_outbox o JOIN push_subscriptions s ON s.id = o.subscription_id \
                 WHERE o.id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            else {
                continue; // its subscription went away meanwhile
            };
            leased.push(OutboxPush {
                id: row.try_get("id")?,
                subscription_id: row.try_get("subscription_id")?,
                subscription: SubscriptionKeys {
                    endpoint: row.try_get("endpoint")?,
                    p256dh: row.try_get("p256dh")?,
                    auth: row.try_get("auth")?,
                },
                payload: row.try_get("payload")?,
                urgency: row.try_get("urgency")?,
                ttl_secs: row.try_get("ttl_secs")?,
                topic: row.try_get("topic")?,
                attempts: row.try_get("attempts")?,
                created_at: row.try_get("created_at")?,
            });
        }
        Ok(leased)
    }

    /// A push was delivered (or will never be): it leaves the outbox.
    pub async fn push_done(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM push_outbox WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A transient failure: try again at `at`.
    pub async fn push_retry_at(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE push_outbox SET next_attempt_at = $1, lease_until = 0 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The earliest time a queued push becomes due (for the worker's sleep).
    pub async fn next_push_due(&self) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until \
                 ELSE next_attempt_at END) AS due FROM push_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("due")?)
    }
}

/// The push-service topic of a municipality's 災害モード news: a newer one (the end)
/// replaces an undelivered older one (the declaration).
pub fn register_topic(m: renraku_sync::MunicipalityId) -> String {
    format!("register-{m}")
}

/// Queues a push about 災害モード in `m` (declared or ended) for every device of `m`'s
/// enabled register responders but `except` (who declared it), as an urgent push: quiet
/// hours hold it back only for users who keep urgent posts quiet too. The text names no
/// person, so it is the same with or without details. Returns the number queued.
pub(crate) async fn enqueue_register_notice_in(
    conn: &mut sqlx::AnyConnection,
    m: renraku_sync::MunicipalityId,
    except: UserId,
    body: &str,
    now: i64,
) -> Result<usize> {
    let Some(mu) = sqlx::query("SELECT slug, name FROM municipalities WHERE id = $1")
        .bind(m.get())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(0);
    };
    let slug: String = mu.try_get("slug")?;
    let name: String = mu.try_get("name")?;
    let recipients = sqlx::query(
        "SELECT s.id AS subscription_id, ps.user_id AS settings_user, ps.enabled, \
             ps.show_details, ps.quiet_start, ps.quiet_end, ps.urgent_in_quiet \
         FROM register_staff r \
         JOIN users u ON u.id = r.user_id \
         JOIN push_subscriptions s ON s.user_id = r.user_id \
         LEFT JOIN push_settings ps ON ps.user_id = r.user_id \
         WHERE r.responder AND u.municipality_id = $1 AND u.id <> $2 AND NOT u.disabled \
         ORDER BY s.id",
    )
    .bind(m.get())
    .bind(except.get())
    .fetch_all(&mut *conn)
    .await?;
    let payload = serde_json::to_string(&PushPayload {
        title: format!("【災害モード】{name}"),
        body: body.to_owned(),
        tag: format!("renraku-register-{m}"),
        url: format!("/{slug}/register"),
        room: 0,
        kind: "register".to_owned(),
    })
    .map_err(Error::internal)?;
    let mut queued = 0;
    for row in recipients {
        if !wants_push(&settings_from_row(&row)?, now, true) {
            continue;
        }
        sqlx::query(
            "INSERT INTO push_outbox (subscription_id, room_id, payload, urgency, ttl_secs, \
                 topic, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(row.try_get::<i64, _>("subscription_id")?)
        .bind(0_i64)
        .bind(&payload)
        .bind("high")
        .bind(PUSH_TTL_SECS)
        .bind(register_topic(m))
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// The push-service topic of one parking booking's reminder and notices: a newer one
/// replaces an undelivered older one.
pub fn parking_topic(booking: renraku_contract::BookingId) -> String {
    format!("parking-{booking}")
}

/// How long before a booking starts its reminder is sent.
pub const PARKING_REMINDER_BEFORE_MS: i64 = 15 * 60 * 1000;

/// Queues one push to each device of `user`, due at `due` (the worker sleeps until the
/// earliest due row, so a push in the future waits in the outbox), as a normal (not
/// urgent) push: quiet hours at `due` hold it back. Returns the number queued.
async fn enqueue_parking_push_in(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    payload: &PushPayload,
    topic: &str,
    due: i64,
    now: i64,
) -> Result<usize> {
    let recipients = sqlx::query(
        "SELECT s.id AS subscription_id, ps.user_id AS settings_user, ps.enabled, \
             ps.show_details, ps.quiet_start, ps.quiet_end, ps.urgent_in_quiet \
         FROM push_subscriptions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN push_settings ps ON ps.user_id = s.user_id \
         WHERE s.user_id = $1 AND NOT u.disabled ORDER BY s.id",
    )
    .bind(user.get())
    .fetch_all(&mut *conn)
    .await?;
    let payload = serde_json::to_string(payload).map_err(Error::internal)?;
    let mut queued = 0;
    for row in recipients {
        if !wants_push(&settings_from_row(&row)?, due, false) {
            continue;
        }
        sqlx::query(
            "INSERT INTO push_outbox (subscription_id, room_id, payload, urgency, ttl_secs, \
                 topic, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(row.try_get::<i64, _>("subscription_id")?)
        .bind(0_i64)
        .bind(&payload)
        .bind("normal")
        .bind(PUSH_TTL_SECS)
        .bind(topic)
        .bind(due)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        queued += 1;
    }
    Ok(queued)
}

fn parking_payload(slug: &str, title: &str, body: String, booking: i64) -> PushPayload {
    PushPayload {
        title: title.to_owned(),
        body,
        tag: format!("renraku-parking-{booking}"),
        url: format!("/{slug}/parking"),
        room: 0,
        kind: "parking".to_owned(),
    }
}

async fn slug_of(
    conn: &mut sqlx::AnyConnection,
    m: renraku_sync::MunicipalityId,
) -> Result<String> {
    Ok(sqlx::query("SELECT slug FROM municipalities WHERE id = $1")
        .bind(m.get())
        .fetch_one(&mut *conn)
        .await?
        .try_get("slug")?)
}

/// Queues the reminder of a booking, due [`PARKING_REMINDER_BEFORE_MS`] before it starts
/// (or at once when that is past). `now` is the system clock's, which the push worker
/// lives by. The text names the space and the time, never a patient.
pub(crate) async fn enqueue_parking_reminder_in(
    conn: &mut sqlx::AnyConnection,
    booking: &crate::db::parking::StoredBooking,
    now: i64,
) -> Result<usize> {
    let b = &booking.booking;
    let slug = slug_of(conn, booking.municipality).await?;
    let payload = parking_payload(
        &slug,
        "駐車場の予約",
        format!(
            "{} {}（{}）",
            b.space_name,
            crate::domain::parking::describe_window(b.start, b.end),
            b.plate
        ),
        b.id.0,
    );
    let due = (b.start - PARKING_REMINDER_BEFORE_MS).max(now);
    enqueue_parking_push_in(conn, booking.user, &payload, &parking_topic(b.id), due, now).await
}

/// Drops a booking's pushes not sent yet (its reminder), when it is cancelled or ends.
pub(crate) async fn drop_parking_pushes_in(
    conn: &mut sqlx::AnyConnection,
    booking: renraku_contract::BookingId,
) -> Result<()> {
    sqlx::query("DELETE FROM push_outbox WHERE topic = $1 AND attempts = 0")
        .bind(parking_topic(booking))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Queues a notice, now, to the booker of each of `bookings` (a space they booked was
/// paused). Returns the number queued.
pub(crate) async fn enqueue_parking_notice_in(
    conn: &mut sqlx::AnyConnection,
    bookings: &[crate::db::parking::StoredBooking],
    body: &str,
    now: i64,
) -> Result<usize> {
    let mut queued = 0;
    for booking in bookings {
        let b = &booking.booking;
        let slug = slug_of(conn, booking.municipality).await?;
        let payload = parking_payload(
            &slug,
            "駐車場の休止",
            format!(
                "{body} {} {}",
                b.space_name,
                crate::domain::parking::describe_window(b.start, b.end)
            ),
            b.id.0,
        );
        queued +=
            enqueue_parking_push_in(conn, booking.user, &payload, &parking_topic(b.id), now, now)
                .await?;
    }
    Ok(queued)
}
