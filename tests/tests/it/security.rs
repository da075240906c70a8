//! Issue 8, first slice, against the real server: TOTP second factor and recovery codes, the
//! municipality's second-factor policy, sessions (listing, revocation, cookie), CSRF,
//! throttling, security headers, security.txt, and "every route refuses anonymous callers"
//! enumerated from the OpenAPI document. Runs on SQLite and PostgreSQL.

use renraku_server::auth::second_factor::{code_at, current_step};
use renraku_server::demo::DEMO_PASSWORD;
use renraku_sync::MunicipalityId;
use renraku_tests::helpers::error_code;
use renraku_tests::{signin_request, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeSet;

/// The only routes that answer without a session.
const PUBLIC: [(&str, &str); 8] = [
    ("get", "/healthz"),
    ("get", "/api/openapi.json"),
    ("get", "/api/municipalities/{slug}"),
    ("post", "/api/{municipality}/signin"),
    // Passkey sign-in: the password first, then the assertion (tests/tests/passkeys.rs).
    ("post", "/api/{municipality}/signin/passkey"),
    ("post", "/api/{municipality}/signin/passkey/finish"),
    ("get", "/.well-known/security.txt"),
    ("get", "/.well-known/security-policy"),
];

async fn signin(server: &TestServer, body: Value) -> reqwest::Response {
    signin_request(&server.base_url(), "demo", &body)
        .await
        .unwrap()
}

fn password_only(login: &str) -> Value {
    json!({ "login_id": login, "password": DEMO_PASSWORD })
}

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap().to_owned();
    renraku_tests::logs::record_secret(&token);
    token
}

async fn demo_municipality(server: &TestServer) -> MunicipalityId {
    let m = server.db().municipality_by_slug("demo").await.unwrap();
    m.expect("demo municipality").id
}

