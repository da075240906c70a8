//! Municipalities (tenants) and their organizations (facilities).

use super::{flag, now_ms, Db};
use crate::error::Result;
use renraku_sync::{MunicipalityId, OrganizationId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Municipality {
    #[schema(value_type = i64)]
    pub id: MunicipalityId,
    /// The URL segment: `/{slug}/`.
    pub slug: String,
    pub name: String,
    /// Policy: every professional here must sign in with a second factor (TOTP).
    pub require_second_factor: bool,
}

impl Municipality {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: MunicipalityId::new(row.try_get("id")?),
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            require_second_factor: flag(row, "require_second_factor")?,
        })
    }
}

/// The kind of a facility, as stored in `organizations.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    Clinic,
    Hospital,
    NursingStation,
    CareOffice,
    Pharmacy,
    City,
    Other,
}

impl OrganizationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clinic => "clinic",
            Self::Hospital => "hospital",
            Self::NursingStation => "nursing_station",
            Self::CareOffice => "care_office",
            Self::Pharmacy => "pharmacy",
            Self::City => "city",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "clinic" => Self::Clinic,
            "hospital" => Self::Hospital,
            "nursing_station" => Self::NursingStation,
            "care_office" => Self::CareOffice,
            "pharmacy" => Self::Pharmacy,
            "city" => Self::City,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

impl Db {
    pub async fn municipality_by_slug(&self, slug: &str) -> Result<Option<Municipality>> {
        let row = sqlx::query(
            "SELECT id, slug, name, require_second_factor FROM municipalities WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(Municipality::from_row).transpose()?)
    }

    pub async fn municipality(&self, id: MunicipalityId) -> Result<Option<Municipality>> {
        let row = sqlx::query(
            "SELECT id, slug, name, require_second_factor FROM municipalities WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(Municipality::from_row).transpose()?)
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
            .map(Municipality::from_row)
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
