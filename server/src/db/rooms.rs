//! Rooms and their members: the relational source of truth for who may see a conversation.

use super::users::{decode_enum, Profession};
use super::{flag, now_ms, Db};
use crate::error::{Error, Result};
use renraku_contract::MemberRole;
pub use renraku_contract::{Member, PatientBrief, RoomSummary};
use renraku_sync::{MunicipalityId, PatientId, RoomId, RoomKind, UserId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Clone, Debug, Serialize)]
pub struct RoomRow {
    pub id: RoomId,
    pub municipality: MunicipalityId,
    pub kind: RoomKind,
    pub title: String,
    pub patient: Option<PatientId>,
    pub created_at: i64,
    pub archived: bool,
}

fn room_kind(row: &AnyRow) -> Result<RoomKind> {
    let text: String = row.try_get("kind")?;
    text.parse().map_err(Error::internal)
}

impl Db {
    /// The members of each of `rooms` (for telling them of a new post, `hub/activity.rs`).
    pub async fn member_ids(
        &self,
        rooms: &[RoomId],
    ) -> Result<std::collections::HashMap<RoomId, Vec<UserId>>> {
        let mut out: std::collections::HashMap<RoomId, Vec<UserId>> = Default::default();
        if rooms.is_empty() {
            return Ok(out);
        }
        // Each room once: a room repeated in two lists would list its members twice.
        let mut rooms = rooms.to_vec();
        rooms.sort_unstable_by_key(|room| room.get());
        rooms.dedup();
        for list in super::batch::in_lists(&rooms) {
            let sql = self.backend.positional(format!(
                "SELECT room_id, user_id FROM room_members WHERE room_id IN ({})",
                super::batch::placeholders(1, list.len(), 1)
            ));
            let mut query = sqlx::query(&sql);
            for room in list {
                query = query.bind(room.get());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.entry(RoomId::new(row.try_get("room_id")?))
                    .or_default()
                    .push(UserId::new(row.try_get("user_id")?));
            }
        }
        Ok(out)
    }

