//! Sign-in failure counters (`auth::throttle`), shared by every node on the database. Each
//! key counts failures in a fixed window that starts at its first failure; the counting is
//! one upsert, so failures recorded at once on several nodes all count.

use super::Db;
use crate::error::Result;
use sqlx::Row;

/// A key's failures and the start of its window (unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failures {
    pub key: String,
    pub failures: i64,
    pub window_start: i64,
}

impl Db {
    /// The counters of `keys` (absent keys have none).
    pub async fn signin_failures(&self, keys: [&str; 2]) -> Result<Vec<Failures>> {
        let rows = sqlx::query(
            "SELECT key, failures, window_start FROM signin_failures WHERE key IN ($1, $2)",
        )
        .bind(keys[0])
        .bind(keys[1])
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Failures {
                    key: r.try_get("key")?,
                    failures: r.try_get("failures")?,
                    window_start: r.try_get("window_start")?,
                })
            })
            .collect()
    }

    /// Counts one failure of `key` at `now`. A window that started at or before
    /// `window_over` is over: the count starts again at one, in a new window from `now`.
    pub async fn record_signin_failure(&self, key: &str, now: i64, window_over: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO signin_failures (key, failures, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
                 failures = CASE WHEN signin_failures.window_start <= $3 THEN 1 \
                     ELSE signin_failures.failures + 1 END, \
                 window_start = CASE WHEN signin_failures.window_start <= $4 \
                     THEN excluded.window_start ELSE signin_failures.window_start END",
        )
        .bind(key)
        .bind(now)
        .bind(window_over)
        .bind(window_over)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets `key`'s failures.
    pub async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM signin_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the counters whose window started at or before `window_over`; how many.
    pub async fn sweep_signin_failures(&self, window_over: i64) -> Result<u64> {
        // With a read first, as the sessions' purge beside it (`Db::finds_any`).
        let due = "SELECT 1 AS one FROM signin_failures WHERE window_start <= $1 LIMIT 1";
        if !self.finds_any(due, &[window_over]).await? {
            return Ok(0);
        }
        let done = sqlx::query("DELETE FROM signin_failures WHERE window_start <= $1")
            .bind(window_over)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many counters are stored (to see that sweeping bounds them).
    pub async fn signin_failure_keys(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM signin_failures")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
