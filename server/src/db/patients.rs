//! Patients of a municipality. Their details appear only in patient rooms' headers.

use super::{flag, Db};
use crate::error::Result;
use renraku_sync::{MunicipalityId, PatientId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What a patient room shows at its top.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Patient {
    #[schema(value_type = i64)]
    pub id: PatientId,
    pub name: String,
    pub name_kana: String,
    /// ISO date, `YYYY-MM-DD`.
    pub birth_date: String,
    pub address: String,
    /// 要支援1–2 / 要介護1–5, or empty.
    pub care_level: String,
    /// Needs assistance in a disaster (災害時要援護者).
    pub disaster_flag: bool,
    /// Disaster triage colour: red, yellow, green or black.
    pub triage: Option<String>,
}

impl Patient {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
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
        Ok(row.as_ref().map(Patient::from_row).transpose()?)
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

/// A patient as administrators list them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PatientListing {
    #[serde(flatten)]
    pub patient: Patient,
    pub archived: bool,
}

/// An administrator's changes to a patient; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PatientUpdate {
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub birth_date: Option<String>,
    pub address: Option<String>,
    pub care_level: Option<String>,
    pub disaster_flag: Option<bool>,
    /// `red`, `yellow`, `green` or `black`; an empty string clears it.
    pub triage: Option<String>,
    pub archived: Option<bool>,
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
                Ok(PatientListing {
                    patient: Patient::from_row(row)?,
                    archived: flag(row, "archived")?,
                })
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
