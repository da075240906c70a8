//! Web push for the signed-in user: the server's VAPID public key, this browser's
//! subscription (tied to the session: signing out removes it), notification settings and
//! per-room mutes.

use super::ApiJson;
use super::ApiPath;
use crate::auth::{CurrentSession, CurrentUser};
use crate::db::push::{PushSettings, SubscriptionKeys};
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{Mute, NewSubscription, PushStatus, VapidKey};
use renraku_sync::RoomId;

#[utoipa::path(get, path = "/api/push/vapid-key", tag = "push",
    responses((status = 200, body = VapidKey),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn vapid_key(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<VapidKey>> {
    let vapid = crate::push::vapid::ensure(&state.db).await?;
    Ok(Json(VapidKey {
        public_key: vapid.public_key,
    }))
}

#[utoipa::path(get, path = "/api/push/settings", tag = "push",
    responses((status = 200, body = PushStatus),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
) -> Result<Json<PushStatus>> {
    Ok(Json(PushStatus {
        settings: state.db.push_settings(session.user.id).await?,
        subscribed: state.db.session_subscribed(session.id.as_str()).await?,
    }))
}

#[utoipa::path(post, path = "/api/push/settings", tag = "push",
    request_body = PushSettings,
    responses((status = 200, body = PushStatus),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    ApiJson(settings): ApiJson<PushSettings>,
) -> Result<Json<PushStatus>> {
    settings
        .validate()
        .map_err(|why| Error::BadRequest(why.into()))?;
    state
        .db
        .set_push_settings(session.user.id, &settings)
        .await?;
    get_settings(State(state), CurrentSession(session)).await
}

#[utoipa::path(post, path = "/api/push/rooms/{room}/mute", tag = "push",
    params(("room" = i64, Path)),
    request_body = Mute,
    responses((status = 204),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn mute_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<String>,
    ApiJson(mute): ApiJson<Mute>,
) -> Result<StatusCode> {
    let room: RoomId = room.parse().map_err(|_| Error::NotFound)?;
    if !state.db.is_member(room, user.id).await? {
        return Err(Error::Forbidden);
    }
    state.db.set_room_muted(user.id, room, mute.muted).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/push/subscription", tag = "push",
    request_body = NewSubscription,
    responses((status = 204),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn subscribe(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<NewSubscription>,
) -> Result<StatusCode> {
    let keys = SubscriptionKeys {
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
    };
    crate::push::check_subscription(&keys, state.config.push_allow_http)?;
    state
        .db
        .save_push_subscription(session.user.id, session.id.as_str(), &keys)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/push/subscription", tag = "push",
    responses((status = 204),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
) -> Result<StatusCode> {
    state
        .db
        .remove_session_subscriptions(session.id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
