//! The tenancy rule's database half: the agreements in force, read inside a caller's
//! transaction, and the check every writer of memberships makes before it writes. The rule
//! itself is [`crate::domain::tenancy::may_join`].

use super::{Backend, Db};
use crate::domain::tenancy::{may_join, Agreements};
use crate::error::{Error, Result};
use renraku_sync::{MunicipalityId, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// The agreements in force in the database, read on `conn` inside a caller's transaction.
pub async fn agreements_in(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Agreements<MunicipalityId>> {
    Ok(Agreements::new(
        agreement_members_in(conn, backend).await?.into_values(),
    ))
}

/// Each agreement's member municipalities, by agreement id. On PostgreSQL the rows stay
/// locked (`FOR SHARE`) until the caller's transaction ends: a municipality leaving an
/// agreement meanwhile waits, and its sweep of the memberships the agreement allowed then
/// sees what this transaction added; one that left first is not seen here. (SQLite has
/// one writer at a time, and refuses a transaction that read before another's commit.)
pub async fn agreement_members_in(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<BTreeMap<i64, Vec<MunicipalityId>>> {
    let sql = format!(
        "SELECT agreement_id, municipality_id FROM agreement_members{}",
        backend.for_share()
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    let mut groups: BTreeMap<i64, Vec<MunicipalityId>> = BTreeMap::new();
    for row in rows {
        groups
            .entry(row.try_get("agreement_id")?)
            .or_default()
            .push(MunicipalityId::new(row.try_get("municipality_id")?));
    }
    Ok(groups)
}

/// Refuses with [`Error::Forbidden`] unless the rule lets each of `users` into a room of
/// `room`, read on `conn`: the writers of memberships call it inside their transaction, so
/// no code path adds a member the rule keeps out, whatever its caller checked before.
pub async fn admit_in(
    conn: &mut AnyConnection,
    backend: Backend,
    room: MunicipalityId,
    users: &[UserId],
) -> Result<()> {
    let agreements = agreements_in(conn, backend).await?;
    for user in users {
        let row = sqlx::query("SELECT municipality_id FROM users WHERE id = $1")
            .bind(user.get())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound)?;
        let home = MunicipalityId::new(row.try_get("municipality_id")?);
        if !may_join(&room, &home, &agreements) {
            return Err(Error::Forbidden);
        }
    }
    Ok(())
}

impl Db {
    /// The agreements in force now; see [`may_join`].
    pub async fn agreements_in_force(&self) -> Result<Agreements<MunicipalityId>> {
        let mut conn = self.pool().acquire().await?;
        agreements_in(&mut conn, self.backend()).await
    }
}
