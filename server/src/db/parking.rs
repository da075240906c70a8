//! 駐車場 (issue 17): lenders, spaces and their availability, approvals, managers, parking
//! shared into agreements, bookings, trouble reports and statistics. Who may do what is
//! decided by `domain/parking.rs` before these are called; every change writes its audit
//! entry in the same transaction.
//!
//! No double booking is the database's promise, not the handler's: on PostgreSQL the
//! exclusion constraint `parking_bookings_no_overlap` refuses an overlapping row (SQLSTATE
//! 23P01) whatever ran concurrently; on SQLite [`Db::create_booking`]'s transaction takes the
//! one write lock before it looks for an overlap, so the look and the insert are one step.

use super::audit::{self, AuditEntry};
use super::{dialect, flag, now_ms, Db};
use crate::domain::parking::{describe_window, Reach, DEGREE_UNITS};
use crate::error::{Error, Result};
use renraku_contract::{
    AgreementId, ApprovedOrganization, Availability, AvailabilityException, Booking, BookingId,
    BookingStatus, ExceptionKind, Lender, LenderId, NewLender, NewSpace, NotifyBy, ParkingLimit,
    ParkingPoint, Space, SpaceId, SpaceMonth, SpacePhoto, Trouble, TroubleSide, Weekday,
    WeeklyWindow,
};
use renraku_sync::{MunicipalityId, OrganizationId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// The SQLSTATE of an exclusion-constraint violation (PostgreSQL).
const EXCLUSION_VIOLATION: &str = "23P01";

fn decode<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| Error::internal(format!("parking: bad {column} {text:?}")))
}

fn e7(degrees: f64) -> i64 {
    (degrees * DEGREE_UNITS).round() as i64
}

const SPACE_SELECT: &str = "SELECT s.id, s.municipality_id, s.lender_id, s.name, s.address, \
     s.latitude_e7, s.longitude_e7, s.limits, s.limits_note, s.directions, s.photo, s.photo_mime, \
     s.photo_width, s.photo_height, s.paused, l.name AS lender_name FROM parking_spaces s JOIN parking_lenders l ON l.id = s.lender_id";

fn space_from_row(row: &AnyRow) -> Result<Space> {
    let limits: String = row.try_get("limits")?;
    let limits: Vec<String> = serde_json::from_str(&limits).map_err(Error::internal)?;
    Ok(Space {
        id: SpaceId(row.try_get("id")?),
        municipality: MunicipalityId::new(row.try_get("municipality_id")?),
        fields: NewSpace {
            lender: LenderId(row.try_get("lender_id")?),
            name: row.try_get("name")?,
            address: row.try_get("address")?,
            location: ParkingPoint {
                latitude: row.try_get::<i64, _>("latitude_e7")? as f64 / DEGREE_UNITS,
                longitude: row.try_get::<i64, _>("longitude_e7")? as f64 / DEGREE_UNITS,
            },
            limits: limits
                .iter()
                .filter_map(|l| ParkingLimit::parse(l))
                .collect(),
            limits_note: row.try_get("limits_note")?,
            directions: row.try_get("directions")?,
        },
        lender_name: row.try_get("lender_name")?,
        photo: photo_from_row(row)?,
        paused: flag(row, "paused")?,
        availability: Availability::default(),
    })
}

/// How much of the photo's SHA-256 its version shows: plenty to tell two photos apart.
const PHOTO_VERSION_CHARS: usize = 16;

fn photo_from_row(row: &AnyRow) -> Result<Option<SpacePhoto>> {
    let Some(sha) = row.try_get::<Option<String>, _>("photo")? else {
        return Ok(None);
    };
    Ok(Some(SpacePhoto {
        version: sha.chars().take(PHOTO_VERSION_CHARS).collect(),
        mime: row
            .try_get::<Option<String>, _>("photo_mime")?
            .unwrap_or_default(),
        width: row.try_get::<Option<i64>, _>("photo_width")?.unwrap_or(0),
        height: row.try_get::<Option<i64>, _>("photo_height")?.unwrap_or(0),
    }))
}

const BOOKING_SELECT: &str = "SELECT b.id, b.space_id, s.name AS space_name, s.address, \
     b.organization_id, o.name AS organization_name, b.plate, b.start_ms, b.end_ms, b.status, \
     b.released_end_ms, b.user_id, s.municipality_id FROM parking_bookings b \
     JOIN parking_spaces s ON s.id = b.space_id \
     JOIN organizations o ON o.id = b.organization_id";

