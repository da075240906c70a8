//! `renraku import` / `renraku export` (`crate::transfer`), their database half: reading the
//! whole data set, writing one in a single transaction, and the facts the import's
//! placement check (`crate::import_export::placement`) is made against.

mod export;
mod import;

pub use export::export;
pub(crate) use import::ExternalIds;
pub use import::{import, ImportReport};

use super::Backend;
use crate::error::Result;
use crate::import_export::placement::Existing;
use sqlx::{AnyConnection, Row};

/// What the database holds that the import's placement check depends on: municipalities
/// by slug, every record's municipality, and the agreements' members. Read inside the
/// import's transaction.
async fn placement_facts(conn: &mut AnyConnection, backend: Backend) -> Result<Existing> {
    let mut out = Existing::default();
    for row in sqlx::query("SELECT id, slug FROM municipalities")
        .fetch_all(&mut *conn)
        .await?
    {
        out.municipality_by_slug
            .insert(row.try_get("slug")?, row.try_get("id")?);
    }
    for (kind, table) in [
        ("organization", "organizations"),
        ("user", "users"),
        ("patient", "patients"),
        ("room", "rooms"),
    ] {
        let rows = sqlx::query(&format!("SELECT id, municipality_id FROM {table}"))
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            out.homes
                .insert((kind, row.try_get("id")?), row.try_get("municipality_id")?);
        }
    }
    for (agreement, members) in super::tenancy::agreement_members_in(conn, backend).await? {
        let members = members.into_iter().map(|m| m.get()).collect();
        out.agreements.insert(agreement, members);
    }
    Ok(out)
}
