//! お知らせ (announcements) and maintenance windows, per municipality or system-wide.

use super::{now_ms, Db};
use crate::error::Result;
pub use renraku_contract::{Announcement, MaintenanceWindow};
use renraku_sync::{MunicipalityId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

fn announcement_from_row(row: &AnyRow) -> Result<Announcement, sqlx::Error> {
    Ok(Announcement {
        id: row.try_get("id")?,
        municipality: row
            .try_get::<Option<i64>, _>("municipality_id")?
            .map(MunicipalityId::new),
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn maintenance_window_from_row(row: &AnyRow) -> Result<MaintenanceWindow, sqlx::Error> {
    Ok(MaintenanceWindow {
        id: row.try_get("id")?,
        municipality: row
            .try_get::<Option<i64>, _>("municipality_id")?
            .map(MunicipalityId::new),
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        message: row.try_get("message")?,
    })
}

const ANNOUNCEMENT_COLUMNS: &str =
    "id, municipality_id, title, body, starts_at, ends_at, created_at";
const WINDOW_COLUMNS: &str = "id, municipality_id, starts_at, ends_at, message";

impl Db {
    /// What the portal of `m` shows now: its own and the system-wide announcements that
    /// have started and not ended, newest first.
    pub async fn current_announcements(&self, m: MunicipalityId) -> Result<Vec<Announcement>> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements \
             WHERE (municipality_id = $1 OR municipality_id IS NULL) \
               AND starts_at <= $2 AND (ends_at IS NULL OR ends_at > $3) \
             ORDER BY starts_at DESC, id DESC LIMIT 50"
        ))
        .bind(m.get())
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(announcement_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Every announcement of `m` (or the system-wide ones for `None`), past and future.
    pub async fn announcements_of(&self, m: Option<MunicipalityId>) -> Result<Vec<Announcement>> {
        let sql = match m {
            Some(_) => format!(
                "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE municipality_id = $1 \
                 ORDER BY starts_at DESC, id DESC"
            ),
            None => format!(
                "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE municipality_id IS NULL \
                 ORDER BY starts_at DESC, id DESC"
            ),
        };
        let mut q = sqlx::query(&sql);
        if let Some(m) = m {
            q = q.bind(m.get());
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(announcement_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn announcement(&self, id: i64) -> Result<Option<Announcement>> {
        let row = sqlx::query(&format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(announcement_from_row).transpose()?)
    }

    pub async fn create_announcement(
        &self,
        m: Option<MunicipalityId>,
        title: &str,
        body: &str,
        starts_at: i64,
        ends_at: Option<i64>,
        by: UserId,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO announcements (municipality_id, title, body, starts_at, ends_at, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(m.map(MunicipalityId::get))
        .bind(title)
        .bind(body)
        .bind(starts_at)
        .bind(ends_at)
        .bind(by.get())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn delete_announcement(&self, id: i64) -> Result<bool> {
        let n = sqlx::query("DELETE FROM announcements WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// The maintenance window open now for `m` (its own or a system-wide one), if any.
    pub async fn active_maintenance(
        &self,
        m: Option<MunicipalityId>,
    ) -> Result<Option<MaintenanceWindow>> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows \
             WHERE (municipality_id IS NULL OR municipality_id = $1) \
               AND starts_at <= $2 AND ends_at > $3 ORDER BY ends_at DESC LIMIT 1"
        ))
        .bind(m.map(MunicipalityId::get).unwrap_or(-1))
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(maintenance_window_from_row).transpose()?)
    }

    /// The windows open right now, system-wide or any municipality's.
    pub async fn open_maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows \
             WHERE starts_at <= $1 AND ends_at > $2"
        ))
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(maintenance_window_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Windows that have not ended, soonest first.
    pub async fn maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>> {
        let rows = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE ends_at > $1 \
             ORDER BY starts_at, id"
        ))
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(maintenance_window_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn maintenance_window(&self, id: i64) -> Result<Option<MaintenanceWindow>> {
        let row = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(maintenance_window_from_row).transpose()?)
    }

    pub async fn create_maintenance(
        &self,
        m: Option<MunicipalityId>,
        starts_at: i64,
        ends_at: i64,
        message: &str,
        by: UserId,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO maintenance_windows (municipality_id, starts_at, ends_at, message, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(m.map(MunicipalityId::get))
        .bind(starts_at)
        .bind(ends_at)
        .bind(message)
        .bind(by.get())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn delete_maintenance(&self, id: i64) -> Result<bool> {
        let n = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
