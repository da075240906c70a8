//! Rooms as the API shows them: my list, one room's header and members, room tokens.

use super::{ApiJson, ApiPath};
use crate::auth::{self, CurrentUser};
use crate::db::audit::AuditEntry;
use crate::db::rooms::{MessageRoom, RoomSummary};
use crate::domain::audit::AuditAction;
use crate::domain::tenancy;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{
    HomeSource, Location, MessageRoomCreated, NewMessageRoom, RoomDetail, RoomHome, RoomToken,
};
use renraku_sync::{RoomId, UserId};

/// A room id from the path; anything else cannot name a room.
pub(super) fn room_id(raw: &str) -> Result<RoomId> {
    raw.parse().map_err(|_| Error::NotFound)
}

/// Non-members get 403 whether or not the room exists, so ids reveal nothing.
pub(super) async fn require_member(
    state: &AppState,
    room: RoomId,
    user: &CurrentUser,
) -> Result<()> {
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
    let mut rooms = state.db.rooms_of(user.id).await?;
    let activity: std::collections::HashMap<RoomId, _> = state
        .db
        .room_activity(user.id)
        .await?
        .into_iter()
        .map(|a| (a.room, a))
        .collect();
    for room in &mut rooms {
        if let Some(a) = activity.get(&room.id) {
            room.unread = Some(a.unread);
            room.last_activity = a.latest_activity_at;
            room.last_text = a.latest_text.as_deref().map(renraku_sync::frame::preview);
        }
    }
    Ok(Json(rooms))
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
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoomDetail>> {
    let id = room_id(&id)?;
    require_member(&state, id, &user).await?;
    let room = state.db.room(id).await?.ok_or(Error::NotFound)?;
    let patient = match room.patient {
        Some(patient) => {
            // Every read of a patient's information is audited (ARCHITECTURE.md, "Where each
            // rule lives": audit).
            let entry = AuditEntry::new(AuditAction::PatientRoomRead, format!("room/{id}"))
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

/// A patient room of which `user` is a member (403 otherwise, as every room read); a room of
/// another kind is 400, as it has no patient and so no home.
async fn patient_room(
    state: &AppState,
    id: &str,
    user: &CurrentUser,
) -> Result<crate::db::rooms::RoomRow> {
    let id = room_id(id)?;
    require_member(state, id, user).await?;
    let room = state.db.room(id).await?.ok_or(Error::NotFound)?;
    if room.kind != renraku_sync::RoomKind::Patient {
        return Err(Error::BadRequest(
            "not a patient room: only a patient room has a patient's home".into(),
        ));
    }
    Ok(room)
}

/// Where a patient room's patient lives (for 駐車場: parking near the home). The register's
/// location of the person linked to the room (when the room's members see that entry:
/// consented, current) and the pin a member set; the pin wins when both exist: it was set
/// by the staff who go there, for this, and they can move it; the register's point is the
/// city's record for evacuation, which they cannot correct (docs/parking.md). Members of the
/// room only; every read is audited, as other reads of patient data.
#[utoipa::path(get, path = "/api/rooms/{id}/home", tag = "rooms",
    params(("id" = i64, Path, description = "Room id")),
    responses((status = 200, body = RoomHome),
              (status = 400, description = "Not a patient room", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_home(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoomHome>> {
    let room = patient_room(&state, &id, &user).await?;
    let register = state.db.register_home_of_room(room.id).await?;
    let pin = state.db.room_home_pin(room.id).await?;
    let (location, source) = match (&pin, register) {
        (Some(pin), _) => (Some(pin.location), Some(HomeSource::Pin)),
        (None, Some(at)) => (Some(at), Some(HomeSource::Register)),
        (None, None) => (None, None),
    };
    let entry = AuditEntry::new(AuditAction::RoomHomeRead, format!("room/{}", room.id))
        .by(user.id, user.municipality)
        .detail(format!(
            "source={}",
            source.map(|s| s.as_str()).unwrap_or("none")
        ));
    state.db.audit(entry).await?;
    Ok(Json(RoomHome {
        room: room.id,
        location,
        source,
        register,
        pin,
    }))
}

/// Sets (or moves) the staff pin on the patient's home. Members of the room only; audited.
#[utoipa::path(put, path = "/api/rooms/{id}/home", tag = "rooms",
    params(("id" = i64, Path, description = "Room id")),
    request_body = Location,
    responses((status = 200, body = RoomHome),
              (status = 400, description = "Not a patient room, archived, or not a place on Earth",
               body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_home(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(at): ApiJson<Location>,
) -> Result<Json<RoomHome>> {
    let room = patient_room(&state, &id, &user).await?;
    if room.archived {
        return Err(Error::BadRequest("the room is archived".into()));
    }
    if !(at.latitude.is_finite() && (-90.0..=90.0).contains(&at.latitude)) {
        return Err(Error::BadRequest(
            "latitude is not between -90 and 90".into(),
        ));
    }
    if !(at.longitude.is_finite() && (-180.0..=180.0).contains(&at.longitude)) {
        return Err(Error::BadRequest(
            "longitude is not between -180 and 180".into(),
        ));
    }
    let entry = AuditEntry::new(AuditAction::RoomHomePin, format!("room/{}", room.id))
        .by(user.id, user.municipality);
    state
        .db
        .set_room_home_pin(room.id, at, user.id, &entry)
        .await?;
    get_home(State(state), user, ApiPath(id)).await
}

/// Removes the staff pin (the register's location, if any, is used again). Members of the
/// room only; audited when there was a pin.
#[utoipa::path(delete, path = "/api/rooms/{id}/home", tag = "rooms",
    params(("id" = i64, Path, description = "Room id")),
    responses((status = 200, body = RoomHome),
              (status = 400, description = "Not a patient room, or archived", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "Not a member", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn clear_home(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoomHome>> {
    let room = patient_room(&state, &id, &user).await?;
    if room.archived {
        return Err(Error::BadRequest("the room is archived".into()));
    }
    let entry = AuditEntry::new(AuditAction::RoomHomeUnpin, format!("room/{}", room.id))
        .by(user.id, user.municipality);
    state.db.clear_room_home_pin(room.id, &entry).await?;
    get_home(State(state), user, ApiPath(id)).await
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
    auth::CurrentSession(session): auth::CurrentSession,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoomToken>> {
    let id = room_id(&id)?;
    require_member(&state, id, &session.user).await?;
    let (token, expires_at) = auth::issue_room_token(&state, &session, id).await?;
    Ok(Json(RoomToken { token, expires_at }))
}

/// Most people one message room starts with.
const MAX_MESSAGE_MEMBERS: usize = 50;
/// Longest room title, in characters.
const MAX_TITLE_CHARS: usize = 100;

/// Starts a 1:1 or 1:many message room with colleagues of the caller's municipality or of
/// one sharing a wide-area agreement with it.
#[utoipa::path(post, path = "/api/rooms/messages", tag = "rooms",
    request_body = NewMessageRoom,
    responses((status = 201, description = "Created", body = MessageRoomCreated),
              (status = 200, description = "The existing 1:1 room", body = MessageRoomCreated),
              (status = 400, description = "No members, too many, or someone who cannot be messaged", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_message_room(
    State(state): State<AppState>,
    user: CurrentUser,
    super::ApiJson(req): super::ApiJson<NewMessageRoom>,
) -> Result<(StatusCode, Json<MessageRoomCreated>)> {
    if let Some(title) = &req.title {
        crate::domain::text::optional_line(title, usize::MAX)
            .map_err(|problem| Error::BadRequest(format!("title {problem}")))?;
    }
    let mut others: Vec<UserId> = req.members.into_iter().filter(|u| *u != user.id).collect();
    others.sort();
    others.dedup();
    if others.is_empty() {
        return Err(Error::BadRequest(
            "宛先を 1 人以上選んでください (choose at least one colleague)".into(),
        ));
    }
    if others.len() > MAX_MESSAGE_MEMBERS {
        return Err(Error::BadRequest(format!(
            "宛先は {MAX_MESSAGE_MEMBERS} 人までです (at most {MAX_MESSAGE_MEMBERS} colleagues)"
        )));
    }
    // Only active professionals the tenancy rule lets into a room of the caller's
    // municipality (their own, or one sharing an agreement with it); one answer for "no such
    // account" and "not yours to message", so ids reveal nothing.
    let agreements = state.db.agreements_in_force().await?;
    let mut names = Vec::with_capacity(others.len());
    for id in &others {
        match state.db.user(*id).await? {
            Some(p)
                if !p.disabled
                    && tenancy::may_join(&user.municipality, &p.municipality, &agreements) =>
            {
                names.push(p.display_name)
            }
            _ => {
                return Err(Error::BadRequest(
                    "選んだ宛先にメッセージを送れません (a chosen colleague cannot be messaged)"
                        .into(),
                ))
            }
        }
    }
    let title: String = match req
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) if others.len() > 1 => t.chars().take(MAX_TITLE_CHARS).collect(),
        _ => std::iter::once(user.display_name.clone())
            .chain(names)
            .collect::<Vec<_>>()
            .join("、")
            .chars()
            .take(MAX_TITLE_CHARS)
            .collect(),
    };
    let outcome = state
        .db
        .create_message_room(user.municipality, user.id, &others, &title)
        .await?;
    let (id, created) = match outcome {
        MessageRoom::Created(id) => (id, true),
        MessageRoom::Existing(id) => (id, false),
    };
    if created {
        let entry = AuditEntry::new(AuditAction::RoomCreate, format!("room/{id}"))
            .by(user.id, user.municipality)
            .detail(format!("message, {} members", others.len() + 1));
        state.db.audit(entry).await?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MessageRoomCreated { id, created })))
}
