//! Who is asking: password sign-in with an optional second factor, sessions (cookie or
//! bearer), short-lived room tokens, and the CSRF rule for cookie-authenticated mutations.

pub mod passkey;
pub mod password;
pub mod sealed;
pub mod second_factor;
pub mod session_end;
pub mod sweeper;
pub mod throttle;
pub mod token;

use crate::config::Config;
use crate::db::sessions::{NewRoomToken, NewSession, SessionId};
use crate::db::users::{Profession, Role, UserRow};
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, USER_AGENT};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use renraku_sync::{MunicipalityId, OrganizationId, RoomId, UserId};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use token::{looks_like_token, new_token, token_hash};

pub use password::{check_new_password, hash_password, verify_password};
pub use session_end::{end_other_sessions, end_session, revoke_session, session_state};
pub use throttle::Throttle;

/// The session cookie over HTTPS. The `__Host-` prefix makes browsers refuse it unless it is
/// Secure, has `Path=/` and no `Domain`: a sibling subdomain cannot plant or overwrite it.
pub const SESSION_COOKIE: &str = "__Host-renraku";
/// The session cookie with `--insecure-cookies` (plain-HTTP development), where a
/// `__Host-` cookie would be refused by the browser.
pub const INSECURE_SESSION_COOKIE: &str = "renraku_session";
/// Sent by our app on mutations: a cross-site HTML form cannot set a custom header, and a
/// cross-site `fetch` that sets one needs a CORS preflight we never grant.
pub const CSRF_HEADER: &str = "x-renraku-csrf";
/// Lifetime of a room token: long enough to open a socket (and for y-websocket to reconnect
/// after a blip), short enough that a token in a log or history is soon worthless.
pub const ROOM_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// A session that may only enrol a second factor ends this soon: enough to scan a QR code,
/// not a way around the municipality's policy.
pub const ENROLMENT_SESSION_TTL: Duration = Duration::from_secs(15 * 60);
/// `last_seen_at` is written at most this often per session, not on every request.
pub(crate) const TOUCH_EVERY_MS: i64 = 60_000;
/// User-Agent strings are cut to this many characters before they are stored.
const MAX_USER_AGENT: usize = 200;

/// The signed-in user of a request. As an extractor it answers 401 by itself; the API shows
/// it as [`renraku_contract::CurrentUser`].
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: UserId,
    pub municipality: MunicipalityId,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub role: Role,
    pub organization: Option<OrganizationId>,
    pub organization_name: Option<String>,
}

impl From<CurrentUser> for renraku_contract::CurrentUser {
    fn from(u: CurrentUser) -> Self {
        Self {
            id: u.id,
            municipality: u.municipality,
            login_id: u.login_id,
            display_name: u.display_name,
            display_name_kana: u.display_name_kana,
            profession: u.profession,
            role: u.role,
            organization: u.organization,
            organization_name: u.organization_name,
        }
    }
}

impl CurrentUser {
    /// An audit entry for something this user did to their own account or session.
    pub fn audit(&self, action: crate::domain::audit::AuditAction) -> crate::db::audit::AuditEntry {
        crate::db::audit::AuditEntry::new(action, self.login_id.clone())
            .by(self.id, self.municipality)
    }
}

impl From<UserRow> for CurrentUser {
    fn from(p: UserRow) -> Self {
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

/// The session cookie's name under this configuration.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.insecure_cookies {
        INSECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// How a request presents its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Bearer …` (native and test clients): never sent by a browser on its
    /// own, so exempt from the CSRF rule.
    Bearer,
    /// The session cookie (browsers), which a browser attaches to cross-site requests too.
    Cookie,
}

/// The session token of a request and how it came: the bearer header wins over the cookie.
pub fn presented_token(config: &Config, headers: &HeaderMap) -> Option<(String, Presented)> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| (t.trim().to_owned(), Presented::Bearer));
    let name = session_cookie_name(config);
    bearer.or_else(|| {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then(|| (value.to_owned(), Presented::Cookie))
            })
    })
}

/// The session token of a request, however presented.
pub fn session_token(config: &Config, headers: &HeaderMap) -> Option<String> {
    presented_token(config, headers).map(|(token, _)| token)
}