    pub async fn is_member(&self, room: RoomId, user: UserId) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM room_members WHERE room_id = $1 AND user_id = $2",
        )
        .bind(room.get())
        .bind(user.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn room(&self, room: RoomId) -> Result<Option<RoomRow>> {
        let row = sqlx::query(
            "SELECT id, municipality_id, kind, title, patient_id, created_at, archived \
             FROM rooms WHERE id = $1",
        )
        .bind(room.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RoomRow {
                id: RoomId::new(row.try_get("id")?),
                municipality: MunicipalityId::new(row.try_get("municipality_id")?),
                kind: room_kind(&row)?,
                title: row.try_get("title")?,
                patient: row
                    .try_get::<Option<i64>, _>("patient_id")?
                    .map(PatientId::new),
                created_at: row.try_get("created_at")?,
                archived: flag(&row, "archived")?,
            })
        })
        .transpose()
    }

    /// The rooms `user` belongs to: patient rooms first, then projects, then messages.
    pub async fn rooms_of(&self, user: UserId) -> Result<Vec<RoomSummary>> {
        let rows = sqlx::query(
            "SELECT r.id, r.kind, r.title, r.archived, r.patient_id, \
                 p.name AS patient_name, p.name_kana AS patient_kana, \
                 p.birth_date AS patient_birth_date, p.care_level AS patient_care_level, \
                 (SELECT COUNT(*) FROM room_members c WHERE c.room_id = r.id) AS member_count \
             FROM room_members m \
             JOIN rooms r ON r.id = m.room_id \
             LEFT JOIN patients p ON p.id = r.patient_id \
             WHERE m.user_id = $1 \
             ORDER BY CASE r.kind WHEN 'patient' THEN 0 WHEN 'project' THEN 1 ELSE 2 END, \
                 COALESCE(p.name_kana, r.title), r.id",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        let mut names = self.message_room_names(user).await?;
        rows.iter()
            .map(|row| {
                let patient = match row.try_get::<Option<i64>, _>("patient_id")? {
                    Some(id) => Some(PatientBrief {
                        id: PatientId::new(id),
                        name: row.try_get("patient_name")?,
                        name_kana: row.try_get("patient_kana")?,
                        birth_date: row.try_get("patient_birth_date")?,
                        care_level: row.try_get("patient_care_level")?,
                    }),
                    None => None,
                };
                Ok(RoomSummary {
                    id: RoomId::new(row.try_get("id")?),
                    kind: room_kind(row)?,
                    title: row.try_get("title")?,
                    archived: flag(row, "archived")?,
                    member_count: row.try_get("member_count")?,
                    patient,
                    member_names: Vec::new(),
                    unread: None,
                    last_activity: None,
                    last_text: None,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(|mut rooms| {
                for room in &mut rooms {
                    if let Some(names) = names.remove(&room.id) {
                        room.member_names = names;
                    }
                }
                rooms
            })
    }

    pub async fn members(&self, room: RoomId) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.display_name, u.display_name_kana, u.profession, \
                 o.name AS organization_name, m.role, m.added_at \
             FROM room_members m \
             JOIN users u ON u.id = m.user_id \
             LEFT JOIN organizations o ON o.id = u.organization_id \
             WHERE m.room_id = $1 ORDER BY u.display_name_kana, u.id",
        )
        .bind(room.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    user: UserId::new(row.try_get("user_id")?),
                    display_name: row.try_get("display_name")?,
                    display_name_kana: row.try_get("display_name_kana")?,
                    profession: decode_enum(row, "profession", Profession::parse)?,
                    organization_name: row.try_get("organization_name")?,
                    role: decode_enum(row, "role", MemberRole::parse)?,
                    added_at: row.try_get("added_at")?,
                })
            })
            .collect()
    }

    pub async fn create_room(
        &self,
        municipality: MunicipalityId,
        kind: RoomKind,
        title: &str,
        patient: Option<PatientId>,
    ) -> Result<RoomId> {
        let row = sqlx::query(
            "INSERT INTO rooms (municipality_id, kind, title, patient_id, created_at, archived) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(municipality.get())
        .bind(kind.as_str())
        .bind(title)
        .bind(patient.map(PatientId::get))
        .bind(now_ms())
        .bind(false)
        .fetch_one(&self.pool)
        .await?;
        Ok(RoomId::new(row.try_get("id")?))
    }

    /// Adds a member; adding someone already in the room is a `Conflict`, someone the
    /// tenancy rule keeps out `Forbidden`.
    pub async fn add_member(
        &self,
        room: RoomId,
        user: UserId,
        role: &str,
        added_by: Option<UserId>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let home = sqlx::query("SELECT municipality_id FROM rooms WHERE id = $1")
            .bind(room.get())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound)?
            .try_get("municipality_id")?;
        super::tenancy::admit_in(&mut tx, self.backend, MunicipalityId::new(home), &[user]).await?;
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, role, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(room.get())
        .bind(user.get())
        .bind(role)
        .bind(added_by.map(UserId::get))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What `create_message_room` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRoom {
    Created(RoomId),
    /// The 1:1 room the two already share.
    Existing(RoomId),
}

impl Db {
    /// For each message room of `user`: the other members' names, by kana.
    async fn message_room_names(
        &self,
        user: UserId,
    ) -> Result<std::collections::HashMap<RoomId, Vec<String>>> {
        let rows = sqlx::query(
            "SELECT o.room_id, u.display_name \
             FROM room_members m \
             JOIN rooms r ON r.id = m.room_id AND r.kind = 'message' \
             JOIN room_members o ON o.room_id = m.room_id AND o.user_id <> m.user_id \
             JOIN users u ON u.id = o.user_id \
             WHERE m.user_id = $1 ORDER BY o.room_id, u.display_name_kana, u.id",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        let mut names: std::collections::HashMap<RoomId, Vec<String>> = Default::default();
        for row in &rows {
            names
                .entry(RoomId::new(row.try_get("room_id")?))
                .or_default()
                .push(row.try_get("display_name")?);
        }
        Ok(names)
    }

    /// The live message room whose members are exactly `a` and `b`, if any.
    pub async fn one_to_one_room(&self, a: UserId, b: UserId) -> Result<Option<RoomId>> {
        let row = sqlx::query(
            "SELECT r.id FROM rooms r \
             JOIN room_members x ON x.room_id = r.id AND x.user_id = $1 \
             JOIN room_members y ON y.room_id = r.id AND y.user_id = $2 \
             WHERE r.kind = 'message' AND r.archived = $3 \
               AND (SELECT COUNT(*) FROM room_members c WHERE c.room_id = r.id) = 2 \
             ORDER BY r.id LIMIT 1",
        )
        .bind(a.get())
        .bind(b.get())
        .bind(false)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok(RoomId::new(row.try_get("id")?)))
            .transpose()
    }

    /// A message room of `creator` (its owner) with `others`; for one other person, their
    /// existing 1:1 room is reused. Room and members are written in one transaction, which
    /// the tenancy rule must allow for every one of them (else `Forbidden`).
    pub async fn create_message_room(
        &self,
        municipality: MunicipalityId,
        creator: UserId,
        others: &[UserId],
        title: &str,
    ) -> Result<MessageRoom> {
        if let [other] = others {
            if let Some(room) = self.one_to_one_room(creator, *other).await? {
                return Ok(MessageRoom::Existing(room));
            }
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let everyone: Vec<UserId> = std::iter::once(creator)
            .chain(others.iter().copied())
            .collect();
        super::tenancy::admit_in(&mut tx, self.backend, municipality, &everyone).await?;
        let row = sqlx::query(
            "INSERT INTO rooms (municipality_id, kind, title, patient_id, created_at, archived) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(municipality.get())
        .bind(RoomKind::Message.as_str())
        .bind(title)
        .bind(None::<i64>)
        .bind(now)
        .bind(false)
        .fetch_one(&mut *tx)
        .await?;
        let room = RoomId::new(row.try_get("id")?);
        let members =
            std::iter::once((creator, "owner")).chain(others.iter().map(|u| (*u, "member")));
        for (user, role) in members {
            sqlx::query(
                "INSERT INTO room_members (room_id, user_id, role, added_by, added_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(room.get())
            .bind(user.get())
            .bind(role)
            .bind(creator.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(MessageRoom::Created(room))
    }
}
