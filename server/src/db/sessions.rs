//! Sessions and short-lived room tokens. Both are stored only as SHA-256 hashes of the
//! random tokens the clients hold.

use super::Db;
use crate::error::Result;
use renraku_sync::{RoomId, UserId};
use sqlx::Row;

#[derive(Clone, Copy, Debug)]
pub struct SessionRow {
    pub user: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl Db {
    pub async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(user.get())
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT user_id, created_at, last_seen_at, expires_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                user: UserId::new(row.try_get("user_id")?),
                created_at: row.try_get("created_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets sessions that ended: past their absolute end, or idle since `idle_before`.
    pub async fn purge_sessions(&self, now: i64, idle_before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM room_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn create_room_token(
        &self,
        token_hash: &str,
        room: RoomId,
        user: UserId,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_tokens (token_hash, room_id, user_id, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(room.get())
        .bind(user.get())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The (room, user, expires_at) of a room token, if it exists.
    pub async fn room_token(&self, token_hash: &str) -> Result<Option<(RoomId, UserId, i64)>> {
        let row = sqlx::query(
            "SELECT room_id, user_id, expires_at FROM room_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                RoomId::new(row.try_get("room_id")?),
                UserId::new(row.try_get("user_id")?),
                row.try_get("expires_at")?,
            ))
        })
        .transpose()
    }
}