/// A booking as stored, with who booked it and the space's municipality (for the rules).
#[derive(Clone, Debug)]
pub struct StoredBooking {
    pub booking: Booking,
    pub user: UserId,
    pub municipality: MunicipalityId,
}

fn booking_from_row(row: &AnyRow) -> Result<StoredBooking> {
    Ok(StoredBooking {
        booking: Booking {
            id: BookingId(row.try_get("id")?),
            space: SpaceId(row.try_get("space_id")?),
            space_name: row.try_get("space_name")?,
            address: row.try_get("address")?,
            organization: OrganizationId::new(row.try_get("organization_id")?),
            organization_name: row.try_get("organization_name")?,
            plate: row.try_get("plate")?,
            start: row.try_get("start_ms")?,
            end: row.try_get("end_ms")?,
            status: decode(row, "status", BookingStatus::parse)?,
            released_end: row.try_get("released_end_ms")?,
            user: None,
        },
        user: UserId::new(row.try_get("user_id")?),
        municipality: MunicipalityId::new(row.try_get("municipality_id")?),
    })
}

/// The first booking of `space` holding time in `[start, end)`, read on `conn`.
async fn overlapping_in(
    conn: &mut AnyConnection,
    space: SpaceId,
    start: i64,
    end: i64,
) -> Result<Option<StoredBooking>> {
    let row = sqlx::query(&format!(
        "{BOOKING_SELECT} WHERE b.space_id = $1 AND b.status <> 'cancelled' \
         AND b.start_ms < $2 AND b.end_ms > $3 ORDER BY b.start_ms LIMIT 1"
    ))
    .bind(space.0)
    .bind(end)
    .bind(start)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(booking_from_row).transpose()
}

