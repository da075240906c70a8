//! 定型文 (templates): a municipality's shared ones (`owner_id` NULL) and each user's own.

use super::{now_ms, Db};
use crate::error::Result;
pub use renraku_contract::Template;
use renraku_sync::{MunicipalityId, TemplateId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A template with whom it belongs to, for the handlers' checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTemplate {
    pub municipality: MunicipalityId,
    /// `None`: shared by the municipality.
    pub owner: Option<UserId>,
    pub template: Template,
}

const COLUMNS: &str = "id, municipality_id, owner_id, title, body, sort_order";

fn from_row(row: &AnyRow) -> Result<StoredTemplate, sqlx::Error> {
    let owner = row.try_get::<Option<i64>, _>("owner_id")?.map(UserId::new);
    Ok(StoredTemplate {
        municipality: MunicipalityId::new(row.try_get("municipality_id")?),
        owner,
        template: Template {
            id: TemplateId::new(row.try_get("id")?),
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            shared: owner.is_none(),
            sort_order: row.try_get("sort_order")?,
        },
    })
}

fn templates(rows: &[AnyRow]) -> Result<Vec<Template>> {
    Ok(rows
        .iter()
        .map(|r| from_row(r).map(|t| t.template))
        .collect::<Result<_, _>>()?)
}

impl Db {
    /// What `user` of `m` may insert: the municipality's shared templates, then the user's
    /// own, each in their order.
    pub async fn templates_for(&self, m: MunicipalityId, user: UserId) -> Result<Vec<Template>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates \
             WHERE municipality_id = $1 AND (owner_id IS NULL OR owner_id = $2) \
             ORDER BY CASE WHEN owner_id IS NULL THEN 0 ELSE 1 END, sort_order, id"
        ))
        .bind(m.get())
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        templates(&rows)
    }

    /// The shared templates of `m`, in their order.
    pub async fn shared_templates(&self, m: MunicipalityId) -> Result<Vec<Template>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates WHERE municipality_id = $1 AND owner_id IS NULL \
             ORDER BY sort_order, id"
        ))
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        templates(&rows)
    }

    pub async fn template(&self, id: TemplateId) -> Result<Option<StoredTemplate>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE id = $1"))
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// How many templates `owner` keeps (`None`: how many `m` shares).
    pub async fn count_templates(&self, m: MunicipalityId, owner: Option<UserId>) -> Result<i64> {
        let row = match owner {
            Some(u) => {
                sqlx::query("SELECT COUNT(*) AS n FROM templates WHERE owner_id = $1")
                    .bind(u.get())
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(
                    "SELECT COUNT(*) AS n FROM templates \
                     WHERE municipality_id = $1 AND owner_id IS NULL",
                )
                .bind(m.get())
                .fetch_one(&self.pool)
                .await?
            }
        };
        Ok(row.try_get("n")?)
    }

    /// Adds a template to `m`: shared when `owner` is `None`. Text already checked.
    pub async fn create_template(
        &self,
        m: MunicipalityId,
        owner: Option<UserId>,
        title: &str,
        body: &str,
        sort_order: i64,
    ) -> Result<TemplateId> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO templates (municipality_id, owner_id, title, body, sort_order, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(m.get())
        .bind(owner.map(UserId::get))
        .bind(title)
        .bind(body)
        .bind(sort_order)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(TemplateId::new(row.try_get("id")?))
    }

    /// Replaces a template's title, body and order; whether it existed.
    pub async fn update_template(
        &self,
        id: TemplateId,
        title: &str,
        body: &str,
        sort_order: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE templates SET title = $1, body = $2, sort_order = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(title)
        .bind(body)
        .bind(sort_order)
        .bind(now_ms())
        .bind(id.get())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn delete_template(&self, id: TemplateId) -> Result<bool> {
        let n = sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(id.get())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
