//! The audit log: who did what to which record. Append-only; never holds secrets.

use super::{now_ms, Db};
use crate::error::Result;
use renraku_sync::{MunicipalityId, UserId};

/// One audit entry. `action` is a stable dotted name (`signin.ok`, `patient_room.read`).
#[derive(Clone, Debug, Default)]
pub struct AuditEntry {
    pub user: Option<UserId>,
    pub municipality: Option<MunicipalityId>,
    pub action: &'static str,
    /// What was acted on, e.g. `room/12` or a login id.
    pub target: String,
    pub detail: String,
}

impl AuditEntry {
    pub fn new(action: &'static str, target: impl Into<String>) -> Self {
        Self {
            action,
            target: target.into(),
            ..Self::default()
        }
    }

    pub fn by(mut self, user: UserId, municipality: MunicipalityId) -> Self {
        self.user = Some(user);
        self.municipality = Some(municipality);
        self
    }

    pub fn in_municipality(mut self, municipality: MunicipalityId) -> Self {
        self.municipality = Some(municipality);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

impl Db {
    pub async fn audit(&self, entry: AuditEntry) -> Result<()> {
        insert(&self.pool, &entry, now_ms()).await
    }

    /// Number of entries with this action; for tests and admin pages.
    pub async fn audit_count(&self, action: &str) -> Result<i64> {
        use sqlx::Row;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// Appends one entry, in a transaction of the caller's or on its own.
pub(super) async fn insert<'e, E>(executor: E, entry: &AuditEntry, at: i64) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, user_id, municipality_id, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(at)
    .bind(entry.user.map(UserId::get))
    .bind(entry.municipality.map(MunicipalityId::get))
    .bind(entry.action)
    .bind(entry.target.as_str())
    .bind(entry.detail.as_str())
    .execute(executor)
    .await?;
    Ok(())
}
