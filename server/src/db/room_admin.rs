//! Rooms as administrators manage them: a municipality's rooms, titles, archiving, and
//! membership changes.

use super::users::Profession;
use super::{flag, Db};
use crate::error::{Error, Result};
use crate::http::admin::rooms::Candidate;
pub use renraku_contract::AdminRoom;
use renraku_sync::{MunicipalityId, PatientId, RoomId, UserId};
use sqlx::Row;

impl Db {
    /// The people of `reach` (the municipalities the tenancy rule lets into the room,
    /// `home` first) who may be added to `room`, their name, kana, login id or organization
    /// matching `pattern` (an SQL `LIKE` pattern): enabled accounts, `home`'s first, at most
    /// 100.
    pub async fn room_candidates(
        &self,
        room: RoomId,
        home: MunicipalityId,
        reach: &[MunicipalityId],
        pattern: &str,
    ) -> Result<Vec<Candidate>> {
        let within = (0..reach.len())
            .map(|i| format!("${}", i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT u.id, u.municipality_id, mu.name AS municipality_name, u.display_name, \
                 u.display_name_kana, u.profession, o.name AS organization_name, \
                 (SELECT COUNT(*) FROM room_members rm WHERE rm.room_id = $1 AND rm.user_id = u.id) \
                     AS member \
             FROM users u JOIN municipalities mu ON mu.id = u.municipality_id \
             LEFT JOIN organizations o ON o.id = u.organization_id \
             WHERE u.municipality_id IN ({within}) \
               AND u.disabled = $2 \
               AND (u.display_name LIKE $3 OR u.display_name_kana LIKE $3 OR u.login_id LIKE $3 \
                    OR COALESCE(o.name, '') LIKE $3) \
             ORDER BY CASE WHEN u.municipality_id = $4 THEN 0 ELSE 1 END, u.display_name_kana, u.id \
             LIMIT 100"
        );
        let mut query = sqlx::query(&sql)
            .bind(room.get())
            .bind(false)
            .bind(pattern)
            .bind(home.get());
        for m in reach {
            query = query.bind(m.get());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(Candidate {
                    id: UserId::new(row.try_get("id")?),
                    municipality: MunicipalityId::new(row.try_get("municipality_id")?),
                    municipality_name: row.try_get("municipality_name")?,
                    display_name: row.try_get("display_name")?,
                    display_name_kana: row.try_get("display_name_kana")?,
                    profession: super::users::decode_enum(row, "profession", Profession::parse)?,
                    organization_name: row.try_get("organization_name")?,
                    already_member: row.try_get::<i64, _>("member")? > 0,
                })
            })
            .collect::<Result<Vec<_>>>()
    }

    /// The patient and project rooms of a municipality (message rooms are private to their
    /// members and not administered).
    pub async fn rooms_of_municipality(&self, m: MunicipalityId) -> Result<Vec<AdminRoom>> {
        let rows = sqlx::query(
            "SELECT r.id, r.kind, r.title, r.patient_id, r.archived, r.created_at, \
                 (SELECT COUNT(*) FROM room_members c WHERE c.room_id = r.id) AS member_count \
             FROM rooms r WHERE r.municipality_id = $1 AND r.kind <> 'message' \
             ORDER BY r.kind DESC, r.title, r.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(AdminRoom {
                    id: RoomId::new(row.try_get("id")?),
                    kind: kind.parse().map_err(Error::internal)?,
                    title: row.try_get("title")?,
                    patient: row
                        .try_get::<Option<i64>, _>("patient_id")?
                        .map(PatientId::new),
                    archived: flag(row, "archived")?,
                    member_count: row.try_get("member_count")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub async fn update_room(
        &self,
        room: RoomId,
        title: Option<&str>,
        archived: Option<bool>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE rooms SET title = COALESCE($1, title), archived = COALESCE($2, archived) \
             WHERE id = $3",
        )
        .bind(title)
        .bind(archived)
        .bind(room.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a member and their room tokens; `false` if they were not a member.
    pub async fn remove_member(&self, room: RoomId, user: UserId) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.get())
            .bind(user.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM room_tokens WHERE room_id = $1 AND user_id = $2")
            .bind(room.get())
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Changes a member's role in a room (`owner` or `member`); `false` if not a member.
    pub async fn set_member_role(&self, room: RoomId, user: UserId, role: &str) -> Result<bool> {
        let n =
            sqlx::query("UPDATE room_members SET role = $1 WHERE room_id = $2 AND user_id = $3")
                .bind(role)
                .bind(room.get())
                .bind(user.get())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }
}
