//! Municipalities (tenants) and their organizations (facilities).

use super::{flag, now_ms, Db};
use crate::error::Result;
pub use renraku_contract::{Municipality, OrganizationKind};
use renraku_sync::{MunicipalityId, OrganizationId};
use sqlx::any::AnyRow;
use sqlx::Row;

fn municipality_from_row(row: &AnyRow) -> Result<Municipality, sqlx::Error> {
    Ok(Municipality {
        id: MunicipalityId::new(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        require_second_factor: flag(row, "require_second_factor")?,
    })
}

impl Db {
    pub async fn municipality_by_slug(&self, slug: &str) -> Result<Option<Municipality>> {
        let row = sqlx::query(
            "SELECT id, slug, name, require_second_factor FROM municipalities WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(municipality_from_row).transpose()?)
    }

    pub async fn municipality(&self, id: MunicipalityId) -> Result<Option<Municipality>> {
        let row = sqlx::query(
            "SELECT id, slug, name, require_second_factor FROM municipalities WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(municipality_from_row).transpose()?)
    }

    pub async fn municipality_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM municipalities")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn create_municipality(&self, slug: &str, name: &str) -> Result<MunicipalityId> {
        let row = sqlx::query(
            "INSERT INTO municipalities (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(slug)
        .bind(name)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(MunicipalityId::new(row.try_get("id")?))
    }

    /// Sets the municipality's second-factor policy. Takes effect on the next request of
    /// every session (see [`Db::session`]).
    pub async fn set_require_second_factor(
        &self,
        municipality: MunicipalityId,
        required: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE municipalities SET require_second_factor = $1 WHERE id = $2")
            .bind(required)
            .bind(municipality.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_organization(
        &self,
        municipality: MunicipalityId,
        name: &str,
        kind: OrganizationKind,
    ) -> Result<OrganizationId> {
        let row = sqlx::query(
            "INSERT INTO organizations (municipality_id, name, kind) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(municipality.get())
        .bind(name)
        .bind(kind.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(OrganizationId::new(row.try_get("id")?))
    }
}

impl Db {
    /// Every municipality, by slug.
    pub async fn municipalities(&self) -> Result<Vec<Municipality>> {
        let rows = sqlx::query(
            "SELECT id, slug, name, require_second_factor FROM municipalities ORDER BY slug",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(municipality_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn rename_municipality(&self, id: MunicipalityId, name: &str) -> Result<()> {
        sqlx::query("UPDATE municipalities SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
