//! Sessions and short-lived room tokens. Both are stored only as SHA-256 hashes of the
//! random tokens the clients hold.

use super::{flag, Db};
use crate::error::Result;
use renraku_sync::{RoomId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::fmt;

/// A session's public id: names it in `GET /api/me/sessions` and `DELETE …/{id}`. Not a
/// secret (a ULID, unlike the 32-hex token), and useless for authenticating.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        SessionId(ulid::Ulid::new().to_string())
    }

    /// Parses a public id from a path; anything else cannot name a session.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<ulid::Ulid>()
            .ok()
            .map(|u| SessionId(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A session was used at `at`: its idle time starts again, if it is still live then (not
/// past its absolute end, nor idle since before `idle_before`), so that a touch queued just
/// before the session ended never brings it back. Written by the hub's writer in its next
/// group commit (`Hub::touch_session`), never by a transaction of its own: on SQLite one
/// would contend for the write lock with the commit every room waits for.
#[derive(Clone, Debug)]
pub struct Touch {
    pub session: SessionId,
    pub at: i64,
    pub idle_before: i64,
}

/// [`Touch`]'s statement: `$1` the time, `$2` the session's public id, `$3` `idle_before`.
pub const TOUCH_SQL: &str = "UPDATE sessions SET last_seen_at = $1 \
     WHERE public_id = $2 AND expires_at > $1 AND last_seen_at >= $3";

/// A session as authentication sees it, with what decides whether it is restricted.
#[derive(Clone, Debug)]
pub struct SessionRow {
    pub id: SessionId,
    pub user: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// The user has a confirmed TOTP secret or a passkey.
    pub has_second_factor: bool,
    /// The user's municipality requires a second factor.
    pub second_factor_required: bool,
}

/// A session as its owner sees it in the list: never the token or its hash.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: SessionId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
}

/// What a new session records besides its token's hash.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub id: &'a SessionId,
    pub user: UserId,
    pub now: i64,
    pub expires_at: i64,
    pub user_agent: &'a str,
}

/// What decides whether a session is still live.
#[derive(Clone, Debug)]
pub struct SessionTimes {
    pub id: SessionId,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A room token as minted: for one room, by one session of its user.
#[derive(Clone, Debug)]
pub struct NewRoomToken<'a> {
    pub token_hash: &'a str,
    pub room: RoomId,
    pub user: UserId,
    pub session: &'a SessionId,
    pub expires_at: i64,
}

/// A room token and the session that minted it.
#[derive(Clone, Debug)]
pub struct RoomTokenRow {
    pub room: RoomId,
    pub user: UserId,
    pub expires_at: i64,
    pub session: SessionTimes,
}

impl Db {
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, public_id, user_id, created_at, last_seen_at, \
                 expires_at, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id_hash)
        .bind(session.id.as_str())
        .bind(session.user.get())
        .bind(session.now)
        .bind(session.now)
        .bind(session.expires_at)
        .bind(session.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One round trip per authenticated request: the session, and the two facts that decide
    /// whether it may do more than enrol a second factor (so a policy change or a removed
    /// factor takes effect at once, not at the next sign-in).
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT s.public_id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, \
                 u.totp_secret, m.require_second_factor, \
                 (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) AS passkeys \
             FROM sessions s JOIN users u ON u.id = s.user_id \
                 JOIN municipalities m ON m.id = u.municipality_id \
             WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                id: SessionId(row.try_get("public_id")?),
                user: UserId::new(row.try_get("user_id")?),
                created_at: row.try_get("created_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                expires_at: row.try_get("expires_at")?,
                has_second_factor: row.try_get::<Option<String>, _>("totp_secret")?.is_some()
                    || row.try_get::<i64, _>("passkeys")? > 0,
                second_factor_required: flag(&row, "require_second_factor")?,
            })
        })
        .transpose()
    }

    /// The live sessions of `user`, newest first.
    pub async fn sessions_of(
        &self,
        user: UserId,
        now: i64,
        idle_before: i64,
    ) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT public_id, created_at, last_seen_at, expires_at, user_agent FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 AND last_seen_at >= $3 \
             ORDER BY created_at DESC, public_id DESC",
        )
        .bind(user.get())
        .bind(now)
        .bind(idle_before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: SessionId(row.try_get("public_id")?),
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Ends one of `user`'s sessions by its public id; false if they have no such session.
    pub async fn revoke_session(&self, user: UserId, id: &SessionId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE public_id = $1 AND user_id = $2")
            .bind(id.as_str())
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of `user` except `keep` (after a password or second-factor change,
    /// a session someone else may hold must not survive); the ids of those it ended.
    pub async fn revoke_other_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        let rows = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND public_id <> $2 RETURNING public_id",
        )
        .bind(user.get())
        .bind(keep.map(SessionId::as_str).unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(SessionId(row.try_get("public_id")?)))
            .collect()
    }

    /// Ends a session by its public id (its room tokens go with it); false if it was gone.
    pub async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE public_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The times that decide whether each of `ids` is still live, for the ones that exist.
    pub async fn session_times(&self, ids: &[SessionId]) -> Result<Vec<SessionTimes>> {
        let mut found = Vec::with_capacity(ids.len());
        for list in super::batch::in_lists(ids) {
            let sql = self.backend.positional(format!(
                "SELECT public_id, last_seen_at, expires_at FROM sessions \
                 WHERE public_id IN ({})",
                super::batch::placeholders(1, list.len(), 1)
            ));
            let mut query = sqlx::query(&sql);
            for id in &list {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(SessionTimes {
                    id: SessionId(row.try_get("public_id")?),
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                });
            }
        }
        Ok(found)
    }

    /// How many times, by any process, session rows were deleted or their times shortened
    /// (a trigger counts them): the sweeper looks at every open socket's session again only
    /// when this moved.
    pub async fn session_ends(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT n FROM session_ends WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Forgets sessions that ended (past their absolute end, or idle since `idle_before`),
    /// with their room tokens, and expired room tokens and passkey ceremonies; the ids of
    /// the sessions forgotten.
    pub async fn purge_sessions(&self, now: i64, idle_before: i64) -> Result<Vec<SessionId>> {
        // Once a minute, mostly with nothing to forget: looked for with a read first
        // (`Db::finds_any`).
        let due = "SELECT 1 AS one WHERE \
                   EXISTS (SELECT 1 FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2) \
                   OR EXISTS (SELECT 1 FROM room_tokens WHERE expires_at <= $3) \
                   OR EXISTS (SELECT 1 FROM webauthn_ceremonies WHERE expires_at <= $4)";
        if !self.finds_any(due, &[now, idle_before, now, now]).await? {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2 \
             RETURNING public_id",
        )
        .bind(now)
        .bind(idle_before)
        .fetch_all(&self.pool)
        .await?;
        sqlx::query("DELETE FROM room_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(SessionId(row.try_get("public_id")?)))
            .collect()
    }

    pub async fn create_room_token(&self, token: &NewRoomToken<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_tokens (token_hash, room_id, user_id, session_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.token_hash)
        .bind(token.room.get())
        .bind(token.user.get())
        .bind(token.session.as_str())
        .bind(token.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A room token with the session that minted it, if both still exist.
    pub async fn room_token(&self, token_hash: &str) -> Result<Option<RoomTokenRow>> {
        let row = sqlx::query(
            "SELECT t.room_id, t.user_id, t.expires_at, s.public_id, s.last_seen_at, \
                 s.expires_at AS session_expires_at \
             FROM room_tokens t JOIN sessions s ON s.public_id = t.session_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RoomTokenRow {
                room: RoomId::new(row.try_get("room_id")?),
                user: UserId::new(row.try_get("user_id")?),
                expires_at: row.try_get("expires_at")?,
                session: SessionTimes {
                    id: SessionId(row.try_get("public_id")?),
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("session_expires_at")?,
                },
            })
        })
        .transpose()
    }
}

/// Writes the touches in the caller's transaction.
pub async fn touch_in(conn: &mut sqlx::AnyConnection, touches: &[Touch]) -> Result<()> {
    for touch in touches {
        sqlx::query(TOUCH_SQL)
            .bind(touch.at)
            .bind(touch.session.as_str())
            .bind(touch.idle_before)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
