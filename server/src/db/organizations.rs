//! Organizations (facilities) as administrators manage them.

use super::municipalities::OrganizationKind;
use super::users::decode_enum;
use super::Db;
use crate::error::Result;
pub use renraku_contract::Organization;
use renraku_sync::{MunicipalityId, OrganizationId};
use sqlx::Row;

impl Db {
    pub async fn organizations_of(&self, m: MunicipalityId) -> Result<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT o.id, o.municipality_id, o.name, o.kind, \
                 (SELECT COUNT(*) FROM users u WHERE u.organization_id = o.id) AS user_count \
             FROM organizations o WHERE o.municipality_id = $1 ORDER BY o.name, o.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Organization {
                    id: OrganizationId::new(row.try_get("id")?),
                    municipality: MunicipalityId::new(row.try_get("municipality_id")?),
                    name: row.try_get("name")?,
                    kind: decode_enum(row, "kind", OrganizationKind::parse)?,
                    user_count: row.try_get("user_count")?,
                })
            })
            .collect()
    }

    /// The municipality an organization belongs to, if it exists.
    pub async fn organization_municipality(
        &self,
        id: OrganizationId,
    ) -> Result<Option<MunicipalityId>> {
        let row = sqlx::query("SELECT municipality_id FROM organizations WHERE id = $1")
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("municipality_id"))
            .transpose()?
            .map(MunicipalityId::new))
    }

    pub async fn update_organization(
        &self,
        id: OrganizationId,
        name: Option<&str>,
        kind: Option<OrganizationKind>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE organizations SET name = COALESCE($1, name), kind = COALESCE($2, kind) \
             WHERE id = $3",
        )
        .bind(name)
        .bind(kind.map(OrganizationKind::as_str))
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