/// Sets up TOTP for the holder of `token`; returns the secret, the step its confirming code
/// was for (already used), and the recovery codes.
async fn enrol(server: &TestServer, token: &str) -> (String, i64, Vec<String>) {
    let client = server.client(token);
    let setup = client
        .post(server.url("/api/me/totp/setup"))
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::OK);
    let setup: Value = setup.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Renraku:") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );

    let wrong = client
        .post(server.url("/api/me/totp/confirm"))
        .json(&json!({ "code": "000000" }))
        .send()
        .await
        .unwrap();
    // 000000 is right once in a million; then this test would fail, loudly.
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(wrong).await, "invalid_code");

    let step = current_step();
    let confirm = client
        .post(server.url("/api/me/totp/confirm"))
        .json(&json!({ "code": code_at(&secret, step).unwrap() }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let codes: Value = confirm.json().await.unwrap();
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    renraku_tests::logs::record_secret(&secret);
    for code in &codes {
        renraku_tests::logs::record_secret(code);
    }
    (secret, step, codes)
}

test_both_dbs!(password_alone_is_refused_once_totp_is_on_and_a_code_works_once);
async fn password_alone_is_refused_once_totp_is_on_and_a_code_works_once() {
    let server = TestServer::start().await;
    let first = server.signin("nurse1").await;
    let (secret, step, _codes) = enrol(&server, &first).await;
    // A second setup while enabled is a conflict (remove the factor first).
    let again = server
        .client(&first)
        .post(server.url("/api/me/totp/setup"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let refused = signin(&server, password_only("nurse1")).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "second_factor_required");
    assert!(body.get("session_token").is_none());

    // A wrong password with a right code is still a wrong password.
    let next = code_at(&secret, step + 1).unwrap();
    let wrong_password = signin(
        &server,
        json!({ "login_id": "nurse1", "password": "not-the-password", "totp": next }),
    )
    .await;
    assert_eq!(error_code(wrong_password).await, "bad_credentials");

    // The code that confirmed enrolment was used up: replaying it within its window fails.
    let used = code_at(&secret, step).unwrap();
    let replay = signin(
        &server,
        json!({ "login_id": "nurse1", "password": DEMO_PASSWORD, "totp": used }),
    )
    .await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(replay).await, "bad_second_factor");

    // The next step's code is within the ±1 window and works, once.
    let with_code = json!({ "login_id": "nurse1", "password": DEMO_PASSWORD, "totp": next });
    let token = token_of(signin(&server, with_code.clone()).await).await;
    let me = server
        .client(&token)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let replay = signin(&server, with_code).await;
    assert_eq!(error_code(replay).await, "bad_second_factor");

    let garbage = signin(
        &server,
        json!({ "login_id": "nurse1", "password": DEMO_PASSWORD, "totp": "12345x" }),
    )
    .await;
    assert_eq!(error_code(garbage).await, "bad_second_factor");
    assert_eq!(server.audit_count("totp.enabled").await, 1);
    assert_eq!(server.audit_count("signin.second_factor_failed").await, 3);
}

test_both_dbs!(a_recovery_code_works_once_and_can_remove_the_second_factor);
async fn a_recovery_code_works_once_and_can_remove_the_second_factor() {
    let server = TestServer::start().await;
    let first = server.signin("doctor1").await;
    let (_secret, _step, codes) = enrol(&server, &first).await;

    // Typed sloppily: upper case, spaces for dashes.
    let sloppy = codes[0].to_uppercase().replace('-', " ");
    let with_recovery =
        json!({ "login_id": "doctor1", "password": DEMO_PASSWORD, "recovery_code": sloppy });
    let token = token_of(signin(&server, with_recovery.clone()).await).await;
    let again = signin(&server, with_recovery).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(again).await, "bad_second_factor");
    assert_eq!(server.audit_count("signin.recovery_code_used").await, 1);

    // Removing the factor needs a code; a wrong one is refused.
    let client = server.client(&token);
    let wrong = client
        .delete(server.url("/api/me/totp"))
        .json(&json!({ "code": "000000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let used = client
        .delete(server.url("/api/me/totp"))
        .json(&json!({ "recovery_code": codes[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), StatusCode::BAD_REQUEST);
    let removed = client
        .delete(server.url("/api/me/totp"))
        .json(&json!({ "recovery_code": codes[1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    // Password alone works again, and the remaining codes are gone with the factor.
    token_of(signin(&server, password_only("doctor1")).await).await;
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes")
        .fetch_one(server.db().pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0);
}

test_both_dbs!(enabling_totp_ends_the_other_sessions);
async fn enabling_totp_ends_the_other_sessions() {
    let server = TestServer::start().await;
    let other = server.signin("nurse2").await;
    let this = server.signin("nurse2").await;
    enrol(&server, &this).await;
    let me = |token: String| {
        let client = server.client(&token);
        let url = server.url("/api/me");
        async move { client.get(url).send().await.unwrap().status() }
    };
    assert_eq!(me(this.clone()).await, StatusCode::OK);
    assert_eq!(me(other).await, StatusCode::UNAUTHORIZED);
}

test_both_dbs!(where_the_policy_requires_a_second_factor_a_new_user_can_only_enrol);
async fn where_the_policy_requires_a_second_factor_a_new_user_can_only_enrol() {
    let server = TestServer::start().await;
    let demo = demo_municipality(&server).await;
    // The demo municipality does not require one by default (the other suites rely on it).
    let public: Value = reqwest::get(server.url("/api/municipalities/demo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["require_second_factor"], false);
    server
        .db()
        .set_require_second_factor(demo, true)
        .await
        .unwrap();

    let response = signin(&server, password_only("nurse1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["enrolment_required"], true);
    assert_eq!(body["municipality"]["require_second_factor"], true);
    let token = body["session_token"].as_str().unwrap().to_owned();
    let client = server.client(&token);

    for (method, path) in [
        (Method::GET, "/api/me"),
        (Method::GET, "/api/rooms"),
        (Method::GET, "/api/me/sessions"),
        (Method::POST, "/api/rooms/1/token"),
        (Method::POST, "/api/me/password"),
        (Method::DELETE, "/api/me/totp"),
    ] {
        let response = client
            .request(method.clone(), server.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(error_code(response).await, "enrolment_required");
    }
    // Nor can it open the sync socket.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }

    // Enrolment is allowed, and once confirmed the same session has full rights.
    enrol(&server, &token).await;
    let me = client.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let refused = signin(&server, password_only("nurse1")).await;
    assert_eq!(error_code(refused).await, "second_factor_required");

    // A restricted session can sign out.
    let restricted = token_of(signin(&server, password_only("helper1")).await).await;
    let out = server
        .client(&restricted)
        .post(server.url("/api/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.audit_count("signin.enrolment_only").await, 2);
}

test_both_dbs!(turning_the_policy_on_restricts_existing_sessions_at_once);
async fn turning_the_policy_on_restricts_existing_sessions_at_once() {
    let server = TestServer::start().await;
    let token = server.signin("city1").await;
    let demo = demo_municipality(&server).await;
    server
        .db()
        .set_require_second_factor(demo, true)
        .await
        .unwrap();
    let me = server
        .client(&token)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(me).await, "enrolment_required");
}

test_both_dbs!(every_route_but_the_public_ones_refuses_anonymous_callers);
async fn every_route_but_the_public_ones_refuses_anonymous_callers() {
    let server = TestServer::start().await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public: BTreeSet<(String, String)> = PUBLIC
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let anonymous = reqwest::Client::new();
    let mut documented_public = BTreeSet::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let key = (method.clone(), path.clone());
            if public.contains(&key) {
                documented_public.insert(key);
                assert!(
                    operation.get("security").is_none(),
                    "{method} {path} is public but declares security"
                );
                continue;
            }
            assert!(
                operation["security"].is_array(),
                "{method} {path} declares no security"
            );
            // Any value will do for path parameters: authentication comes first.
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method: Method = method.to_uppercase().parse().unwrap();
            let mut request = anonymous.request(method.clone(), server.url(&concrete));
            if method != Method::GET {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {concrete}"
            );
            assert_eq!(
                error_code(response).await,
                "unauthorized",
                "{method} {path}"
            );
            checked += 1;
        }
    }
    assert_eq!(
        documented_public, public,
        "public routes missing from the document"
    );
    // The API as of this slice; more routes only add to this.
    assert!(checked >= 10, "only {checked} protected routes documented");

    // The sync socket is not in the document; it refuses anonymous handshakes too.
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("expected 401, got {:?}", other.map(|(_, r)| r.status())),
    }
}

test_both_dbs!(cookie_mutations_need_our_origin_or_the_csrf_header);
async fn cookie_mutations_need_our_origin_or_the_csrf_header() {
    let server = TestServer::start().await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = browser
        .post(server.url("/api/demo/signin"))
        .json(&password_only("nurse1"))
        .send()
        .await
        .unwrap();
    let bearer = token_of(response).await;
    let rooms: Vec<Value> = browser
        .get(server.url("/api/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/api/rooms/{}/token", rooms[0]["id"]);

    let bare = browser.post(server.url(&path)).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(bare).await, "csrf_rejected");
    for origin in ["https://evil.example", "null"] {
        let forged = browser
            .post(server.url(&path))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    let with_header = browser
        .post(server.url(&path))
        .header("x-renraku-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), StatusCode::OK);
    let same_origin = browser
        .post(server.url(&path))
        .header("origin", server.base_url())
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::OK);
    // Bearer requests are exempt: no browser attaches that header by itself.
    let native = server
        .client(&bearer)
        .post(server.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(native.status(), StatusCode::OK);
    // Reads need nothing.
    let read = browser.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // Sign-out is a mutation too.
    let out = browser
        .post(server.url("/api/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::FORBIDDEN);
}

test_both_dbs!(with_secure_cookies_the_cookie_is_host_prefixed);
async fn with_secure_cookies_the_cookie_is_host_prefixed() {
    let server = TestServer::start_with(|c| c.insecure_cookies = false).await;
    let response = signin(&server, password_only("nurse1")).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let token = token_of(response).await;
    assert!(
        cookie.starts_with(&format!("__Host-renraku={token};")),
        "{cookie}"
    );
    for attribute in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");

    let with = |name: &str| {
        reqwest::Client::new()
            .get(server.url("/api/me"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    assert_eq!(
        with("__Host-renraku").await.unwrap().status(),
        StatusCode::OK
    );
    // The unprefixed name (which a sibling subdomain could plant) is not read.
    assert_eq!(
        with("renraku_session").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

test_both_dbs!(repeated_failures_for_one_account_get_429_with_retry_after);
async fn repeated_failures_for_one_account_get_429_with_retry_after() {
    let server = TestServer::start().await;
    for _ in 0..10 {
        let wrong = json!({ "login_id": "pharmacist1", "password": "guess-guess" });
        assert_eq!(
            signin(&server, wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = signin(&server, password_only("pharmacist1")).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(error_code(blocked).await, "too_many_requests");
    assert!(server.audit_count("signin.throttled").await >= 1);
}

test_both_dbs!(repeated_failures_from_one_address_get_429_with_retry_after);
async fn repeated_failures_from_one_address_get_429_with_retry_after() {
    let server = TestServer::start().await;
    // One password tried against many accounts (unknown ones cost the same).
    for i in 0..50 {
        let wrong = json!({ "login_id": format!("someone{i}"), "password": "password1" });
        assert_eq!(
            signin(&server, wrong).await.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {i}"
        );
    }
    // Now even a right password for an untouched account is refused from this address.
    let blocked = signin(&server, password_only("nurse1")).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
}

test_both_dbs!(security_headers_are_on_every_kind_of_response);
async fn security_headers_are_on_every_kind_of_response() {
    let server = TestServer::start().await;
    let token = server.signin("nurse1").await;
    let anonymous = reqwest::Client::new();
    let responses = [
        ("200", anonymous.get(server.url("/healthz"))),
        ("401", anonymous.get(server.url("/api/me"))),
        ("404 api", anonymous.get(server.url("/api/no-such-thing"))),
        ("404 file", anonymous.get(server.url("/no-such-file.png"))),
        (
            "403",
            server.client(&token).get(server.url("/api/rooms/999999")),
        ),
        ("405", anonymous.delete(server.url("/healthz"))),
        (
            "400",
            anonymous
                .post(server.url("/api/demo/signin"))
                .json(&json!({})),
        ),
    ];
    for (what, request) in responses {
        let response = request.send().await.unwrap();
        let headers = response.headers();
        assert_eq!(
            headers["strict-transport-security"], "max-age=63072000; includeSubDomains",
            "{what}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
        assert!(headers.contains_key("content-security-policy"), "{what}");
        if what.starts_with('4') && what != "405" && what != "404 file" {
            // Errors are a code and a message, nothing else.
            let body: Value = response.json().await.unwrap();
            let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["error", "message"], "{what}");
        }
    }
}

test_both_dbs!(my_sessions_are_listed_without_tokens_and_can_be_revoked);
async fn my_sessions_are_listed_without_tokens_and_can_be_revoked() {
    let server = TestServer::start().await;
    let signin_as = |agent: &'static str| {
        reqwest::Client::new()
            .post(server.url("/api/demo/signin"))
            .header("user-agent", agent)
            .json(&password_only("nurse1"))
            .send()
    };
    let phone = token_of(signin_as("phone").await.unwrap()).await;
    let laptop = token_of(signin_as("laptop").await.unwrap()).await;
    let someone_else = server.signin("nurse2").await;

    let list = server
        .client(&laptop)
        .get(server.url("/api/me/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let text = list.text().await.unwrap();
    assert!(!text.contains(&phone) && !text.contains(&laptop), "{text}");
    let sessions: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "laptop");
    assert!(current[0]["created_at"].as_i64().unwrap() > 0);
    assert!(current[0]["last_seen_at"].as_i64().unwrap() > 0);
    let phone_session = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(phone_session["user_agent"], "phone");
    let phone_id = phone_session["id"].as_str().unwrap();

    // Not someone else's session, and not a made-up id.
    let theirs = server
        .client(&someone_else)
        .delete(server.url(&format!("/api/me/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let made_up = server
        .client(&laptop)
        .delete(server.url("/api/me/sessions/01ARZ3NDEKTSV4RRFFQ69G5FAV"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), StatusCode::NOT_FOUND);

    let revoked = server
        .client(&laptop)
        .delete(server.url(&format!("/api/me/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let me = |token: &str| server.client(token).get(server.url("/api/me")).send();
    assert_eq!(me(&phone).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me(&laptop).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&someone_else).await.unwrap().status(), StatusCode::OK);
    assert_eq!(server.audit_count("session.revoked").await, 1);

    // Each sign-in is a new token.
    assert_ne!(phone, laptop);
}

test_both_dbs!(a_password_change_checks_the_policy_and_ends_other_sessions);
async fn a_password_change_checks_the_policy_and_ends_other_sessions() {
    let server = TestServer::start().await;
    let other = server.signin("caremgr1").await;
    let token = server.signin("caremgr1").await;
    let change = |current: &str, new: &str| {
        server
            .client(&token)
            .post(server.url("/api/me/password"))
            .json(&json!({ "current": current, "new": new }))
            .send()
    };
    for weak in ["short", "password123", "caremgr1", &"x".repeat(129)] {
        let response = change(DEMO_PASSWORD, weak).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{weak}");
        assert_eq!(error_code(response).await, "weak_password");
    }
    let wrong = change("not-the-password", "夕焼け小焼けの赤とんぼ")
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = change(DEMO_PASSWORD, "夕焼け小焼けの赤とんぼ")
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);

    let me = |token: &str| server.client(token).get(server.url("/api/me")).send();
    assert_eq!(me(&token).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&other).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let old = signin(&server, password_only("caremgr1")).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = json!({ "login_id": "caremgr1", "password": "夕焼け小焼けの赤とんぼ" });
    token_of(signin(&server, new).await).await;
}

test_both_dbs!(security_txt_follows_rfc_9116);
async fn security_txt_follows_rfc_9116() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/.well-known/security.txt"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    assert!(field("Contact").starts_with("mailto:") || field("Contact").starts_with("https:"));
    assert_eq!(field("Preferred-Languages"), "ja, en");
    let expires = field("Expires");
    assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
    // Ahead of now, and less than a year ahead (RFC 9116 §2.5.5).
    let today = renraku_server::db::now_ms() / 86_400_000;
    let ahead = days_since_epoch(&expires[..10]) - today;
    assert!((1..366).contains(&ahead), "{expires} is {ahead} days ahead");
    let policy = field("Policy");
    let path = policy.split_once("://").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let policy = reqwest::get(server.url(path)).await.unwrap();
    assert_eq!(policy.status(), StatusCode::OK);
    assert!(policy.text().await.unwrap().contains("# Security policy"));
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (H. Hinnant's `days_from_civil`).
fn days_since_epoch(date: &str) -> i64 {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

test_both_dbs!(the_app_lock_follows_the_configuration_and_unlocks_with_the_password_only);
async fn the_app_lock_follows_the_configuration_and_unlocks_with_the_password_only() {
    let server = TestServer::start_with(|c| c.app_lock_seconds = Some(90)).await;
    let token = server.signin("therapist1").await;
    let client = server.client(&token);
    let me: Value = client
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["lock_after_secs"], 90);

    let wrong = client
        .post(server.url("/api/me/unlock"))
        .json(&json!({ "password": "not-the-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(wrong).await, "bad_credentials");
    let right = client
        .post(server.url("/api/me/unlock"))
        .json(&json!({ "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.audit_count("app.unlock_failed").await, 1);
    assert_eq!(server.audit_count("app.unlocked").await, 1);

    // By default the lock follows the session's idle timeout.
    let server = TestServer::start().await;
    let token = server.signin("therapist1").await;
    let me: Value = server.get_json(&token, "/api/me").await;
    assert_eq!(me["lock_after_secs"], 30 * 60);
}

async fn stored_totp_secret(server: &TestServer, login: &str) -> Option<String> {
    sqlx::query("SELECT totp_secret FROM users WHERE login_id = $1")
        .bind(login)
        .fetch_one(server.db().pool())
        .await
        .unwrap()
        .try_get("totp_secret")
        .unwrap()
}

test_both_dbs!(totp_secrets_are_encrypted_at_rest_and_old_clear_ones_are_sealed_at_start);
async fn totp_secrets_are_encrypted_at_rest_and_old_clear_ones_are_sealed_at_start() {
    let server = TestServer::start().await;
    let token = server.signin("nurse2").await;
    let (secret, step, _) = enrol(&server, &token).await;
    let stored = stored_totp_secret(&server, "nurse2").await.unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(&secret));
    // And it still works.
    let with_code = json!({
        "login_id": "nurse2", "password": DEMO_PASSWORD,
        "totp": code_at(&secret, step + 1).unwrap(),
    });
    token_of(signin(&server, with_code).await).await;
    // Copied onto another user's row, the sealed value does not open (it names its user):
    // sign-in fails rather than accepting the other user's codes.
    sqlx::query("UPDATE users SET totp_secret = $1 WHERE login_id = $2")
        .bind(&stored)
        .bind("doctor2")
        .execute(server.db().pool())
        .await
        .unwrap();
    let copied = json!({
        "login_id": "doctor2", "password": DEMO_PASSWORD,
        "totp": code_at(&secret, current_step()).unwrap(),
    });
    assert_ne!(signin(&server, copied).await.status(), StatusCode::OK);

    // A secret written in the clear (by a server from before encryption) is sealed when the
    // server starts, and keeps working.
    let legacy = renraku_server::auth::second_factor::new_secret();
    renraku_tests::logs::record_secret(&legacy);
    sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE login_id = $2")
        .bind(&legacy)
        .bind("pharmacist1")
        .execute(server.db().pool())
        .await
        .unwrap();
    renraku_server::prepare(&server.state().config)
        .await
        .expect("restart preparation");
    let resealed = stored_totp_secret(&server, "pharmacist1").await.unwrap();
    assert!(
        resealed.starts_with("v1:") && !resealed.contains(&legacy),
        "{resealed}"
    );
    let legacy_code = json!({
        "login_id": "pharmacist1", "password": DEMO_PASSWORD,
        "totp": code_at(&legacy, current_step()).unwrap(),
    });
    token_of(signin(&server, legacy_code).await).await;
    // The key lives beside the database, not in it.
    assert!(server.state().config.secret_key_file().is_file());
}