/// One space and its availability, read on `conn` inside the booking's transaction. On
/// PostgreSQL the space's row stays share-locked until the transaction ends, so a pause or
/// a change of hours (which update that row) waits for a booking in flight, and a booking
/// after it sees the new state; bookings do not wait for each other. (On SQLite the
/// transaction holds the write lock already.)
async fn space_in(
    conn: &mut AnyConnection,
    backend: dialect::Backend,
    id: SpaceId,
) -> Result<Option<Space>> {
    let Some(row) = sqlx::query(&format!(
        "{SPACE_SELECT} WHERE s.id = $1{}",
        backend.for_share()
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let mut space = space_from_row(&row)?;
    for r in sqlx::query(
        "SELECT weekday, start_min, end_min FROM parking_windows WHERE space_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    {
        space.availability.weekly.push(WeeklyWindow {
            weekday: decode(&r, "weekday", Weekday::parse)?,
            start_min: r.try_get("start_min")?,
            end_min: r.try_get("end_min")?,
        });
    }
    for r in sqlx::query(
        "SELECT day, kind, start_min, end_min FROM parking_exceptions WHERE space_id = $1 \
         ORDER BY day, id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    {
        space.availability.exceptions.push(AvailabilityException {
            date: r.try_get("day")?,
            kind: decode(&r, "kind", ExceptionKind::parse)?,
            start_min: r.try_get("start_min")?,
            end_min: r.try_get("end_min")?,
        });
    }
    Ok(Some(space))
}

/// The 409 naming the booking in the way: its time and organisation (a booking holds
/// nothing about a patient, so there is nothing else to leak).
fn conflict(with: Option<&StoredBooking>) -> Error {
    Error::BookingConflict(match with {
        Some(b) => format!(
            "{}（{}）と重なります。(Overlaps booking {} at {}, {}.)",
            describe_window(b.booking.start, b.booking.end),
            b.booking.organization_name,
            b.booking.id,
            describe_window(b.booking.start, b.booking.end),
            b.booking.organization_name,
        ),
        None => "別の予約と重なります。(Overlaps another booking.)".into(),
    })
}

impl Db {
    /// Whether `user` is a designated parking manager (of their own municipality).
    pub async fn parking_manager(&self, user: UserId) -> Result<bool> {
        Ok(
            sqlx::query("SELECT user_id FROM parking_managers WHERE user_id = $1")
                .bind(user.get())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Designates or undesignates a parking manager, audited; whether anything changed.
    pub async fn set_parking_manager(
        &self,
        user: UserId,
        on: bool,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = if on {
            sqlx::query(
                "INSERT INTO parking_managers (user_id) VALUES ($1) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
        } else {
            sqlx::query("DELETE FROM parking_managers WHERE user_id = $1")
        }
        .bind(user.get())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if changed {
            audit::insert(&mut tx, entry, now_ms()).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The lenders of `m` that `user`'s account is.
    pub async fn lenders_of_user(&self, m: MunicipalityId, user: UserId) -> Result<Vec<LenderId>> {
        sqlx::query(
            "SELECT id FROM parking_lenders WHERE municipality_id = $1 AND user_id = $2 \
             ORDER BY id",
        )
        .bind(m.get())
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(LenderId(r.try_get("id")?)))
        .collect()
    }

    /// Whether `m` approved organisation `org`.
    pub async fn parking_approved(&self, m: MunicipalityId, org: OrganizationId) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT organization_id FROM parking_approvals \
             WHERE municipality_id = $1 AND organization_id = $2",
        )
        .bind(m.get())
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// The agreements `m` is in, each with whether `m` opened its parking into it.
    pub async fn parking_reach(&self, m: MunicipalityId) -> Result<Reach<MunicipalityId>> {
        let rows = sqlx::query(
            "SELECT a.agreement_id, a.municipality_id, \
                 (SELECT COUNT(*) FROM parking_agreement_shares p \
                  WHERE p.agreement_id = a.agreement_id AND p.municipality_id = $1) AS shares \
             FROM agreement_members a WHERE a.agreement_id IN \
                 (SELECT agreement_id FROM agreement_members WHERE municipality_id = $2) \
             ORDER BY a.agreement_id, a.municipality_id",
        )
        .bind(m.get())
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        let mut groups: Vec<(i64, Vec<MunicipalityId>, bool)> = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("agreement_id")?;
            let member = MunicipalityId::new(r.try_get("municipality_id")?);
            let shares = r.try_get::<i64, _>("shares")? > 0;
            match groups.last_mut() {
                Some(g) if g.0 == id => g.1.push(member),
                _ => groups.push((id, vec![member], shares)),
            }
        }
        Ok(Reach::new(
            groups.into_iter().map(|(_, m, s)| (m, s)).collect(),
        ))
    }

    /// Opens (or closes) `m`'s parking into agreement `agreement`, audited; whether anything
    /// changed. The caller checked that `m` is a member.
    pub async fn set_parking_share(
        &self,
        agreement: AgreementId,
        m: MunicipalityId,
        on: bool,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = if on {
            sqlx::query(
                "INSERT INTO parking_agreement_shares (agreement_id, municipality_id) \
                 VALUES ($1, $2) ON CONFLICT (agreement_id, municipality_id) DO NOTHING",
            )
        } else {
            sqlx::query(
                "DELETE FROM parking_agreement_shares \
                 WHERE agreement_id = $1 AND municipality_id = $2",
            )
        }
        .bind(agreement.0)
        .bind(m.get())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if changed {
            audit::insert(&mut tx, entry, now_ms()).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The organisations `m` approved, by name.
    pub async fn parking_approvals(&self, m: MunicipalityId) -> Result<Vec<ApprovedOrganization>> {
        sqlx::query(
            "SELECT a.organization_id, o.name, o.municipality_id, a.approved_at \
             FROM parking_approvals a JOIN organizations o ON o.id = a.organization_id \
             WHERE a.municipality_id = $1 ORDER BY o.name, o.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ApprovedOrganization {
                organization: OrganizationId::new(r.try_get("organization_id")?),
                name: r.try_get("name")?,
                municipality: MunicipalityId::new(r.try_get("municipality_id")?),
                approved_at: r.try_get("approved_at")?,
            })
        })
        .collect()
    }

    /// Approves (or withdraws the approval of) `org` in `m`, audited; whether anything
    /// changed. Bookings already made stay.
    pub async fn set_parking_approval(
        &self,
        m: MunicipalityId,
        org: OrganizationId,
        on: bool,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let changed = if on {
            sqlx::query(
                "INSERT INTO parking_approvals \
                     (municipality_id, organization_id, approved_at, approved_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (municipality_id, organization_id) DO NOTHING",
            )
            .bind(m.get())
            .bind(org.get())
            .bind(now)
            .bind(by.get())
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "DELETE FROM parking_approvals WHERE municipality_id = $1 AND organization_id = $2",
            )
            .bind(m.get())
            .bind(org.get())
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

    /// The lenders of `m`, by name.
    pub async fn parking_lenders(&self, m: MunicipalityId) -> Result<Vec<Lender>> {
        let rows = sqlx::query(
            "SELECT id, name, contact, notify_by, user_id FROM parking_lenders \
             WHERE municipality_id = $1 ORDER BY name, id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Lender {
                    id: LenderId(r.try_get("id")?),
                    fields: NewLender {
                        name: r.try_get("name")?,
                        contact: r.try_get("contact")?,
                        notify_by: decode(r, "notify_by", NotifyBy::parse)?,
                        user: r.try_get::<Option<i64>, _>("user_id")?.map(UserId::new),
                    },
                })
            })
            .collect()
    }

    /// The municipality of a lender.
    pub async fn parking_lender_municipality(
        &self,
        id: LenderId,
    ) -> Result<Option<MunicipalityId>> {
        Ok(
            sqlx::query("SELECT municipality_id FROM parking_lenders WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<i64, _>("municipality_id"))
                .transpose()?
                .map(MunicipalityId::new),
        )
    }

    /// Registers a lender in `m`, audited.
    pub async fn create_parking_lender(
        &self,
        m: MunicipalityId,
        l: &NewLender,
        entry: &AuditEntry,
    ) -> Result<LenderId> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO parking_lenders \
                 (municipality_id, name, contact, notify_by, user_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(m.get())
        .bind(&l.name)
        .bind(&l.contact)
        .bind(l.notify_by.as_str())
        .bind(l.user.map(UserId::get))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let mut entry = entry.clone();
        entry.target = format!("parking_lender/{id}");
        audit::insert(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(LenderId(id))
    }

    /// Replaces a lender's fields, audited.
    pub async fn update_parking_lender(
        &self,
        id: LenderId,
        l: &NewLender,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE parking_lenders SET name = $1, contact = $2, notify_by = $3, user_id = $4, \
                 updated_at = $5 WHERE id = $6",
        )
        .bind(&l.name)
        .bind(&l.contact)
        .bind(l.notify_by.as_str())
        .bind(l.user.map(UserId::get))
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spaces of `m` (all, or one lender's), by name, each with its availability.
    pub async fn parking_spaces(
        &self,
        m: MunicipalityId,
        lender: Option<&[LenderId]>,
    ) -> Result<Vec<Space>> {
        let rows = sqlx::query(&format!(
            "{SPACE_SELECT} WHERE s.municipality_id = $1 ORDER BY s.name, s.id"
        ))
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        let mut spaces = rows
            .iter()
            .map(space_from_row)
            .collect::<Result<Vec<_>>>()?;
        if let Some(lenders) = lender {
            spaces.retain(|s| lenders.contains(&s.fields.lender));
        }
        let mut availability = self.parking_availability_of(m).await?;
        for s in &mut spaces {
            if let Some(a) = availability.remove(&s.id) {
                s.availability = a;
            }
        }
        Ok(spaces)
    }

    /// One space with its availability.
    pub async fn parking_space(&self, id: SpaceId) -> Result<Option<Space>> {
        let Some(row) = sqlx::query(&format!("{SPACE_SELECT} WHERE s.id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut space = space_from_row(&row)?;
        if let Some(a) = self
            .parking_availability_of(space.municipality)
            .await?
            .remove(&id)
        {
            space.availability = a;
        }
        Ok(Some(space))
    }

    /// The availability of every space of `m`.
    async fn parking_availability_of(
        &self,
        m: MunicipalityId,
    ) -> Result<HashMap<SpaceId, Availability>> {
        let mut out: HashMap<SpaceId, Availability> = HashMap::new();
        for r in sqlx::query(
            "SELECT w.space_id, w.weekday, w.start_min, w.end_min FROM parking_windows w \
             JOIN parking_spaces s ON s.id = w.space_id WHERE s.municipality_id = $1 \
             ORDER BY w.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?
        {
            out.entry(SpaceId(r.try_get("space_id")?))
                .or_default()
                .weekly
                .push(WeeklyWindow {
                    weekday: decode(&r, "weekday", Weekday::parse)?,
                    start_min: r.try_get("start_min")?,
                    end_min: r.try_get("end_min")?,
                });
        }
        for r in sqlx::query(
            "SELECT e.space_id, e.day, e.kind, e.start_min, e.end_min FROM parking_exceptions e \
             JOIN parking_spaces s ON s.id = e.space_id WHERE s.municipality_id = $1 \
             ORDER BY e.day, e.id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?
        {
            out.entry(SpaceId(r.try_get("space_id")?))
                .or_default()
                .exceptions
                .push(AvailabilityException {
                    date: r.try_get("day")?,
                    kind: decode(&r, "kind", ExceptionKind::parse)?,
                    start_min: r.try_get("start_min")?,
                    end_min: r.try_get("end_min")?,
                });
        }
        Ok(out)
    }

    /// Registers a space in `m` (active, no availability yet), audited.
    pub async fn create_parking_space(
        &self,
        m: MunicipalityId,
        s: &NewSpace,
        entry: &AuditEntry,
    ) -> Result<SpaceId> {
        let now = now_ms();
        let limits: Vec<&str> = s.limits.iter().map(|l| l.as_str()).collect();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO parking_spaces (municipality_id, lender_id, name, address, \
                 latitude_e7, longitude_e7, limits, limits_note, directions, photo, paused, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(m.get())
        .bind(s.lender.0)
        .bind(&s.name)
        .bind(&s.address)
        .bind(e7(s.location.latitude))
        .bind(e7(s.location.longitude))
        .bind(serde_json::to_string(&limits).map_err(Error::internal)?)
        .bind(&s.limits_note)
        .bind(&s.directions)
        .bind(None::<String>)
        .bind(false)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let mut entry = entry.clone();
        entry.target = format!("parking_space/{id}");
        audit::insert(&mut tx, &entry, now).await?;
        tx.commit().await?;
        Ok(SpaceId(id))
    }

    /// Replaces a space's fields, audited.
    pub async fn update_parking_space(
        &self,
        id: SpaceId,
        s: &NewSpace,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let limits: Vec<&str> = s.limits.iter().map(|l| l.as_str()).collect();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE parking_spaces SET lender_id = $1, name = $2, address = $3, \
                 latitude_e7 = $4, longitude_e7 = $5, limits = $6, limits_note = $7, \
                 directions = $8, updated_at = $9 WHERE id = $10",
        )
        .bind(s.lender.0)
        .bind(&s.name)
        .bind(&s.address)
        .bind(e7(s.location.latitude))
        .bind(e7(s.location.longitude))
        .bind(serde_json::to_string(&limits).map_err(Error::internal)?)
        .bind(&s.limits_note)
        .bind(&s.directions)
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets (`Some`: its SHA-256 in hex, type and size) or removes a space's photo, audited.
    /// The blob itself is in the attachment store, put there first.
    pub async fn set_parking_photo(
        &self,
        id: SpaceId,
        photo: Option<(&str, &str, i64, i64)>,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE parking_spaces SET photo = $1, photo_mime = $2, photo_width = $3, \
                 photo_height = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(photo.map(|p| p.0.to_owned()))
        .bind(photo.map(|p| p.1.to_owned()))
        .bind(photo.map(|p| p.2))
        .bind(photo.map(|p| p.3))
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The SHA-256 (hex) of a space's photo, if it has one.
    pub async fn parking_photo_blob(&self, id: SpaceId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT photo FROM parking_spaces WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Pauses or resumes a space, audited; returns the bookings still ahead at `now` (for
    /// the notice to their bookers). Pausing refuses new bookings; those made stay, and the
    /// bookers are told.
    pub async fn set_parking_paused(
        &self,
        id: SpaceId,
        paused: bool,
        now: i64,
        entry: &AuditEntry,
    ) -> Result<Vec<StoredBooking>> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE parking_spaces SET paused = $1, updated_at = $2 WHERE id = $3")
            .bind(paused)
            .bind(now_ms())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        let ahead = sqlx::query(&format!(
            "{BOOKING_SELECT} WHERE b.space_id = $1 AND b.status = 'booked' AND b.end_ms > $2 \
             ORDER BY b.start_ms"
        ))
        .bind(id.0)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(booking_from_row)
        .collect::<Result<Vec<_>>>()?;
        let entry = entry
            .clone()
            .detail(format!("bookings_ahead={}", ahead.len()));
        audit::insert(&mut tx, &entry, now_ms()).await?;
        if paused && !ahead.is_empty() {
            let queued = super::push::enqueue_parking_notice_in(
                &mut tx,
                &ahead,
                "予約している駐車場が休止になりました。予約を確認してください。",
                // The push worker lives by the system clock, as the outbox's times do.
                now_ms(),
            )
            .await?;
            tx.commit().await?;
            if queued > 0 {
                self.push_notifier.wake();
            }
        } else {
            tx.commit().await?;
        }
        Ok(ahead)
    }

    /// Replaces a space's availability, audited.
    pub async fn set_parking_availability(
        &self,
        id: SpaceId,
        a: &Availability,
        entry: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The space's row first: a booking in flight (which share-locks it) ends before the
        // hours change, and one after reads the new hours.
        sqlx::query("UPDATE parking_spaces SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        for table in ["parking_windows", "parking_exceptions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE space_id = $1"))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        for w in &a.weekly {
            sqlx::query(
                "INSERT INTO parking_windows (space_id, weekday, start_min, end_min) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.0)
            .bind(w.weekday.as_str())
            .bind(w.start_min)
            .bind(w.end_min)
            .execute(&mut *tx)
            .await?;
        }
        for e in &a.exceptions {
            sqlx::query(
                "INSERT INTO parking_exceptions (space_id, day, kind, start_min, end_min) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.0)
            .bind(&e.date)
            .bind(e.kind.as_str())
            .bind(e.start_min)
            .bind(e.end_min)
            .execute(&mut *tx)
            .await?;
        }
        let entry = entry.clone().detail(format!(
            "weekly={} exceptions={}",
            a.weekly.len(),
            a.exceptions.len()
        ));
        audit::insert(&mut tx, &entry, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The bookings of `space` that touch `[from, to)`, cancelled ones too, by start.
    pub async fn parking_bookings_of_space(
        &self,
        space: SpaceId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredBooking>> {
        sqlx::query(&format!(
            "{BOOKING_SELECT} WHERE b.space_id = $1 AND b.start_ms < $2 AND b.end_ms > $3 \
             ORDER BY b.start_ms, b.id"
        ))
        .bind(space.0)
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(booking_from_row)
        .collect()
    }

    /// `user`'s bookings in `m` that touch `[from, to)`, by start.
    pub async fn parking_bookings_of_user(
        &self,
        m: MunicipalityId,
        user: UserId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredBooking>> {
        sqlx::query(&format!(
            "{BOOKING_SELECT} WHERE s.municipality_id = $1 AND b.user_id = $2 \
             AND b.start_ms < $3 AND b.end_ms > $4 ORDER BY b.start_ms, b.id"
        ))
        .bind(m.get())
        .bind(user.get())
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(booking_from_row)
        .collect()
    }

    pub async fn parking_booking(&self, id: BookingId) -> Result<Option<StoredBooking>> {
        sqlx::query(&format!("{BOOKING_SELECT} WHERE b.id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(booking_from_row)
            .transpose()
    }

    /// Books `[start, end)` of `space` for `user` of `org`, audited, or refuses with a 409
    /// naming the booking in the way. `check` decides, on the space as this transaction
    /// reads it (paused? inside its hours?), whether the booking may be made, and returns
    /// the plate to store; the caller checked the permission. This is where an overlap is
    /// made impossible (see the module documentation).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_parking_booking(
        &self,
        space: SpaceId,
        user: UserId,
        org: OrganizationId,
        start: i64,
        end: i64,
        now: i64,
        check: impl FnOnce(&Space) -> Result<String> + Send,
        entry: &AuditEntry,
    ) -> Result<BookingId> {
        // SQLite: the write lock from the start (`begin_write`), so nothing read next can
        // change before the commit and "look for a clash, then insert" is one step.
        let mut tx = self.begin_write().await?;
        let current = space_in(&mut tx, self.backend, space)
            .await?
            .ok_or(Error::NotFound)?;
        let plate = check(&current)?;
        // The friendly answer for the common case; on PostgreSQL a concurrent insert can
        // still pass here, and the exclusion constraint refuses it below.
        if let Some(b) = overlapping_in(&mut tx, space, start, end).await? {
            return Err(conflict(Some(&b)));
        }
        let inserted = sqlx::query(
            "INSERT INTO parking_bookings (space_id, user_id, organization_id, start_ms, \
                 end_ms, plate, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8) RETURNING id",
        )
        .bind(space.0)
        .bind(user.get())
        .bind(org.get())
        .bind(start)
        .bind(end)
        .bind(&plate)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(EXCLUSION_VIOLATION) => {
                tx.rollback().await?;
                // The booking that won is committed by now (the constraint waited for it).
                let mut conn = self.pool.acquire().await?;
                let with = overlapping_in(&mut conn, space, start, end).await?;
                return Err(conflict(with.as_ref()));
            }
            Err(e) => return Err(e.into()),
        };
        let mut entry = entry.clone();
        entry.target = format!("parking_booking/{id}");
        audit::insert(&mut tx, &entry, now_ms()).await?;
        let stored = sqlx::query(&format!("{BOOKING_SELECT} WHERE b.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let queued = super::push::enqueue_parking_reminder_in(
            &mut tx,
            &booking_from_row(&stored)?,
            now_ms(),
        )
        .await?;
        tx.commit().await?;
        if queued > 0 {
            self.push_notifier.wake();
        }
        Ok(BookingId(id))
    }

    /// Cancels a booking (its whole window is free again), audited; `false` if it was not
    /// `booked`.
    pub async fn cancel_parking_booking(
        &self,
        id: BookingId,
        now: i64,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE parking_bookings SET status = 'cancelled', updated_at = $1 \
             WHERE id = $2 AND status = 'booked'",
        )
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        super::push::drop_parking_pushes_in(&mut tx, id).await?;
        audit::insert(&mut tx, entry, now_ms()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a booking under way at `now`: the rest of its window is free again, audited;
    /// `false` if it was not `booked` and under way (`start <= now < end`).
    pub async fn leave_parking_early(
        &self,
        id: BookingId,
        now: i64,
        entry: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE parking_bookings SET status = 'left_early', released_end_ms = end_ms, \
                 end_ms = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'booked' AND start_ms <= $4 AND end_ms > $5",
        )
        .bind(now)
        .bind(now)
        .bind(id.0)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        super::push::drop_parking_pushes_in(&mut tx, id).await?;
        audit::insert(&mut tx, entry, now_ms()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Files a trouble report to `m`'s city, audited (the audit names the report, not its
    /// text).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_parking_trouble(
        &self,
        m: MunicipalityId,
        space: Option<SpaceId>,
        booking: Option<BookingId>,
        reporter: UserId,
        side: TroubleSide,
        body: &str,
        now: i64,
        entry: &AuditEntry,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO parking_troubles (municipality_id, space_id, booking_id, reporter_id, \
                 side, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(m.get())
        .bind(space.map(|s| s.0))
        .bind(booking.map(|b| b.0))
        .bind(reporter.get())
        .bind(side.as_str())
        .bind(body)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let mut entry = entry.clone();
        entry.target = format!("parking_trouble/{id}");
        audit::insert(&mut tx, &entry, now_ms()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// `m`'s trouble reports, newest first.
    pub async fn parking_troubles(&self, m: MunicipalityId) -> Result<Vec<Trouble>> {
        sqlx::query(
            "SELECT t.id, t.space_id, t.booking_id, t.side, t.reporter_id, u.display_name, \
                 t.body, t.created_at FROM parking_troubles t \
             JOIN users u ON u.id = t.reporter_id \
             WHERE t.municipality_id = $1 ORDER BY t.created_at DESC, t.id DESC",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Trouble {
                id: r.try_get("id")?,
                space: r.try_get::<Option<i64>, _>("space_id")?.map(SpaceId),
                booking: r.try_get::<Option<i64>, _>("booking_id")?.map(BookingId),
                side: decode(r, "side", TroubleSide::parse)?,
                reporter: UserId::new(r.try_get("reporter_id")?),
                reporter_name: r.try_get("display_name")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
    }

    /// Bookings (not cancelled) per space per JST month of their start, months in order.
    pub async fn parking_statistics(&self, m: MunicipalityId) -> Result<Vec<SpaceMonth>> {
        let month = self.backend.jst_month("b.start_ms");
        sqlx::query(&format!(
            "SELECT b.space_id, s.name, {month} AS month, COUNT(*) AS n \
             FROM parking_bookings b JOIN parking_spaces s ON s.id = b.space_id \
             WHERE s.municipality_id = $1 AND b.status <> 'cancelled' \
             GROUP BY b.space_id, s.name, {month} ORDER BY month, s.name, b.space_id"
        ))
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(SpaceMonth {
                space: SpaceId(r.try_get("space_id")?),
                space_name: r.try_get("name")?,
                month: r.try_get("month")?,
                bookings: r.try_get("n")?,
            })
        })
        .collect()
    }
}

/// One demo space: name, address, lender (index), latitude, longitude, limits, note,
/// directions, and its weekly windows `(weekday, start_min, end_min)`.
pub struct DemoSpace {
    pub name: &'static str,
    pub address: &'static str,
    pub lender: usize,
    pub latitude: f64,
    pub longitude: f64,
    pub limits: &'static [ParkingLimit],
    pub limits_note: &'static str,
    pub directions: &'static str,
    pub weekly: &'static [(Weekday, i64, i64)],
}

/// The demo's parking, written in one transaction and, like the rest of the demo seed, not
/// audited (it is not anyone's act). `bookings` are `(space index, user, organisation,
/// start, end, plate)`.
pub struct DemoParking<'a> {
    pub municipality: MunicipalityId,
    pub lenders: &'a [(&'static str, &'static str, NotifyBy)],
    pub spaces: &'a [DemoSpace],
    pub approved: &'a [OrganizationId],
    pub approved_by: UserId,
    pub managers: &'a [UserId],
    /// `(lender index, their account)`.
    pub lender_accounts: &'a [(usize, UserId)],
    pub bookings: &'a [(usize, UserId, OrganizationId, i64, i64, &'static str)],
}

impl Db {
    pub async fn seed_demo_parking(&self, d: &DemoParking<'_>) -> Result<()> {
        let now = now_ms();
        let m = d.municipality.get();
        let mut tx = self.begin_write().await?;
        let mut lenders = Vec::new();
        for (i, (name, contact, notify_by)) in d.lenders.iter().enumerate() {
            let account = d
                .lender_accounts
                .iter()
                .find(|(l, _)| *l == i)
                .map(|(_, u)| u.get());
            let id: i64 = sqlx::query(
                "INSERT INTO parking_lenders \
                     (municipality_id, name, contact, notify_by, user_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(m)
            .bind(*name)
            .bind(*contact)
            .bind(notify_by.as_str())
            .bind(account)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            lenders.push(id);
        }
        let mut spaces = Vec::new();
        for s in d.spaces {
            let limits: Vec<&str> = s.limits.iter().map(|l| l.as_str()).collect();
            let id: i64 = sqlx::query(
                "INSERT INTO parking_spaces (municipality_id, lender_id, name, address, \
                     latitude_e7, longitude_e7, limits, limits_note, directions, photo, paused, \
                     created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            )
            .bind(m)
            .bind(lenders[s.lender])
            .bind(s.name)
            .bind(s.address)
            .bind(e7(s.latitude))
            .bind(e7(s.longitude))
            .bind(serde_json::to_string(&limits).map_err(Error::internal)?)
            .bind(s.limits_note)
            .bind(s.directions)
            .bind(None::<String>)
            .bind(false)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            for (weekday, start, end) in s.weekly {
                sqlx::query(
                    "INSERT INTO parking_windows (space_id, weekday, start_min, end_min) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(weekday.as_str())
                .bind(*start)
                .bind(*end)
                .execute(&mut *tx)
                .await?;
            }
            spaces.push(id);
        }
        for org in d.approved {
            sqlx::query(
                "INSERT INTO parking_approvals \
                     (municipality_id, organization_id, approved_at, approved_by) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(m)
            .bind(org.get())
            .bind(now)
            .bind(d.approved_by.get())
            .execute(&mut *tx)
            .await?;
        }
        for user in d.managers {
            sqlx::query("INSERT INTO parking_managers (user_id) VALUES ($1)")
                .bind(user.get())
                .execute(&mut *tx)
                .await?;
        }
        for (space, user, org, start, end, plate) in d.bookings {
            sqlx::query(
                "INSERT INTO parking_bookings (space_id, user_id, organization_id, start_ms, \
                     end_ms, plate, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8)",
            )
            .bind(spaces[*space])
            .bind(user.get())
            .bind(org.get())
            .bind(*start)
            .bind(*end)
            .bind(*plate)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
