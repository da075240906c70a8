//! The HTTP API against the real server: sign-in, sessions, rooms, room tokens, headers,
//! OpenAPI. Runs on SQLite and PostgreSQL.

use renraku_contract::{Profession, RoomKind};
use renraku_server::demo::DEMO_PASSWORD;
use renraku_sync::RoomId;
use renraku_tests::api::Api;
use renraku_tests::helpers::{get, user_id};
use renraku_tests::{signin_request, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

async fn signin_raw(
    server: &TestServer,
    slug: &str,
    login: &str,
    password: &str,
) -> reqwest::Response {
    let body = json!({ "login_id": login, "password": password });
    signin_request(&server.base_url(), slug, &body)
        .await
        .unwrap()
}

/// Rooms `login` belongs to, from the database.
async fn rooms_of(server: &TestServer, login: &str) -> Vec<i64> {
    let user = user_id(server.db(), login).await;
    let mut ids: Vec<i64> = sqlx::query("SELECT room_id FROM room_members WHERE user_id = $1")
        .bind(user.get())
        .fetch_all(server.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("room_id"))
        .collect();
    ids.sort();
    ids
}

/// A room `login` is not a member of.
async fn foreign_room(server: &TestServer, login: &str) -> RoomId {
    let mine = rooms_of(server, login).await;
    let all: Vec<i64> = sqlx::query("SELECT id FROM rooms ORDER BY id")
        .fetch_all(server.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    let id = all
        .into_iter()
        .find(|id| !mine.contains(id))
        .expect("a room without them");
    RoomId::new(id)
}

test_both_dbs!(healthz_answers_ok_with_security_headers);
async fn healthz_answers_ok_with_security_headers() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
}

test_both_dbs!(signin_sets_an_httponly_cookie_and_returns_the_user);
async fn signin_sets_an_httponly_cookie_and_returns_the_user() {
    let server = TestServer::start().await;
    let response = signin_raw(&server, "demo", "nurse1", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("renraku_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["login_id"], "nurse1");
    assert_eq!(body["user"]["profession"], "nurse");
    assert_eq!(body["user"]["display_name"], "佐藤 花子");
    assert_eq!(body["municipality"]["slug"], "demo");
    assert!(body["user"].get("password_hash").is_none());
    let token = body["session_token"].as_str().unwrap();
    assert!(cookie.contains(token));

    let me: Value = get(&server, token, "/api/me").await.json().await.unwrap();
    assert_eq!(me["user"]["login_id"], "nurse1");
    assert_eq!(me["municipality"]["name"], "デモ市");
    assert_eq!(server.audit_count("signin.ok").await, 1);
}

test_both_dbs!(the_session_cookie_alone_authenticates_a_browser);
async fn the_session_cookie_alone_authenticates_a_browser() {
    let server = TestServer::start().await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = browser
        .post(server.url("/api/demo/signin"))
        .json(&json!({ "login_id": "doctor1", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me = browser.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // A cookie-authenticated mutation shows it comes from our pages (CSRF defence).
    let response = browser
        .post(server.url("/api/signout"))
        .header("x-renraku-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = browser.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

test_both_dbs!(wrong_password_and_unknown_user_get_the_same_401);
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let server = TestServer::start().await;
    let wrong = signin_raw(&server, "demo", "nurse1", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let wrong: Value = wrong.json().await.unwrap();
    let unknown = signin_raw(&server, "demo", "nobody", DEMO_PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "bad_credentials");
    assert_eq!(server.audit_count("signin.failed").await, 2);
}

test_both_dbs!(unknown_municipality_is_404);
async fn unknown_municipality_is_404() {
    let server = TestServer::start().await;
    let response = signin_raw(&server, "atlantis", "nurse1", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");

    let public = reqwest::get(server.url("/api/municipalities/demo"))
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.json::<Value>().await.unwrap()["name"], "デモ市");
    let missing = reqwest::get(server.url("/api/municipalities/atlantis"))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

test_both_dbs!(malformed_signin_bodies_are_json_400s);
async fn malformed_signin_bodies_are_json_400s() {
    let server = TestServer::start().await;
    let response = reqwest::Client::new()
        .post(server.url("/api/demo/signin"))
        .json(&json!({ "login": "nurse1" }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
}

test_both_dbs!(repeated_failures_are_throttled_even_with_the_right_password);
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let server = TestServer::start().await;
    for _ in 0..10 {
        let r = signin_raw(&server, "demo", "helper1", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = signin_raw(&server, "demo", "helper1", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Other accounts are unaffected.
    let r = signin_raw(&server, "demo", "nurse1", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

test_both_dbs!(signout_invalidates_the_token);
async fn signout_invalidates_the_token() {
    let server = TestServer::start().await;
    let token = server.signin("nurse1").await;
    assert_eq!(
        get(&server, &token, "/api/me").await.status(),
        StatusCode::OK
    );
    let response = server
        .client(&token)
        .post(server.url("/api/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        get(&server, &token, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

test_both_dbs!(requests_without_a_valid_session_are_401);
async fn requests_without_a_valid_session_are_401() {
    let server = TestServer::start().await;
    let anonymous = reqwest::get(server.url("/api/rooms")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    for token in ["garbage", "0123456789abcdef0123456789abcdef"] {
        assert_eq!(
            get(&server, token, "/api/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

test_both_dbs!(an_idle_or_expired_session_is_401);
async fn an_idle_or_expired_session_is_401() {
    let server = TestServer::start().await;
    let pool = server.db().pool();

    let idle = server.signin("nurse1").await;
    // 31 minutes without a request (the idle limit is 30).
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - $1")
        .bind(31 * 60_000_i64)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        get(&server, &idle, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let expired = server.signin("nurse2").await;
    // Past the absolute end, however recently used.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(renraku_server::db::now_ms() - 1)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        get(&server, &expired, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Ended sessions are removed, not just refused.
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0);
}

test_both_dbs!(the_idle_limit_comes_from_the_configuration);
async fn the_idle_limit_comes_from_the_configuration() {
    let server = TestServer::start_with(|c| c.session_idle_minutes = 0).await;
    let token = server.signin("nurse1").await;
    assert_eq!(
        get(&server, &token, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

test_both_dbs!(a_disabled_account_loses_its_sessions_at_once);
async fn a_disabled_account_loses_its_sessions_at_once() {
    let server = TestServer::start().await;
    let token = server.signin("helper1").await;
    let user = user_id(server.db(), "helper1").await;
    server.db().set_user_disabled(user, true).await.unwrap();
    assert_eq!(
        get(&server, &token, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = signin_raw(&server, "demo", "helper1", DEMO_PASSWORD).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

test_both_dbs!(my_rooms_are_exactly_the_rooms_i_belong_to);
async fn my_rooms_are_exactly_the_rooms_i_belong_to() {
    let server = TestServer::start().await;
    for login in ["nurse1", "helper1", "city1"] {
        let api = Api::new(&server.base_url(), &server.signin(login).await);
        let rooms = api.rooms().await.unwrap();
        let mut ids: Vec<i64> = rooms.iter().map(|r| r.id.get()).collect();
        ids.sort();
        assert_eq!(ids, rooms_of(&server, login).await, "{login}");
        assert!(!ids.is_empty());
    }
    let api = Api::new(&server.base_url(), &server.signin("nurse1").await);
    let rooms = api.rooms().await.unwrap();
    // Patient rooms come first and carry the patient's header.
    assert_eq!(rooms[0].kind, RoomKind::Patient);
    assert!(rooms[0].patient.is_some());
    assert!(rooms[0].member_count >= 2);
    assert!(rooms.iter().any(|r| r.kind == RoomKind::Project));
    assert!(rooms
        .iter()
        .any(|r| r.kind == RoomKind::Message && r.patient.is_none()));
}

test_both_dbs!(a_room_shows_its_members_and_patient_and_audits_the_read);
async fn a_room_shows_its_members_and_patient_and_audits_the_read() {
    let server = TestServer::start().await;
    let api = Api::new(&server.base_url(), &server.signin("nurse1").await);
    let rooms = api.rooms().await.unwrap();
    let patient_room = rooms.iter().find(|r| r.kind == RoomKind::Patient).unwrap();

    let detail = api.room(patient_room.id).await.unwrap();
    assert_eq!(detail.id, patient_room.id);
    // The patient header: birth date and care level (typed: present as strings).
    assert!(detail.patient.is_some());
    let members = &detail.members;
    assert!(members.iter().any(|m| m.profession == Profession::Nurse));
    assert!(members.iter().any(|m| m.organization_name.is_some()));
    assert_eq!(server.audit_count("patient_room.read").await, 1);

    // Project and message rooms hold no patient data, so reading them is not audited.
    let project = rooms.iter().find(|r| r.kind == RoomKind::Project).unwrap();
    let detail = api.room(project.id).await.unwrap();
    assert!(detail.patient.is_none());
    assert_eq!(server.audit_count("patient_room.read").await, 1);
}

test_both_dbs!(a_foreign_room_is_403_and_a_missing_one_too);
async fn a_foreign_room_is_403_and_a_missing_one_too() {
    let server = TestServer::start().await;
    let token = server.signin("helper1").await;
    let foreign = foreign_room(&server, "helper1").await;
    let response = get(&server, &token, &format!("/api/rooms/{foreign}")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "forbidden"
    );
    // Ids reveal nothing: a room that does not exist answers the same.
    let response = get(&server, &token, "/api/rooms/999999").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = get(&server, &token, "/api/rooms/not-a-number").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

test_both_dbs!(room_tokens_are_issued_to_members_only);
async fn room_tokens_are_issued_to_members_only() {
    let server = TestServer::start().await;
    let token = server.signin("nurse1").await;
    let mine = RoomId::new(rooms_of(&server, "nurse1").await[0]);
    let response = server
        .client(&token)
        .post(server.url(&format!("/api/rooms/{mine}/token")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let room_token = body["token"].as_str().unwrap();
    assert_eq!(room_token.len(), 32);
    let ttl = body["expires_at"].as_i64().unwrap() - renraku_server::db::now_ms();
    assert!((240_000..=300_000).contains(&ttl), "{ttl}");

    // The token resolves to the member and the room, and is not a session.
    let (user, room, _) = renraku_server::auth::authenticate_room_token(server.state(), room_token)
        .await
        .unwrap();
    assert_eq!((user.login_id.as_str(), room), ("nurse1", mine));
    assert_eq!(
        get(&server, room_token, "/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let foreign = foreign_room(&server, "nurse1").await;
    let response = server
        .client(&token)
        .post(server.url(&format!("/api/rooms/{foreign}/token")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new()
        .post(server.url(&format!("/api/rooms/{mine}/token")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

test_both_dbs!(a_room_token_stops_working_when_it_expires_or_the_member_leaves);
async fn a_room_token_stops_working_when_it_expires_or_the_member_leaves() {
    let server = TestServer::start().await;
    let session = server.signin("nurse1").await;
    let room = RoomId::new(rooms_of(&server, "nurse1").await[0]);
    let state = server.state();

    let expiring = server.room_token(&session, room).await.unwrap();
    sqlx::query("UPDATE room_tokens SET expires_at = $1")
        .bind(renraku_server::db::now_ms() - 1)
        .execute(server.db().pool())
        .await
        .unwrap();
    let err = renraku_server::auth::authenticate_room_token(state, &expiring)
        .await
        .unwrap_err();
    assert!(
        matches!(err, renraku_server::Error::Unauthorized),
        "{err:?}"
    );

    let token = server.room_token(&session, room).await.unwrap();
    let user = user_id(server.db(), "nurse1").await;
    sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
        .bind(room.get())
        .bind(user.get())
        .execute(server.db().pool())
        .await
        .unwrap();
    let err = renraku_server::auth::authenticate_room_token(state, &token)
        .await
        .unwrap_err();
    assert!(matches!(err, renraku_server::Error::Forbidden), "{err:?}");
}

test_both_dbs!(openapi_document_lists_the_api);
async fn openapi_document_lists_the_api() {
    let server = TestServer::start().await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/api/{municipality}/signin",
        "/api/signout",
        "/api/me",
        "/api/municipalities/{slug}",
        "/api/rooms",
        "/api/rooms/{id}",
        "/api/rooms/{id}/token",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(doc["components"]["schemas"]["SigninRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
}