/// CSRF rule for a mutation authenticated by the cookie: it must carry our custom header, or
/// an `Origin` that is this server (its Host, or the configured public URL). Browsers send
/// `Origin` on every cross-origin and same-origin POST/PUT/PATCH/DELETE, so a missing one
/// means an old browser or a non-browser client, which can use the header or a bearer token.
pub fn csrf_allows(config: &Config, headers: &HeaderMap, authority: Option<&str>) -> bool {
    if headers
        .get(CSRF_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
    {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if let Some(public) = config.public_url.as_deref().and_then(origin_of) {
        if origin == public {
            return true;
        }
    }
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority)
        .map(str::to_ascii_lowercase);
    match (origin.split_once("://"), host) {
        (Some((scheme, rest)), Some(host)) => {
            matches!(scheme, "http" | "https") && !host.is_empty() && rest == host
        }
        _ => false,
    }
}

/// `scheme://authority` of a URL, lower-cased, as browsers write `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// A new session's token (shown to the client once, stored hashed), public id and lifetime.
pub struct NewSessionToken {
    pub token: String,
    pub id: SessionId,
    pub max_age: Duration,
}

/// Starts a session for `user`. `enrolment_only` sessions (policy requires a second factor
/// the user has not set up) get a short life; what they may do is decided per request.
pub async fn create_session(
    state: &AppState,
    user: UserId,
    user_agent: &str,
    enrolment_only: bool,
) -> Result<NewSessionToken> {
    let token = new_token();
    let id = SessionId::generate();
    let mut max_age = state.config.session_absolute();
    if enrolment_only {
        max_age = max_age.min(ENROLMENT_SESSION_TTL);
    }
    let now = state.clock.now_ms();
    let user_agent: String = user_agent.chars().take(MAX_USER_AGENT).collect();
    state
        .db
        .create_session(&NewSession {
            id_hash: &token_hash(&token),
            id: &id,
            user,
            now,
            expires_at: now.saturating_add(millis(max_age)),
            user_agent: &user_agent,
        })
        .await?;
    Ok(NewSessionToken { token, id, max_age })
}

/// A live session and its user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: CurrentUser,
    pub id: SessionId,
    /// The municipality requires a second factor the user has not set up: the session may
    /// only enrol one (and sign out).
    pub enrolment_required: bool,
    /// An administrator reset the password: the session may only change it (and sign out).
    pub password_change_required: bool,
}

/// Resolves a session token, restricted sessions included; unknown, ended or disabled →
/// `Unauthorized`.
pub async fn resolve_session(state: &AppState, token: &str) -> Result<Session> {
    if !looks_like_token(token) {
        return Err(Error::Unauthorized);
    }
    let hash = token_hash(token);
    let session = state.db.session(&hash).await?.ok_or(Error::Unauthorized)?;
    let now = state.clock.now_ms();
    let times = crate::db::sessions::SessionTimes {
        id: session.id.clone(),
        last_seen_at: session.last_seen_at,
        expires_at: session.expires_at,
    };
    if let Some(why) = session_end::ended_by_time(state, &times, now) {
        end_session(state, &session.id, why).await?;
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
        // Waited for (the next request reads it), but never fails this one: the session
        // was found live.
        let touch = session_end::touch(state, &session.id);
        if let Err(e) = state.hub.touch_session(touch).await {
            tracing::warn!(error = %e, "recording session activity failed");
        }
    }
    let password_change_required = user.must_change_password;
    Ok(Session {
        password_change_required,
        user: user.into(),
        id: session.id,
        enrolment_required: session.second_factor_required && !session.has_second_factor,
    })
}

/// Issues a room token for a member of `room` (the caller checks membership), bound to the
/// session asking: it dies with that session, and so does any socket opened with it.
pub async fn issue_room_token(
    state: &AppState,
    session: &Session,
    room: RoomId,
) -> Result<(String, i64)> {
    let token = new_token();
    let expires_at = state.clock.now_ms().saturating_add(millis(ROOM_TOKEN_TTL));
    state
        .db
        .create_room_token(&NewRoomToken {
            token_hash: &token_hash(&token),
            room,
            user: session.user.id,
            session: &session.id,
            expires_at,
        })
        .await?;
    Ok((token, expires_at))
}

/// Resolves a room token from `/yjs/{room}?token=…`. The token may be reused until it
/// expires (y-websocket reconnects with the same URL); membership and the account are
/// re-checked on every use, so removal from the room takes effect at once, and so is the
/// session that minted it: a token dies with its session. Returns the user, the token's
/// room (the caller must check that it is the one in the path) and the session.
pub async fn authenticate_room_token(
    state: &AppState,
    token: &str,
) -> Result<(CurrentUser, RoomId, SessionId)> {
    if !looks_like_token(token) {
        return Err(Error::Unauthorized);
    }
    let found = state
        .db
        .room_token(&token_hash(token))
        .await?
        .ok_or(Error::Unauthorized)?;
    let now = state.clock.now_ms();
    if now >= found.expires_at {
        return Err(Error::Unauthorized);
    }
    if let Some(why) = session_end::ended_by_time(state, &found.session, now) {
        end_session(state, &found.session.id, why).await?;
        return Err(Error::Unauthorized);
    }
    let (room, session) = (found.room, found.session.id);
    // Both at once: opening a room waits on this.
    let (user, member) = tokio::join!(
        state.db.user(found.user),
        state.db.is_member(room, found.user)
    );
    let user = user?.ok_or(Error::Unauthorized)?;
    if user.disabled {
        return Err(Error::Unauthorized);
    }
    if !member? {
        return Err(Error::Forbidden);
    }
    Ok((user.into(), room, session))
}

