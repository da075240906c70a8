//! Patients of a municipality. Their details appear only in patient rooms' headers.

use super::{flag, Db};
use crate::error::Result;
pub use renraku_contract::{Patient, PatientListing, PatientUpdate};
use renraku_sync::{MunicipalityId, PatientId};
use sqlx::any::AnyRow;
use sqlx::Row;

fn patient_from_row(row: &AnyRow) -> Result<Patient, sqlx::Error> {
    Ok(Patient {
        id: PatientId::new(row.try_get("id")?),
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        birth_date: row.try_get("birth_date")?,
        address: row.try_get("address")?,
        care_level: row.try_get("care_level")?,
        disaster_flag: flag(row, "disaster_flag")?,
        triage: row.try_get("triage")?,
    })
}

#[derive(Clone, Debug)]
pub struct NewPatient<'a> {
    pub name: &'a str,
    pub name_kana: &'a str,
    pub birth_date: &'a str,
    pub address: &'a str,
    pub care_level: &'a str,
    pub disaster_flag: bool,
    pub triage: Option<&'a str>,
}

impl Db {
    pub async fn patient(&self, id: PatientId) -> Result<Option<Patient>> {
        let row = sqlx::query(
            "SELECT id, name, name_kana, birth_date, address, care_level, disaster_flag, triage \
             FROM patients WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(patient_from_row).transpose()?)
    }

    pub async fn create_patient(
        &self,
        municipality: MunicipalityId,
        p: &NewPatient<'_>,
    ) -> Result<PatientId> {
        let row = sqlx::query(
            "INSERT INTO patients (municipality_id, name, name_kana, birth_date, address, \
                 care_level, disaster_flag, triage, archived) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(municipality.get())
        .bind(p.name)
        .bind(p.name_kana)
        .bind(p.birth_date)
        .bind(p.address)
        .bind(p.care_level)
        .bind(p.disaster_flag)
        .bind(p.triage)
        .bind(false)
        .fetch_one(&self.pool)
        .await?;
        Ok(PatientId::new(row.try_get("id")?))
    }
}

impl Db {
    pub async fn patients_of(&self, m: MunicipalityId) -> Result<Vec<PatientListing>> {
        let rows = sqlx::query(
            "SELECT id, name, name_kana, birth_date, address, care_level, disaster_flag, triage, \
                 archived FROM patients WHERE municipality_id = $1 ORDER BY name_kana, id",
        )
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PatientListing::new(
                    patient_from_row(row)?,
                    flag(row, "archived")?,
                ))
            })
            .collect()
    }

    pub async fn patient_municipality(&self, id: PatientId) -> Result<Option<MunicipalityId>> {
        use sqlx::Row;
        let row = sqlx::query("SELECT municipality_id FROM patients WHERE id = $1")
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("municipality_id"))
            .transpose()?
            .map(MunicipalityId::new))
    }

    pub async fn update_patient(&self, id: PatientId, u: &PatientUpdate) -> Result<()> {
        let triage = u.triage.as_deref().map(|t| (!t.is_empty()).then_some(t));
        sqlx::query(
            "UPDATE patients SET name = COALESCE($1, name), name_kana = COALESCE($2, name_kana), \
                 birth_date = COALESCE($3, birth_date), address = COALESCE($4, address), \
                 care_level = COALESCE($5, care_level), \
                 disaster_flag = COALESCE($6, disaster_flag), \
                 triage = CASE WHEN $7 THEN $8 ELSE triage END, \
                 archived = COALESCE($9, archived) \
             WHERE id = $10",
        )
        .bind(u.name.as_deref())
        .bind(u.name_kana.as_deref())
        .bind(u.birth_date.as_deref())
        .bind(u.address.as_deref())
        .bind(u.care_level.as_deref())
        .bind(u.disaster_flag)
        .bind(triage.is_some())
        .bind(triage.flatten())
        .bind(u.archived)
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
