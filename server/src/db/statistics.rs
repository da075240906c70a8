//! Statistics for administrators: posts and active users (authors) per month, by room kind,
//! from the `posts` projection. Months are Japan Standard Time calendar months.

use super::Db;
use crate::error::Result;
pub use renraku_contract::{Month, MonthKind, Statistics};
use renraku_sync::MunicipalityId;
use sqlx::Row;

/// JST is UTC+9 all year (no daylight saving).
const JST_MS: i64 = 9 * 3_600_000;

impl Db {
    /// Posts stored from `since` (unix ms) on, in rooms of `m`, counted per JST month.
    pub async fn statistics(&self, m: MunicipalityId, since: i64) -> Result<Statistics> {
        self.projection_settled().await;
        debug_assert_eq!(JST_MS, 32_400_000);
        let month = self.backend.jst_month("p.stored_at");
        let from = "FROM posts p JOIN rooms r ON r.id = p.room_id \
                    WHERE r.municipality_id = $1 AND p.stored_at >= $2";
        let by_kind = sqlx::query(&format!(
            "SELECT {month} AS month, r.kind AS kind, COUNT(*) AS posts, \
                 COUNT(DISTINCT p.author_id) AS active_users {from} \
             GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .bind(m.get())
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(MonthKind {
                month: row.try_get("month")?,
                kind: row
                    .try_get::<String, _>("kind")?
                    .parse()
                    .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
                posts: row.try_get("posts")?,
                active_users: row.try_get("active_users")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let months = sqlx::query(&format!(
            "SELECT {month} AS month, COUNT(*) AS posts, \
                 COUNT(DISTINCT p.author_id) AS active_users {from} GROUP BY 1 ORDER BY 1"
        ))
        .bind(m.get())
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Month {
                month: row.try_get("month")?,
                posts: row.try_get("posts")?,
                active_users: row.try_get("active_users")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Statistics { months, by_kind })
    }
}
