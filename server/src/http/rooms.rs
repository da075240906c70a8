//! Rooms as the API shows them: my list, one room's header and members, room tokens.

use crate::auth::{self, CurrentUser};
use crate::db::audit::AuditEntry;
use crate::db::patients::Patient;
use crate::db::rooms::{Member, RoomSummary};
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use renraku_sync::{RoomId, RoomKind};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RoomDetail {
    #[schema(value_type = i64)]
    pub id: RoomId,
    /// `patient`, `project` or `message`.
    #[schema(value_type = String)]
    pub kind: RoomKind,
    pub title: String,
    pub archived: bool,
    /// The patient header, for patient rooms.
    pub patient: Option<Patient>,
    pub members: Vec<Member>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomToken {
    /// Use as `/yjs/{room}?token=…`; reusable until it expires.
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A room id from the path; anything else cannot name a room.
fn room_id(raw: &str) -> Result<RoomId> {
    raw.parse().map_err(|_| Error::NotFound)
}

/// Non-members get 403 whether or not the room exists, so ids reveal nothing.
async fn require_member(state: &AppState, room: RoomId, user: &CurrentUser) -> Result<()> {
    if state.db.is_member(room, user.id).await? {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The rooms I am a member of.
#[utoipa::path(get, path = "/api/rooms", tag = "rooms",
    responses((status = 200, body = Vec<RoomSummary>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_rooms(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<RoomSummary>>> {
    Ok(Json(state.db.rooms_of(user.id).await?))
}

/// One room: header, patient (audited) and members. Members only.
#[utoipa::path(get, path = "/api/rooms/{id}", tag = "rooms",
    params(("id" = i64, Path, description = "Room id")),
    responses((status = 200, body = RoomDetail),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_room(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<RoomDetail>> {
    let id = room_id(&id)?;
    require_member(&state, id, &user).await?;
    let room = state.db.room(id).await?.ok_or(Error::NotFound)?;
    let patient = match room.patient {
        Some(patient) => {
            // Every read of a patient's information is audited (DESIGN.md §8).
            let entry = AuditEntry::new("patient_room.read", format!("room/{id}"))
                .by(user.id, user.municipality)
                .detail(format!("patient/{patient}"));
            state.db.audit(entry).await?;
            state.db.patient(patient).await?
        }
        None => None,
    };
    Ok(Json(RoomDetail {
        id,
        kind: room.kind,
        title: room.title,
        archived: room.archived,
        patient,
        members: state.db.members(id).await?,
    }))
}

/// A short-lived token for the y-websocket endpoint `/yjs/{room}`. Members only.
#[utoipa::path(post, path = "/api/rooms/{id}/token", tag = "rooms",
    params(("id" = i64, Path, description = "Room id")),
    responses((status = 200, body = RoomToken),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn room_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<RoomToken>> {
    let id = room_id(&id)?;
    require_member(&state, id, &user).await?;
    let (token, expires_at) = auth::issue_room_token(&state, user.id, id).await?;
    Ok(Json(RoomToken { token, expires_at }))
}
