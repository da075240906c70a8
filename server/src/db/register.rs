//! 要援護者名簿 (issue 16): the people, the legend, the staff's register roles, 災害モード and
//! its partner grants, and the safety marks. Who may see or change which row is decided by
//! `domain/register.rs` before these are called; every change writes its audit entry in the
//! same transaction.

use super::audit::{self, AuditEntry};
use super::{flag, now_ms, Db};
use crate::domain::register::{changed_fields, default_meaning, DEGREE_UNITS};
use crate::error::{Error, Result};
use renraku_contract::{
    Disaster, ImportedRow, LabelColour, LegendEntry, Location, NewRegisterPerson,
    RegisterImportReport, RegisterPerson, RegisterPersonId, RegisterStaff, SafetyMark,
    SafetyStatus,
};
use renraku_sync::{MunicipalityId, RoomId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const PERSON_COLUMNS: &str = "id, municipality_id, external_id, name, kana, birth_date, sex, \
     address, area, phone, household, reasons, emergency_contacts, helpers, consent, \
     latitude_e7, longitude_e7, label, room_id, notes, retired, updated_at";

fn decode<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| Error::internal(format!("register: bad {column} {text:?}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(Error::internal)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

fn person_from_row(row: &AnyRow) -> Result<RegisterPerson> {
    let lat: Option<i64> = row.try_get("latitude_e7")?;
    let lon: Option<i64> = row.try_get("longitude_e7")?;
    Ok(RegisterPerson {
        id: RegisterPersonId(row.try_get("id")?),
        municipality: MunicipalityId::new(row.try_get("municipality_id")?),
        fields: NewRegisterPerson {
            external_id: row.try_get("external_id")?,
            name: row.try_get("name")?,
            kana: row.try_get("kana")?,
            birth_date: row.try_get("birth_date")?,
            sex: decode(row, "sex", renraku_contract::Sex::parse)?,
            address: row.try_get("address")?,
            area: row.try_get("area")?,
            phone: row.try_get("phone")?,
            household: decode(row, "household", renraku_contract::Household::parse)?,
            reasons: json(row, "reasons")?,
            emergency_contacts: json(row, "emergency_contacts")?,
            helpers: json(row, "helpers")?,
            consent: flag(row, "consent")?,
            location: match (lat, lon) {
                (Some(lat), Some(lon)) => Some(Location {
                    latitude: lat as f64 / DEGREE_UNITS,
                    longitude: lon as f64 / DEGREE_UNITS,
                }),
                _ => None,
            },
            label: decode(row, "label", LabelColour::parse)?,
            room: row.try_get::<Option<i64>, _>("room_id")?.map(RoomId::new),
            notes: row.try_get("notes")?,
        },
        retired: flag(row, "retired")?,
        updated_at: row.try_get("updated_at")?,
        safety: None,
    })
}

fn mark_from_row(row: &AnyRow) -> Result<SafetyMark> {
    Ok(SafetyMark {
        id: row.try_get("id")?,
        person: RegisterPersonId(row.try_get("person_id")?),
        status: decode(row, "status", SafetyStatus::parse)?,
        note: row.try_get("note")?,
        marked_at: row.try_get("marked_at")?,
        by: UserId::new(row.try_get("user_id")?),
        by_name: row.try_get("display_name")?,
        received_at: row.try_get("received_at")?,
    })
}

fn e7(degrees: f64) -> i64 {
    (degrees * DEGREE_UNITS).round() as i64
}

const MARK_SELECT: &str = "SELECT k.id, k.person_id, k.status, k.note, k.marked_at, k.user_id, \
     u.display_name, k.received_at FROM register_marks k JOIN users u ON u.id = k.user_id";

/// A stored mark and whether this call stored it (rather than finding it stored).
#[derive(Clone, Debug)]
pub struct StoredMark {
    pub mark: SafetyMark,
    pub disaster: i64,
    pub new: bool,
}

impl Db {
    /// A user's register roles in their own municipality: (editor, responder).
    pub async fn register_roles(&self, user: UserId) -> Result<(bool, bool)> {
        let row = sqlx::query("SELECT editor, responder FROM register_staff WHERE user_id = $1")
            .bind(user.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => (flag(&r, "editor")?, flag(&r, "responder")?),
            None => (false, false),
        })
    }

    /// Every enabled user of `m` and their register roles, by kana.
    pub async fn register_staff(&self, m: MunicipalityId) -> Result<Vec<RegisterStaff>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, s.user_id AS staff, s.editor, s.responder \
             FROM users u LEFT JOIN register_staff s ON s.user_id = u.id \
             WHERE u.municipality_id = $1 AND NOT u.disabled \
             ORDER BY u.display_name_kana, u.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let staff = r.try_get::<Option<i64>, _>("staff")?.is_some();
                Ok(RegisterStaff {
                    user: UserId::new(r.try_get("id")?),
                    display_name: r.try_get("display_name")?,
                    editor: staff && flag(r, "editor")?,
                    responder: staff && flag(r, "responder")?,
                })
            })
            .collect()
    }

    /// Sets both of a user's register roles, audited.
    pub async fn set_register_roles(
        &self,
        user: UserId,
        editor: bool,
        responder: bool,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM register_staff WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        if editor || responder {
            sqlx::query(
                "INSERT INTO register_staff (user_id, editor, responder) VALUES ($1, $2, $3)",
            )
            .bind(user.get())
            .bind(editor)
            .bind(responder)
            .execute(&mut *tx)
            .await?;
        }
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The legend of `m`: red, yellow, blue, each with its meaning (the default if unset).
    pub async fn register_legend(&self, m: MunicipalityId) -> Result<Vec<LegendEntry>> {
        let rows =
            sqlx::query("SELECT label, meaning FROM register_legend WHERE municipality_id = $1")
                .bind(m.get())
                .fetch_all(&self.pool)
                .await?;
        let mut set = HashMap::new();
        for r in &rows {
            set.insert(
                decode(r, "label", LabelColour::parse)?,
                r.try_get::<String, _>("meaning")?,
            );
        }
        Ok(LabelColour::ALL
            .iter()
            .map(|&label| LegendEntry {
                label,
                meaning: set
                    .remove(&label)
                    .unwrap_or_else(|| default_meaning(label).to_owned()),
            })
            .collect())
    }

    /// Sets the meaning of the given colours (others keep theirs), audited.
    pub async fn set_register_legend(
        &self,
        m: MunicipalityId,
        entries: &[LegendEntry],
        entry: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for e in entries {
            sqlx::query("DELETE FROM register_legend WHERE municipality_id = $1 AND label = $2")
                .bind(m.get())
                .bind(e.label.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO register_legend (municipality_id, label, meaning) VALUES ($1, $2, $3)",
            )
            .bind(m.get())
            .bind(e.label.as_str())
            .bind(&e.meaning)
            .execute(&mut *tx)
            .await?;
        }
        audit::insert(&mut tx, entry, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// 災害モード in force in `m`, with the partners granted access.
    /// The partner municipalities granted access in disaster `id`.
    async fn disaster_partners(&self, id: i64) -> Result<Vec<MunicipalityId>> {
        sqlx::query(
            "SELECT municipality_id FROM register_disaster_partners WHERE disaster_id = $1 \
             ORDER BY municipality_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(MunicipalityId::new(r.try_get("municipality_id")?)))
        .collect()
    }

    pub async fn disaster_in_force(&self, m: MunicipalityId) -> Result<Option<Disaster>> {
        let Some(row) = sqlx::query(
            "SELECT id, reason, started_at, started_by FROM register_disasters \
             WHERE municipality_id = $1 AND ended_at IS NULL",
        )
        .bind(m.get())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let partners = self.disaster_partners(id).await?;
        Ok(Some(Disaster {
            id,
            reason: row.try_get("reason")?,
            started_at: row.try_get("started_at")?,
            started_by: UserId::new(row.try_get("started_by")?),
            partners,
        }))
    }

    /// Declares 災害モード in `m`, audited, and queues its push to `m`'s responders; one
    /// already in force is a `Conflict`.
    pub async fn declare_disaster(
        &self,
        m: MunicipalityId,
        reason: &str,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO register_disasters (municipality_id, reason, started_at, started_by) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(m.get())
        .bind(reason)
        .bind(now)
        .bind(by.get())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let mut entry = entry.clone();
        entry.target = format!("register_disaster/{id}");
        audit::insert(&mut tx, &entry, now).await?;
        let queued = super::push::enqueue_register_notice_in(
            &mut tx,
            m,
            by,
            "災害モードになりました。要援護者名簿の安否確認をお願いします。",
            now,
        )
        .await?;
        tx.commit().await?;
        if queued > 0 {
            self.push_notifier.wake();
        }
        Ok(id)
    }

    /// Ends 災害モード in `m` (and with it every partner's access), audited, with a push to
    /// `m`'s responders; whether one was in force.
    pub async fn end_disaster(
        &self,
        m: MunicipalityId,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query(
            "UPDATE register_disasters SET ended_at = $1, ended_by = $2 \
             WHERE municipality_id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(by.get())
        .bind(m.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if ended == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, entry, now).await?;
        let queued = super::push::enqueue_register_notice_in(
            &mut tx,
            m,
            by,
            "災害モードが終了しました。",
            now,
        )
        .await?;
        tx.commit().await?;
        if queued > 0 {
            self.push_notifier.wake();
        }
        Ok(true)
    }

    /// Grants (or withdraws) `partner`'s responders access for `disaster`, audited. Whether
    /// anything changed.
    pub async fn set_disaster_partner(
        &self,
        disaster: i64,
        partner: MunicipalityId,
        granted: bool,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let changed = if granted {
            sqlx::query(
                "INSERT INTO register_disaster_partners \
                     (disaster_id, municipality_id, granted_at, granted_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (disaster_id, municipality_id) DO NOTHING",
            )
            .bind(disaster)
            .bind(partner.get())
            .bind(now)
            .bind(by.get())
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "DELETE FROM register_disaster_partners \
                 WHERE disaster_id = $1 AND municipality_id = $2",
            )
            .bind(disaster)
            .bind(partner.get())
            .execute(&mut *tx)
            .await?
        }
        .rows_affected()
            > 0;
        if changed {
            audit::insert(&mut tx, entry, now).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The entries of `m`: current ones, or retired ones.
    pub async fn register_people(
        &self,
        m: MunicipalityId,
        retired: bool,
    ) -> Result<Vec<RegisterPerson>> {
        let rows = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM register_people \
             WHERE municipality_id = $1 AND retired = $2 ORDER BY kana, id"
        ))
        .bind(m.get())
        .bind(retired)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(person_from_row).collect()
    }

    pub async fn register_person(&self, id: RegisterPersonId) -> Result<Option<RegisterPerson>> {
        let row = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM register_people WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// Adds an entry to `m` (fields already checked), audited under its new id. The same
    /// `external_id` twice in `m` is a `Conflict`.
    pub async fn create_register_person(
        &self,
        m: MunicipalityId,
        p: &NewRegisterPerson,
        entry: &AuditEntry,
    ) -> Result<RegisterPersonId> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let id = insert_person_in(&mut tx, m, p, false, now).await?;
        let mut entry = entry.clone();
        entry.target = format!("register_person/{id}");
        audit::insert(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces an entry's fields (already checked), audited.
    pub async fn update_register_person(
        &self,
        id: RegisterPersonId,
        p: &NewRegisterPerson,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        update_person_in(&mut tx, id, p, None, now).await?;
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires an entry or puts it back, audited; whether it changed.
    pub async fn set_register_retired(
        &self,
        id: RegisterPersonId,
        retired: bool,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE register_people SET retired = $1, updated_at = $2 WHERE id = $3 AND retired = $4",
        )
        .bind(retired)
        .bind(now)
        .bind(id.0)
        .bind(!retired)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            audit::insert(&mut tx, entry, now).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The rooms `user` is a member of.
    pub async fn room_ids_of(&self, user: UserId) -> Result<Vec<RoomId>> {
        sqlx::query("SELECT room_id FROM room_members WHERE user_id = $1")
            .bind(user.get())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(RoomId::new(r.try_get("room_id")?)))
            .collect()
    }

    /// The mark with client id `id`, if stored.
    pub async fn safety_mark(&self, id: &str) -> Result<Option<StoredMark>> {
        let row = sqlx::query(&format!("{MARK_SELECT} WHERE k.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let disaster = sqlx::query("SELECT disaster_id FROM register_marks WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get("disaster_id")?;
        Ok(Some(StoredMark {
            mark: mark_from_row(&row)?,
            disaster,
            new: false,
        }))
    }

    /// Stores a safety mark once: the same client id again stores nothing and returns the
    /// stored mark (`new: false`), whoever stored it; the caller compares. Audited when
    /// stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_safety_mark(
        &self,
        id: &str,
        person: RegisterPersonId,
        disaster: i64,
        status: SafetyStatus,
        note: &str,
        marked_at: i64,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<StoredMark> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let stored = sqlx::query(
            "INSERT INTO register_marks (id, person_id, disaster_id, status, note, marked_at, \
                 user_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(person.0)
        .bind(disaster)
        .bind(status.as_str())
        .bind(note)
        .bind(marked_at)
        .bind(by.get())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if stored {
            audit::insert(&mut tx, entry, now).await?;
        }
        tx.commit().await?;
        let mut mark = self.safety_mark(id).await?.ok_or(Error::NotFound)?;
        mark.new = stored;
        Ok(mark)
    }

    /// A person's marks in `disaster`, latest first (by when made, then id).
    pub async fn safety_marks_of(
        &self,
        disaster: i64,
        person: RegisterPersonId,
    ) -> Result<Vec<SafetyMark>> {
        sqlx::query(&format!(
            "{MARK_SELECT} WHERE k.disaster_id = $1 AND k.person_id = $2 \
             ORDER BY k.marked_at DESC, k.id DESC"
        ))
        .bind(disaster)
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(mark_from_row)
        .collect()
    }

    /// Each marked person's latest mark in `disaster`.
    pub async fn current_safety_marks(
        &self,
        disaster: i64,
    ) -> Result<HashMap<RegisterPersonId, SafetyMark>> {
        let rows = sqlx::query(&format!(
            "{MARK_SELECT} WHERE k.disaster_id = $1 \
             ORDER BY k.person_id, k.marked_at DESC, k.id DESC"
        ))
        .bind(disaster)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in &rows {
            let mark = mark_from_row(row)?;
            out.entry(mark.person).or_insert(mark);
        }
        Ok(out)
    }
}

async fn insert_person_in(
    conn: &mut AnyConnection,
    m: MunicipalityId,
    p: &NewRegisterPerson,
    retired: bool,
    now: i64,
) -> Result<RegisterPersonId> {
    let row = sqlx::query(
        "INSERT INTO register_people (municipality_id, external_id, name, kana, birth_date, \
             sex, address, area, phone, household, reasons, emergency_contacts, helpers, \
             consent, latitude_e7, longitude_e7, label, room_id, notes, retired, \
             created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22) RETURNING id",
    )
    .bind(m.get())
    .bind(p.external_id.clone())
    .bind(&p.name)
    .bind(&p.kana)
    .bind(p.birth_date.clone())
    .bind(p.sex.as_str())
    .bind(&p.address)
    .bind(&p.area)
    .bind(&p.phone)
    .bind(p.household.as_str())
    .bind(to_json(&p.reasons)?)
    .bind(to_json(&p.emergency_contacts)?)
    .bind(to_json(&p.helpers)?)
    .bind(p.consent)
    .bind(p.location.map(|l| e7(l.latitude)))
    .bind(p.location.map(|l| e7(l.longitude)))
    .bind(p.label.as_str())
    .bind(p.room.map(RoomId::get))
    .bind(&p.notes)
    .bind(retired)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(RegisterPersonId(row.try_get("id")?))
}

/// Replaces an entry's fields, and its `retired` flag when given.
async fn update_person_in(
    conn: &mut AnyConnection,
    id: RegisterPersonId,
    p: &NewRegisterPerson,
    retired: Option<bool>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE register_people SET external_id = $1, name = $2, kana = $3, \
             birth_date = $4, sex = $5, address = $6, area = $7, phone = $8, \
             household = $9, reasons = $10, emergency_contacts = $11, helpers = $12, \
             consent = $13, latitude_e7 = $14, longitude_e7 = $15, label = $16, \
             room_id = $17, notes = $18, updated_at = $19 WHERE id = $20",
    )
    .bind(p.external_id.clone())
    .bind(&p.name)
    .bind(&p.kana)
    .bind(p.birth_date.clone())
    .bind(p.sex.as_str())
    .bind(&p.address)
    .bind(&p.area)
    .bind(&p.phone)
    .bind(p.household.as_str())
    .bind(to_json(&p.reasons)?)
    .bind(to_json(&p.emergency_contacts)?)
    .bind(to_json(&p.helpers)?)
    .bind(p.consent)
    .bind(p.location.map(|l| e7(l.latitude)))
    .bind(p.location.map(|l| e7(l.longitude)))
    .bind(p.label.as_str())
    .bind(p.room.map(RoomId::get))
    .bind(&p.notes)
    .bind(now)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if let Some(retired) = retired {
        sqlx::query("UPDATE register_people SET retired = $1 WHERE id = $2")
            .bind(retired)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Db {
    /// Imports checked CSV rows into `m` in one transaction: a row whose 宛名番号 is an
    /// entry of `m` updates it (its linked room is kept: the CSV has none), any other is a
    /// new entry. Each change is audited, and the import as a whole once. With `dry_run`
    /// nothing is written and the report says what would change.
    pub async fn import_register(
        &self,
        m: MunicipalityId,
        rows: &[crate::register_csv::Row],
        dry_run: bool,
        entry: &AuditEntry,
    ) -> Result<RegisterImportReport> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM register_people \
             WHERE municipality_id = $1 AND external_id IS NOT NULL"
        ))
        .bind(m.get())
        .fetch_all(&mut *tx)
        .await?;
        let mut by_external = HashMap::new();
        for row in &existing {
            let p = person_from_row(row)?;
            if let Some(x) = p.fields.external_id.clone() {
                by_external.insert(x, p);
            }
        }
        let mut report = RegisterImportReport {
            dry_run,
            created: vec![],
            updated: vec![],
            unchanged: 0,
            problems: vec![],
        };
        let mut entries = Vec::new();
        for r in rows {
            let external_id = r.person.external_id.clone().unwrap_or_default();
            match by_external.get(&external_id) {
                None => {
                    let id = if dry_run {
                        None
                    } else {
                        let id = insert_person_in(&mut tx, m, &r.person, r.retired, now).await?;
                        let mut e = entry.clone();
                        e.action = crate::domain::audit::AuditAction::RegisterPersonCreate;
                        e.target = format!("register_person/{id}");
                        e.detail = "import".into();
                        entries.push(e);
                        Some(id)
                    };
                    report.created.push(ImportedRow {
                        row: r.row,
                        external_id,
                        id,
                        changed: vec![],
                    });
                }
                Some(before) => {
                    let mut fields = r.person.clone();
                    fields.room = before.fields.room;
                    let mut changed: Vec<String> = changed_fields(&before.fields, &fields)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    if before.retired != r.retired {
                        changed.push("retired".into());
                    }
                    if changed.is_empty() {
                        report.unchanged += 1;
                        continue;
                    }
                    if !dry_run {
                        update_person_in(&mut tx, before.id, &fields, Some(r.retired), now).await?;
                        let mut e = entry.clone();
                        e.action = crate::domain::audit::AuditAction::RegisterPersonUpdate;
                        e.target = format!("register_person/{}", before.id);
                        e.detail = format!("import: {}", changed.join(","));
                        entries.push(e);
                    }
                    report.updated.push(ImportedRow {
                        row: r.row,
                        external_id,
                        id: Some(before.id),
                        changed,
                    });
                }
            }
        }
        if dry_run {
            tx.rollback().await?;
            return Ok(report);
        }
        let mut whole = entry.clone();
        whole.detail = format!(
            "rows={} created={} updated={} unchanged={}",
            rows.len(),
            report.created.len(),
            report.updated.len(),
            report.unchanged
        );
        entries.push(whole);
        audit::append(&mut tx, &entries, now).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// A user who may see something of a register, with the facts the visibility rule needs
/// (`domain/register.rs` decides; this only narrows the candidates).
#[derive(Clone, Debug)]
pub struct AudienceMember {
    pub user: UserId,
    pub home: MunicipalityId,
    pub role: crate::db::users::Role,
    pub editor: bool,
    pub responder: bool,
    /// A member of the person's linked patient room (for one person), or of the room of any
    /// current consenting entry (for the whole register).
    pub in_linked_room: bool,
}

/// A disaster of a municipality, in force or ended.
#[derive(Clone, Debug)]
pub struct DisasterSpan {
    pub id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// Partner municipalities granted access in it.
    pub partners: Vec<MunicipalityId>,
}

impl Db {
    /// The enabled users who may see something of `m`'s register, in one query: `m`'s
    /// administrators, editors and responders; the responders of partners granted access in
    /// the disaster in force; members of the linked patient room of `person` (or, without
    /// one, of any current consenting entry of `m`).
    pub async fn register_audience(
        &self,
        m: MunicipalityId,
        person: Option<RegisterPersonId>,
    ) -> Result<Vec<AudienceMember>> {
        let in_room = match person {
            Some(_) => {
                "EXISTS (SELECT 1 FROM room_members rm JOIN register_people p \
                     ON p.room_id = rm.room_id WHERE rm.user_id = u.id AND p.id = $4)"
            }
            None => {
                "EXISTS (SELECT 1 FROM room_members rm JOIN register_people p \
                     ON p.room_id = rm.room_id WHERE rm.user_id = u.id \
                     AND p.municipality_id = $1 AND p.consent = $2 AND p.retired = $3)"
            }
        };
        let sql = format!(
            "SELECT u.id, u.municipality_id, u.role, \
                 CASE WHEN s.editor THEN 1 ELSE 0 END AS editor, \
                 CASE WHEN s.responder THEN 1 ELSE 0 END AS responder, \
                 CASE WHEN {in_room} THEN 1 ELSE 0 END AS in_room \
             FROM users u LEFT JOIN register_staff s ON s.user_id = u.id \
             WHERE u.disabled = $3 AND ( \
                 (u.municipality_id = $1 AND (s.user_id IS NOT NULL \
                     OR u.role IN ('municipality_admin', 'system_admin'))) \
                 OR (s.responder = $2 AND u.municipality_id IN ( \
                     SELECT dp.municipality_id FROM register_disaster_partners dp \
                     JOIN register_disasters d ON d.id = dp.disaster_id \
                     WHERE d.municipality_id = $1 AND d.ended_at IS NULL)) \
                 OR {in_room})"
        );
        let mut query = sqlx::query(&sql).bind(m.get()).bind(true).bind(false);
        if let Some(p) = person {
            query = query.bind(p.0);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AudienceMember {
                    user: UserId::new(r.try_get("id")?),
                    home: MunicipalityId::new(r.try_get("municipality_id")?),
                    role: decode(r, "role", crate::db::users::Role::parse)?,
                    editor: flag(r, "editor")?,
                    responder: flag(r, "responder")?,
                    in_linked_room: flag(r, "in_room")?,
                })
            })
            .collect()
    }

    /// The disaster of `m` in force at `at` (unix ms): started at or before it, and not
    /// ended before it.
    pub async fn disaster_at(&self, m: MunicipalityId, at: i64) -> Result<Option<DisasterSpan>> {
        let Some(row) = sqlx::query(
            "SELECT id, started_at, ended_at FROM register_disasters \
             WHERE municipality_id = $1 AND started_at <= $2 \
                 AND (ended_at IS NULL OR ended_at >= $2) \
             ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(m.get())
        .bind(at)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let partners = self.disaster_partners(id).await?;
        Ok(Some(DisasterSpan {
            id,
            started_at: row.try_get("started_at")?,
            ended_at: row.try_get("ended_at")?,
            partners,
        }))
    }

    /// The municipalities in 災害モード that granted `partner`'s responders access.
    pub async fn registers_granting(&self, partner: MunicipalityId) -> Result<Vec<MunicipalityId>> {
        sqlx::query(
            "SELECT d.municipality_id FROM register_disasters d \
             JOIN register_disaster_partners p ON p.disaster_id = d.id \
             WHERE d.ended_at IS NULL AND p.municipality_id = $1 ORDER BY d.municipality_id",
        )
        .bind(partner.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(MunicipalityId::new(r.try_get("municipality_id")?)))
        .collect()
    }

    /// The demo's register (`demo.rs`): people and the staff's roles, in one transaction and
    /// unaudited, like the rest of the demo's seed.
    pub async fn seed_register(
        &self,
        m: MunicipalityId,
        staff: &[(UserId, bool, bool)],
        people: &[NewRegisterPerson],
    ) -> Result<Vec<RegisterPersonId>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        for (user, editor, responder) in staff {
            sqlx::query(
                "INSERT INTO register_staff (user_id, editor, responder) VALUES ($1, $2, $3)",
            )
            .bind(user.get())
            .bind(*editor)
            .bind(*responder)
            .execute(&mut *tx)
            .await?;
        }
        let mut ids = Vec::with_capacity(people.len());
        for p in people {
            ids.push(insert_person_in(&mut tx, m, p, false, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }
}
