//! Where a patient room's patient lives (駐車場, issue 17): the register's location of the
//! person linked to the room, and the pin the room's staff set (`room_home_pins`, migration
//! 0015). Which one wins is the handler's (`http/rooms.rs`), written up in docs/parking.md.

use super::audit::{self, AuditEntry};
use super::{now_ms, Db};
use crate::domain::register::DEGREE_UNITS;
use crate::error::Result;
use renraku_contract::{HomePin, Location};
use renraku_sync::{RoomId, UserId};
use sqlx::Row;

fn e7(degrees: f64) -> i64 {
    (degrees * DEGREE_UNITS).round() as i64
}

fn degrees(e7: i64) -> f64 {
    e7 as f64 / DEGREE_UNITS
}

impl Db {
    /// The location of the register entry linked to `room` that the room's members see:
    /// current (not retired), consenting, placed. With several, the latest updated.
    pub async fn register_home_of_room(&self, room: RoomId) -> Result<Option<Location>> {
        let row = sqlx::query(
            "SELECT latitude_e7, longitude_e7 FROM register_people \
             WHERE room_id = $1 AND consent = $2 AND retired = $3 \
               AND latitude_e7 IS NOT NULL AND longitude_e7 IS NOT NULL \
             ORDER BY updated_at DESC, id DESC LIMIT 1",
        )
        .bind(room.get())
        .bind(true)
        .bind(false)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Location {
                latitude: degrees(r.try_get("latitude_e7")?),
                longitude: degrees(r.try_get("longitude_e7")?),
            })
        })
        .transpose()
    }

    /// The pin the room's staff set on the patient's home.
    pub async fn room_home_pin(&self, room: RoomId) -> Result<Option<HomePin>> {
        let row = sqlx::query(
            "SELECT h.latitude_e7, h.longitude_e7, h.set_by, u.display_name, h.set_at \
             FROM room_home_pins h JOIN users u ON u.id = h.set_by WHERE h.room_id = $1",
        )
        .bind(room.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(HomePin {
                location: Location {
                    latitude: degrees(r.try_get("latitude_e7")?),
                    longitude: degrees(r.try_get("longitude_e7")?),
                },
                set_by: UserId::new(r.try_get("set_by")?),
                set_by_name: r.try_get("display_name")?,
                set_at: r.try_get("set_at")?,
            })
        })
        .transpose()
    }

    /// Sets (or moves) the pin, audited in the same transaction.
    pub async fn set_room_home_pin(
        &self,
        room: RoomId,
        at: Location,
        by: UserId,
        entry: &AuditEntry,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO room_home_pins (room_id, latitude_e7, longitude_e7, set_by, set_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (room_id) DO UPDATE SET latitude_e7 = excluded.latitude_e7, \
                 longitude_e7 = excluded.longitude_e7, set_by = excluded.set_by, \
                 set_at = excluded.set_at",
        )
        .bind(room.get())
        .bind(e7(at.latitude))
        .bind(e7(at.longitude))
        .bind(by.get())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::insert(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the pin, audited when there was one; whether there was.
    pub async fn clear_room_home_pin(&self, room: RoomId, entry: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM room_home_pins WHERE room_id = $1")
            .bind(room.get())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            audit::insert(&mut tx, entry, now_ms()).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

impl Db {
    /// The demo's pins, as a member set them (not audited, like the rest of the demo seed).
    pub async fn seed_room_home_pin(&self, room: RoomId, at: Location, by: UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_home_pins (room_id, latitude_e7, longitude_e7, set_by, set_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(room.get())
        .bind(e7(at.latitude))
        .bind(e7(at.longitude))
        .bind(by.get())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
