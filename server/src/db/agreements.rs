//! Wide-area agreements: municipalities whose professionals may join each other's rooms.

use super::Db;
use crate::domain::tenancy;
use crate::error::Result;
pub use renraku_contract::{Agreement, AgreementId};
use renraku_sync::{MunicipalityId, RoomId, UserId};
use sqlx::Row;

/// A room membership that an agreement no longer allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostAccess {
    pub room: RoomId,
    pub user: UserId,
}

impl Db {
    pub async fn agreements(&self) -> Result<Vec<Agreement>> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, m.municipality_id FROM agreements a \
             LEFT JOIN agreement_members m ON m.agreement_id = a.id \
             ORDER BY a.id, m.municipality_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Agreement> = Vec::new();
        for row in rows {
            let id = AgreementId(row.try_get("id")?);
            if out.last().map(|a| a.id) != Some(id) {
                out.push(Agreement {
                    id,
                    name: row.try_get("name")?,
                    members: vec![],
                });
            }
            if let Some(m) = row.try_get::<Option<i64>, _>("municipality_id")? {
                if let Some(last) = out.last_mut() {
                    last.members.push(MunicipalityId::new(m));
                }
            }
        }
        Ok(out)
    }

    pub async fn agreement(&self, id: AgreementId) -> Result<Option<Agreement>> {
        Ok(self.agreements().await?.into_iter().find(|a| a.id == id))
    }

    pub async fn create_agreement(&self, name: &str) -> Result<AgreementId> {
        let row = sqlx::query("INSERT INTO agreements (name) VALUES ($1) RETURNING id")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(AgreementId(row.try_get("id")?))
    }

    /// Adds a municipality to an agreement; already a member is a `Conflict`.
    pub async fn join_agreement(&self, id: AgreementId, m: MunicipalityId) -> Result<()> {
        sqlx::query(
            "INSERT INTO agreement_members (agreement_id, municipality_id) VALUES ($1, $2)",
        )
        .bind(id.0)
        .bind(m.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a municipality from an agreement, and in the same transaction every room
    /// membership that only that agreement allowed: professionals of `m` in rooms of the
    /// municipalities it no longer shares an agreement with, and the reverse. Returns the
    /// memberships removed (their live connections are the caller's to close), or `None` if
    /// `m` was not a member.
    pub async fn leave_agreement(
        &self,
        id: AgreementId,
        m: MunicipalityId,
    ) -> Result<Option<Vec<LostAccess>>> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query(
            "DELETE FROM agreement_members WHERE agreement_id = $1 AND municipality_id = $2",
        )
        .bind(id.0)
        .bind(m.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 0 {
            return Ok(None);
        }
        // Memberships across municipalities that involve `m`, kept where the tenancy rule
        // still allows them under the agreements left.
        let in_force = super::tenancy::agreements_in(&mut tx, self.backend).await?;
        let rows = sqlx::query(
            "SELECT rm.room_id, rm.user_id, r.municipality_id AS room_m, \
                 u.municipality_id AS user_m \
             FROM room_members rm \
             JOIN rooms r ON r.id = rm.room_id JOIN users u ON u.id = rm.user_id \
             WHERE u.municipality_id <> r.municipality_id \
               AND (u.municipality_id = $1 OR r.municipality_id = $2)",
        )
        .bind(m.get())
        .bind(m.get())
        .fetch_all(&mut *tx)
        .await?;
        let mut lost_rows = Vec::new();
        for row in rows {
            let room_m = MunicipalityId::new(row.try_get("room_m")?);
            let user_m = MunicipalityId::new(row.try_get("user_m")?);
            if !tenancy::may_join(&room_m, &user_m, &in_force) {
                lost_rows.push(row);
            }
        }
        let mut lost = Vec::with_capacity(lost_rows.len());
        for row in lost_rows {
            let access = LostAccess {
                room: RoomId::new(row.try_get("room_id")?),
                user: UserId::new(row.try_get("user_id")?),
            };
            sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
                .bind(access.room.get())
                .bind(access.user.get())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM room_tokens WHERE room_id = $1 AND user_id = $2")
                .bind(access.room.get())
                .bind(access.user.get())
                .execute(&mut *tx)
                .await?;
            lost.push(access);
        }
        tx.commit().await?;
        Ok(Some(lost))
    }
}
