//! A municipality's patient and project rooms and their members. Who may be added is the
//! tenancy rule's to say (`crate::domain::tenancy`).

use super::guard::{opt_text, text, Admin};
use crate::db::audit::AuditEntry;
use crate::db::room_admin::AdminRoom;
use crate::db::rooms::{Member, RoomRow};
use crate::db::users::UserRow;
use crate::domain::audit::AuditAction;
use crate::domain::tenancy;
use crate::error::{Error, Result};
use crate::http::ApiJson;
use crate::http::{ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{Candidate, MemberRole, NewMember, NewRoom, RoomUpdate};
use renraku_sync::{RoomId, RoomKind, UserId};
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    /// Matches name, kana, login id or organization; empty lists everyone (up to 100).
    #[serde(default)]
    pub q: String,
}

/// The room, if this administrator manages its municipality (message rooms are private).
async fn managed_room(state: &AppState, admin: &Admin, id: i64) -> Result<RoomRow> {
    let room = state
        .db
        .room(RoomId::new(id))
        .await?
        .ok_or(Error::NotFound)?;
    admin.require_manages(room.municipality)?;
    if room.kind == RoomKind::Message {
        return Err(Error::Forbidden);
    }
    Ok(room)
}

fn audit_room(admin: &Admin, action: AuditAction, room: &RoomRow) -> AuditEntry {
    admin.entry(action, Some(room.municipality), format!("room/{}", room.id))
}

/// The municipality's patient and project rooms.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/rooms", tag = "admin",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<AdminRoom>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_rooms(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<AdminRoom>>> {
    let m = admin.municipality(&state, &slug).await?;
    Ok(Json(state.db.rooms_of_municipality(m.id).await?))
}

/// Creates a patient or project room.
#[utoipa::path(post, path = "/api/admin/municipalities/{slug}/rooms", tag = "admin",
    params(("slug" = String, Path)),
    request_body = NewRoom,
    responses((status = 201, body = AdminRoom),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_room(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<NewRoom>,
) -> Result<(StatusCode, Json<AdminRoom>)> {
    let m = admin.municipality(&state, &slug).await?;
    let title = text("title", &req.title, 100)?;
    match (req.kind, req.patient) {
        (RoomKind::Patient, Some(p)) => {
            if state.db.patient_municipality(p).await? != Some(m.id) {
                return Err(Error::BadRequest(
                    "patient: not one of this municipality's".into(),
                ));
            }
        }
        (RoomKind::Project, None) => {}
        (RoomKind::Patient, None) => {
            return Err(Error::BadRequest("a patient room needs its patient".into()))
        }
        _ => {
            return Err(Error::BadRequest(
                "kind: patient (with a patient) or project".into(),
            ))
        }
    }
    let id = state
        .db
        .create_room(m.id, req.kind, &title, req.patient)
        .await?;
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminRoomCreate,
            Some(m.id),
            format!("room/{id}"),
        ))
        .await?;
    let created = state
        .db
        .rooms_of_municipality(m.id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Renames or archives a room.
#[utoipa::path(patch, path = "/api/admin/rooms/{id}", tag = "admin",
    params(("id" = i64, Path)),
    request_body = RoomUpdate,
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_room(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RoomUpdate>,
) -> Result<StatusCode> {
    let room = managed_room(&state, &admin, id).await?;
    let title = opt_text("title", req.title.as_deref(), 100)?;
    state
        .db
        .update_room(room.id, title.as_deref(), req.archived)
        .await?;
    let action = match req.archived {
        Some(true) => AuditAction::AdminRoomArchive,
        Some(false) => AuditAction::AdminRoomUnarchive,
        None => AuditAction::AdminRoomUpdate,
    };
    state.db.audit(audit_room(&admin, action, &room)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A room's members.
#[utoipa::path(get, path = "/api/admin/rooms/{id}/members", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Member>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Member>>> {
    let room = managed_room(&state, &admin, id).await?;
    Ok(Json(state.db.members(room.id).await?))
}

/// Adds a professional to a room (or changes their role in it). Professionals of another
/// municipality only when it shares an agreement with the room's.
#[utoipa::path(put, path = "/api/admin/rooms/{id}/members/{user}", tag = "admin",
    params(("id" = i64, Path), ("user" = i64, Path)),
    request_body = NewMember,
    responses((status = 204),
              (status = 400, description = "Disabled account", body = crate::error::ErrorBody),
              (status = 403, description = "Not yours, or outside every agreement", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn put_member(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<StatusCode> {
    let room = managed_room(&state, &admin, id).await?;
    let role = body.role.unwrap_or(MemberRole::Member);
    let profile: UserRow = state
        .db
        .user(UserId::new(user))
        .await?
        .ok_or(Error::NotFound)?;
    let agreements = state.db.agreements_in_force().await?;
    if !tenancy::may_join(&room.municipality, &profile.municipality, &agreements) {
        let entry = audit_room(&admin, AuditAction::RoomMemberRefused, &room)
            .detail(format!("user/{user}: no shared agreement"));
        state.db.audit(entry).await?;
        return Err(Error::Forbidden);
    }
    if profile.disabled {
        return Err(Error::BadRequest("the account is disabled".into()));
    }
    let detail = format!("user/{user} as {role}");
    if state.db.is_member(room.id, profile.id).await? {
        state
            .db
            .set_member_role(room.id, profile.id, role.as_str())
            .await?;
        let entry = audit_room(&admin, AuditAction::RoomMemberRole, &room).detail(detail);
        state.db.audit(entry).await?;
    } else {
        state
            .db
            .add_member(room.id, profile.id, role.as_str(), Some(admin.0.id))
            .await?;
        let entry = audit_room(&admin, AuditAction::RoomMemberAdded, &room).detail(detail);
        state.db.audit(entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member; the room closes on their open connections at once.
#[utoipa::path(delete, path = "/api/admin/rooms/{id}/members/{user}", tag = "admin",
    params(("id" = i64, Path), ("user" = i64, Path)),
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, description = "No such room or not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((id, user)): ApiPath<(i64, i64)>,
) -> Result<StatusCode> {
    let room = managed_room(&state, &admin, id).await?;
    let user = UserId::new(user);
    if !state.db.remove_member(room.id, user).await? {
        return Err(Error::NotFound);
    }
    state.hub.close_room_for(user, room.id);
    let entry =
        audit_room(&admin, AuditAction::RoomMemberRemoved, &room).detail(format!("user/{user}"));
    state.db.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Professionals who may be added to the room: enabled accounts of the room's municipality
/// and of every municipality sharing an agreement with it.
#[utoipa::path(get, path = "/api/admin/rooms/{id}/candidates", tag = "admin",
    params(("id" = i64, Path), CandidateQuery),
    responses((status = 200, body = Vec<Candidate>),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn candidates(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CandidateQuery>,
) -> Result<Json<Vec<Candidate>>> {
    let room = managed_room(&state, &admin, id).await?;
    let pattern = format!(
        "%{}%",
        q.q.trim()
            .chars()
            .filter(|c| *c != '%' && *c != '_')
            .collect::<String>()
    );
    // Exactly the municipalities the tenancy rule lets into this room.
    let reach = state
        .db
        .agreements_in_force()
        .await?
        .reach(&room.municipality);
    let out = state
        .db
        .room_candidates(room.id, room.municipality, &reach, &pattern)
        .await?;
    Ok(Json(out))
}
