//! Who is asking: password sign-in, sessions (cookie or bearer), short-lived room tokens.

pub mod password;
pub mod throttle;
pub mod token;

use crate::db::now_ms;
use crate::db::users::{Profession, Role, UserProfile};
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use renraku_sync::{MunicipalityId, OrganizationId, RoomId, UserId};
use serde::Serialize;
use std::time::Duration;
use token::{looks_like_token, new_token, token_hash};

pub use password::{hash_password, verify_password};
pub use throttle::Throttle;

pub const SESSION_COOKIE: &str = "renraku_session";
/// Lifetime of a room token: long enough to open a socket (and for y-websocket to reconnect
/// after a blip), short enough that a token in a log or history is soon worthless.
pub const ROOM_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// `last_seen_at` is written at most this often per session, not on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The signed-in user of a request. As an extractor it answers 401 by itself.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CurrentUser {
    #[schema(value_type = i64)]
    pub id: UserId,
    #[schema(value_type = i64)]
    pub municipality: MunicipalityId,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub role: Role,
    #[schema(value_type = Option<i64>)]
    pub organization: Option<OrganizationId>,
    pub organization_name: Option<String>,
}

impl From<UserProfile> for CurrentUser {
    fn from(p: UserProfile) -> Self {
        Self {
            id: p.id,
            municipality: p.municipality,
            login_id: p.login_id,
            display_name: p.display_name,
            display_name_kana: p.display_name_kana,
            profession: p.profession,
            role: p.role,
            organization: p.organization,
            organization_name: p.organization_name,
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The session token of a request: `Authorization: Bearer …` (native and test clients) or
/// the session cookie (browsers).
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == SESSION_COOKIE).then(|| value.to_owned())
            })
    })
}

/// Starts a session for `user`; returns the token (shown to the client once, stored hashed).
pub async fn create_session(state: &AppState, user: UserId) -> Result<String> {
    let token = new_token();
    let now = now_ms();
    let expires_at = now.saturating_add(millis(state.config.session_absolute()));
    state
        .db
        .create_session(&token_hash(&token), user, now, expires_at)
        .await?;
    Ok(token)
}

pub async fn end_session(state: &AppState, token: &str) -> Result<()> {
    if looks_like_token(token) {
        state.db.delete_session(&token_hash(token)).await?;
    }
    Ok(())
}

/// Resolves a session token; unknown, ended or disabled → `Unauthorized`. For WebSocket
/// handlers that receive the token some other way than the extractor.
pub async fn authenticate_session(state: &AppState, token: &str) -> Result<CurrentUser> {
    if !looks_like_token(token) {
        return Err(Error::Unauthorized);
    }
    let hash = token_hash(token);
    let session = state.db.session(&hash).await?.ok_or(Error::Unauthorized)?;
    let now = now_ms();
    let idle_end = session
        .last_seen_at
        .saturating_add(millis(state.config.session_idle()));
    if now >= session.expires_at || now >= idle_end {
        state.db.delete_session(&hash).await?;
        return Err(Error::Unauthorized);
    }
    let user = state
        .db
        .user(session.user)
        .await?
        .ok_or(Error::Unauthorized)?;
    if user.disabled {
        return Err(Error::Unauthorized);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_MS {
        state.db.touch_session(&hash, now).await?;
    }
    Ok(user.into())
}

/// Issues a room token for a member of `room` (the caller checks membership).
pub async fn issue_room_token(
    state: &AppState,
    user: UserId,
    room: RoomId,
) -> Result<(String, i64)> {
    let token = new_token();
    let expires_at = now_ms().saturating_add(millis(ROOM_TOKEN_TTL));
    state
        .db
        .create_room_token(&token_hash(&token), room, user, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// Resolves a room token from `/yjs/{room}?token=…`. The token may be reused until it
/// expires (y-websocket reconnects with the same URL); membership and the account are
/// re-checked on every use, so removal from the room takes effect at once.
/// The caller must check that the returned room is the one in the path.
pub async fn authenticate_room_token(
    state: &AppState,
    token: &str,
) -> Result<(CurrentUser, RoomId)> {
    if !looks_like_token(token) {
        return Err(Error::Unauthorized);
    }
    let (room, user, expires_at) = state
        .db
        .room_token(&token_hash(token))
        .await?
        .ok_or(Error::Unauthorized)?;
    if now_ms() >= expires_at {
        return Err(Error::Unauthorized);
    }
    let user = state.db.user(user).await?.ok_or(Error::Unauthorized)?;
    if user.disabled {
        return Err(Error::Unauthorized);
    }
    if !state.db.is_member(room, user.id).await? {
        return Err(Error::Forbidden);
    }
    Ok((user.into(), room))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = session_token(&parts.headers).ok_or(Error::Unauthorized)?;
        authenticate_session(state, &token).await
    }
}

/// `Set-Cookie` value that stores the session in the browser.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let max_age = state.config.session_absolute().as_secs();
    let secure = if state.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    format!("{SESSION_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> String {
    let secure = if state.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    format!("{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
}
