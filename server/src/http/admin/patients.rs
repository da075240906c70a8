//! A municipality's patients: create (with their patient room), edit, archive.

use super::guard::{opt_text, optional_line, text, Admin};
use crate::db::patients::{NewPatient, PatientListing, PatientUpdate};
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use renraku_sync::{PatientId, RoomId, RoomKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MAX_ADDRESS_CHARS: usize = 200;
const MAX_CARE_LEVEL_CHARS: usize = 50;

#[derive(Deserialize, ToSchema)]
pub struct NewPatientRequest {
    pub name: String,
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub care_level: String,
    #[serde(default)]
    pub disaster_flag: bool,
    #[serde(default)]
    pub triage: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedPatient {
    #[schema(value_type = i64)]
    pub id: PatientId,
    /// The patient's room, created with them (add the care team as its members).
    #[schema(value_type = i64)]
    pub room: RoomId,
}

pub fn check_birth_date(date: &str) -> Result<()> {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && (1..=12).contains(&date[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&date[8..10].parse::<u8>().unwrap_or(0));
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest("birth_date: YYYY-MM-DD".into()))
    }
}

pub fn check_triage(triage: Option<&str>) -> Result<()> {
    match triage {
        None | Some("" | "red" | "yellow" | "green" | "black") => Ok(()),
        Some(_) => Err(Error::BadRequest(
            "triage: red, yellow, green or black".into(),
        )),
    }
}

/// The municipality's patients, archived ones included.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/patients", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<PatientListing>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_patients(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<PatientListing>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.patients_of(m.id).await?))
}

/// Registers a patient and creates their patient room.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/patients", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewPatientRequest,
    responses((status = 201, body = CreatedPatient),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_patient(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewPatientRequest>,
) -> Result<(StatusCode, Json<CreatedPatient>)> {
    let m = admin.municipality(&state, &slug).await?;
    let name = text("name", &req.name, 100)?;
    let kana = text("name_kana", &req.name_kana, 100)?;
    let address = optional_line("address", &req.address, MAX_ADDRESS_CHARS)?;
    let care_level = optional_line("care_level", &req.care_level, MAX_CARE_LEVEL_CHARS)?;
    check_birth_date(&req.birth_date)?;
    check_triage(req.triage.as_deref())?;
    let id = state
        .db
        .create_patient(
            m.id,
            &NewPatient {
                name: &name,
                name_kana: &kana,
                birth_date: &req.birth_date,
                address: &address,
                care_level: &care_level,
                disaster_flag: req.disaster_flag,
                triage: req.triage.as_deref().filter(|t| !t.is_empty()),
            },
        )
        .await?;
    let room = state
        .db
        .create_room(m.id, RoomKind::Patient, &name, Some(id))
        .await?;
    // The target is the id only: patient names stay out of the log.
    state
        .db
        .audit(
            admin
                .entry("admin.patient.create", Some(m.id), format!("patient/{id}"))
                .detail(format!("room/{room}")),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedPatient { id, room })))
}

/// Edits or archives (`archived: true`) a patient.
#[utoipa::path(patch, path = "/api/admin/patients/{id}", tag = "admin",
    params(("id" = i64, Path)),
    request_body = PatientUpdate,
    responses((status = 204),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_patient(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut req): ApiJson<PatientUpdate>,
) -> Result<StatusCode> {
    let id = PatientId::new(id);
    let m = admin.require_owner(state.db.patient_municipality(id).await?)?;
    req.name = opt_text("name", req.name.as_deref(), 100)?;
    req.name_kana = opt_text("name_kana", req.name_kana.as_deref(), 100)?;
    if let Some(address) = &req.address {
        req.address = Some(optional_line("address", address, MAX_ADDRESS_CHARS)?);
    }
    if let Some(level) = &req.care_level {
        req.care_level = Some(optional_line("care_level", level, MAX_CARE_LEVEL_CHARS)?);
    }
    if let Some(date) = &req.birth_date {
        check_birth_date(date)?;
    }
    check_triage(req.triage.as_deref())?;
    state.db.update_patient(id, &req).await?;
    let action = match req.archived {
        Some(true) => "admin.patient.archive",
        Some(false) => "admin.patient.unarchive",
        None => "admin.patient.update",
    };
    state
        .db
        .audit(admin.entry(action, Some(m), format!("patient/{id}")))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
