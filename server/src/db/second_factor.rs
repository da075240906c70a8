//! Second factors: a user's TOTP secret (pending, then confirmed), the last accepted time
//! step, and single-use recovery codes (stored as SHA-256 hashes). TOTP values are stored
//! sealed (see `auth::sealed`); this layer stores and compares them as opaque strings.

use super::{now_ms, Db};
use crate::error::Result;
use renraku_sync::UserId;
use sqlx::Row;

/// A user's TOTP state.
#[derive(Clone, Debug, Default)]
pub struct TotpState {
    /// The confirmed secret, as stored (sealed; base32 inside): sign-in requires a code
    /// from it.
    pub secret: Option<String>,
    /// A secret handed out by setup and not yet confirmed with a code (as stored).
    pub pending: Option<String>,
    /// The last time step a code was accepted for (replay protection).
    pub last_step: Option<i64>,
}

impl Db {
    pub async fn totp_state(&self, user: UserId) -> Result<TotpState> {
        let row = sqlx::query(
            "SELECT totp_secret, totp_pending_secret, totp_last_step FROM users WHERE id = $1",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(TotpState::default());
        };
        Ok(TotpState {
            secret: row.try_get("totp_secret")?,
            pending: row.try_get("totp_pending_secret")?,
            last_step: row.try_get("totp_last_step")?,
        })
    }

    /// Stores a secret awaiting confirmation, replacing any earlier pending one.
    pub async fn set_pending_totp(&self, user: UserId, secret: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2")
            .bind(secret)
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a code for `step` was accepted, unless one for this or a later step
    /// already was. Atomic, so two requests racing with the same code cannot both pass.
    pub async fn claim_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 \
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(user.get())
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes the pending secret the confirmed one and replaces the recovery codes, in one
    /// transaction; false if the pending secret changed meanwhile (a concurrent setup).
    /// `pending` is the stored pending value; `secret` the same secret sealed for the
    /// confirmed column.
    pub async fn confirm_totp(
        &self,
        user: UserId,
        pending: &str,
        secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_pending_secret = NULL, \
                 totp_last_step = $2 \
             WHERE id = $3 AND totp_pending_secret = $4",
        )
        .bind(secret)
        .bind(step)
        .bind(user.get())
        .bind(pending)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        let now = now_ms();
        for hash in recovery_code_hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user.get())
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes the second factor and its recovery codes.
    pub async fn remove_totp(&self, user: UserId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, \
                 totp_last_step = NULL WHERE id = $1",
        )
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up a recovery code; false if it is not one of the user's unused codes.
    /// Atomic: a code works once even under concurrent sign-ins.
    pub async fn use_recovery_code(&self, user: UserId, code_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now_ms())
        .bind(user.get())
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Users with a TOTP value stored in the clear (from before secrets were encrypted).
    #[allow(clippy::type_complexity)]
    pub async fn unsealed_totp_rows(
        &self,
    ) -> Result<Vec<(UserId, Option<String>, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT id, totp_secret, totp_pending_secret FROM users \
             WHERE (totp_secret IS NOT NULL AND totp_secret NOT LIKE 'v1:%') \
                OR (totp_pending_secret IS NOT NULL AND totp_pending_secret NOT LIKE 'v1:%') \
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    UserId::new(row.try_get("id")?),
                    row.try_get("totp_secret")?,
                    row.try_get("totp_pending_secret")?,
                ))
            })
            .collect()
    }

    /// Replaces clear values with sealed ones, each only if it is still the clear value read
    /// (so two nodes starting at once cannot seal a value twice). Values replaced.
    pub async fn reseal_totp(
        &self,
        user: UserId,
        secret: Option<(String, String)>,
        pending: Option<(String, String)>,
    ) -> Result<u64> {
        let mut done = 0;
        for (column, swap) in [("totp_secret", secret), ("totp_pending_secret", pending)] {
            let Some((clear, sealed)) = swap else {
                continue;
            };
            done += sqlx::query(&format!(
                "UPDATE users SET {column} = $1 WHERE id = $2 AND {column} = $3"
            ))
            .bind(sealed)
            .bind(user.get())
            .bind(clear)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(done)
    }
}
