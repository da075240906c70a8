//! A municipality's patients: create (with their patient room), edit, archive.

use super::guard::{checked, Admin};
use crate::db::patients::{NewPatient, PatientListing, PatientUpdate};
use crate::domain::audit::AuditAction;
use crate::domain::patient;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::ApiPath;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{CreatedPatient, NewPatientRequest};
use renraku_sync::{PatientId, RoomKind};

/// A field of an edit: left alone when absent, else checked by `rule`.
fn optional(
    field: &str,
    value: Option<&str>,
    rule: fn(&str) -> std::result::Result<&str, crate::domain::text::Problem>,
) -> Result<Option<String>> {
    value.map(|v| checked(field, rule(v))).transpose()
}

/// [`patient::birth_date_is_valid`], as a 400.
fn check_birth_date(date: &str) -> Result<()> {
    if patient::birth_date_is_valid(date) {
        Ok(())
    } else {
        Err(Error::BadRequest("birth_date: YYYY-MM-DD".into()))
    }
}

/// [`patient::triage_is_valid`], as a 400.
fn check_triage(triage: Option<&str>) -> Result<()> {
    if patient::triage_is_valid(triage) {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "triage: red, yellow, green or black".into(),
        ))
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
    let name = checked("name", patient::name(&req.name))?;
    let kana = checked("name_kana", patient::name_kana(&req.name_kana))?;
    let address = checked("address", patient::address(&req.address))?;
    let care_level = checked("care_level", patient::care_level(&req.care_level))?;
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
                .entry(
                    AuditAction::AdminPatientCreate,
                    Some(m.id),
                    format!("patient/{id}"),
                )
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
    req.name = optional("name", req.name.as_deref(), patient::name)?;
    req.name_kana = optional("name_kana", req.name_kana.as_deref(), patient::name_kana)?;
    req.address = optional("address", req.address.as_deref(), patient::address)?;
    req.care_level = optional("care_level", req.care_level.as_deref(), patient::care_level)?;
    if let Some(date) = &req.birth_date {
        check_birth_date(date)?;
    }
    check_triage(req.triage.as_deref())?;
    state.db.update_patient(id, &req).await?;
    let action = match req.archived {
        Some(true) => AuditAction::AdminPatientArchive,
        Some(false) => AuditAction::AdminPatientUnarchive,
        None => AuditAction::AdminPatientUpdate,
    };
    state
        .db
        .audit(admin.entry(action, Some(m), format!("patient/{id}")))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