/// Any live session, including one that may only enrol a second factor. Only the
/// enrolment endpoints (and sign-out) take this; everything else takes [`CurrentSession`]
/// or [`CurrentUser`].
pub struct AnySession(pub Session);

/// A live session with full rights.
pub struct CurrentSession(pub Session);

/// A live session that may change its password: full rights, or a session whose password an
/// administrator reset (which may do nothing else).
pub struct PasswordSession(pub Session);

impl FromRequestParts<AppState> for PasswordSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AnySession(session) = AnySession::from_request_parts(parts, state).await?;
        if session.enrolment_required {
            return Err(Error::EnrolmentRequired);
        }
        Ok(PasswordSession(session))
    }
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = session_token(&state.config, &parts.headers).ok_or(Error::Unauthorized)?;
        Ok(AnySession(resolve_session(state, &token).await?))
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AnySession(session) = AnySession::from_request_parts(parts, state).await?;
        if session.enrolment_required {
            return Err(Error::EnrolmentRequired);
        }
        if session.password_change_required {
            return Err(Error::PasswordChangeRequired);
        }
        Ok(CurrentSession(session))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let CurrentSession(session) = CurrentSession::from_request_parts(parts, state).await?;
        Ok(session.user)
    }
}

/// The client's address, for throttling: the TCP peer, or with `--trust-proxy` the last
/// `X-Forwarded-For` entry (the one our own proxy appended; earlier ones are the client's
/// word). Unknown (no connect info, as in router-level tests) counts as one address.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if state.config.trust_proxy {
            // Only the very last entry: if it does not parse, an earlier (client-written)
            // one must not stand in for it.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|a| a.trim().parse::<IpAddr>().ok());
            if let Some(addr) = forwarded {
                return Ok(ClientAddr(addr));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(
            peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The request's User-Agent, for telling sessions apart in the list.
pub fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn cookie_attributes(config: &Config) -> &'static str {
    if config.insecure_cookies {
        "Path=/; HttpOnly; SameSite=Lax"
    } else {
        "Path=/; HttpOnly; SameSite=Lax; Secure"
    }
}

/// `Set-Cookie` value that stores the session in the browser (no `Domain`: host-only).
pub fn session_cookie(state: &AppState, token: &str, max_age: Duration) -> String {
    let name = session_cookie_name(&state.config);
    let max_age = max_age.as_secs();
    let attributes = cookie_attributes(&state.config);
    format!("{name}={token}; Max-Age={max_age}; {attributes}")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> String {
    let name = session_cookie_name(&state.config);
    let attributes = cookie_attributes(&state.config);
    format!("{name}=; Max-Age=0; {attributes}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_name_follows_the_secure_setting() {
        let mut config = Config::with_data_dir("/tmp/x");
        let token = "0123456789abcdef0123456789abcdef";
        let secure = headers(&[("cookie", &format!("a=b; __Host-renraku={token}"))]);
        assert_eq!(
            presented_token(&config, &secure),
            Some((token.to_owned(), Presented::Cookie))
        );
        // A cookie a subdomain could plant is not read when cookies are Secure.
        let plain = headers(&[("cookie", &format!("renraku_session={token}"))]);
        assert_eq!(presented_token(&config, &plain), None);
        config.insecure_cookies = true;
        assert_eq!(session_token(&config, &plain).as_deref(), Some(token));
        let both = headers(&[
            ("cookie", &format!("renraku_session={token}")),
            ("authorization", "Bearer abc"),
        ]);
        assert_eq!(
            presented_token(&config, &both),
            Some(("abc".to_owned(), Presented::Bearer))
        );
    }

    #[test]
    fn csrf_needs_our_header_or_our_origin() {
        let mut config = Config::with_data_dir("/tmp/x");
        let host = ("host", "renraku.example:8080");
        assert!(!csrf_allows(&config, &headers(&[host]), None));
        assert!(csrf_allows(
            &config,
            &headers(&[host, ("x-renraku-csrf", "1")]),
            None
        ));
        assert!(!csrf_allows(
            &config,
            &headers(&[host, ("x-renraku-csrf", "0")]),
            None
        ));
        let same = ("origin", "https://renraku.example:8080");
        assert!(csrf_allows(&config, &headers(&[host, same]), None));
        for other in ["https://evil.example", "null", "https://renraku.example"] {
            assert!(
                !csrf_allows(&config, &headers(&[host, ("origin", other)]), None),
                "{other}"
            );
        }
        // Behind a proxy that rewrites Host, the public URL is the origin.
        config.public_url = Some("https://Renraku.City.JP/".into());
        let proxied = [
            ("host", "127.0.0.1:8080"),
            ("origin", "https://renraku.city.jp"),
        ];
        assert!(csrf_allows(&config, &headers(&proxied), None));
        // HTTP/2 has no Host header; the URI's authority stands in.
        let h2 = [("origin", "https://a.example")];
        assert!(csrf_allows(&config, &headers(&h2), Some("a.example")));
    }
}
