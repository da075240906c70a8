//! Issue 8, passkeys (WebAuthn) against the real server, without a browser: a small software
//! authenticator (P-256, "none" attestation, made here from the WebAuthn spec) registers
//! and signs in through the HTTP API, so the ceremonies, counters, the second-factor policy,
//! forged credentials and the audit trail are checked on SQLite and PostgreSQL. The browser
//! path (Chromium's virtual authenticator) is tests/browser/passkey.test.mjs.

use data_encoding::BASE64URL_NOPAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use renraku_server::demo::DEMO_PASSWORD;
use renraku_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A platform authenticator with one credential, user verification always on.
struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    origin: String,
    /// The user handle from registration (base64url), sent back with assertions as a
    /// discoverable credential does.
    user_handle: Option<String>,
}

// CBOR (RFC 8949), just the items WebAuthn needs.
fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as u64, out)
    } else {
        cbor_head(1, (-1 - i) as u64, out)
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len() as u64, out);
    out.extend(s.as_bytes());
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    fn new(server: &TestServer) -> Self {
        let port = server.base_url().rsplit(':').next().unwrap().to_owned();
        let mut credential_id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut credential_id);
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id,
            counter: 0,
            origin: format!("http://localhost:{port}"),
            user_handle: None,
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, flags: u8, rp_id: &str) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// What `navigator.credentials.create()` would answer, as JSON.
    fn register(&mut self, options: &Value) -> Value {
        let rp_id = options["publicKey"]["rp"]["id"].as_str().expect("rp id");
        self.user_handle = options["publicKey"]["user"]["id"]
            .as_str()
            .map(str::to_owned);
        let client_data = self.client_data("webauthn.create", options);
        let mut auth_data = self.auth_data(UP | UV | AT, rp_id);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        let point = self.key.verifying_key().to_encoded_point(false);
        // COSE_Key: kty EC2, alg ES256, crv P-256, x, y.
        let mut cose = Vec::new();
        cbor_head(5, 5, &mut cose);
        for (k, v) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(k, &mut cose);
            cbor_int(v, &mut cose);
        }
        cbor_int(-2, &mut cose);
        cbor_bytes(point.x().unwrap(), &mut cose);
        cbor_int(-3, &mut cose);
        cbor_bytes(point.y().unwrap(), &mut cose);
        auth_data.extend(cose);
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": B64.encode(&attestation),
                "clientDataJSON": B64.encode(&client_data),
            },
        })
    }

    /// What `navigator.credentials.get()` would answer, as JSON; the counter moves first.
    fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        let rp_id = options["publicKey"]["rpId"].as_str().expect("rp id");
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.auth_data(UP | UV, rp_id);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(signature.as_bytes()),
                "userHandle": self.user_handle,
            },
        })
    }
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn password_signin(server: &TestServer, login: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/demo/signin"))
        .json(&json!({ "login_id": login, "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(response).await
}

fn record(token: &str) -> String {
    renraku_tests::logs::record_secret(token);
    token.to_owned()
}

/// Registers the authenticator's passkey for the holder of `token`; returns its list entry.
async fn register(server: &TestServer, token: &str, auth: &mut SoftAuthenticator) -> Value {
    let client = server.client(token);
    let (status, start) = json_of(
        client
            .post(server.url("/api/me/passkeys/register"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    record(start["ceremony"].as_str().unwrap());
    assert_eq!(start["options"]["publicKey"]["rp"]["id"], "localhost");
    let credential = auth.register(&start["options"]);
    let (status, view) = json_of(
        client
            .post(server.url("/api/me/passkeys/register/finish"))
            .json(&json!({ "ceremony": start["ceremony"], "name": "仕事用スマホ", "credential": credential }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["name"], "仕事用スマホ");
    view
}

/// Starts a passkey sign-in; the ceremony id and the options.
async fn signin_start(server: &TestServer, login: &str) -> (String, Value) {
    let (status, start) = json_of(
        reqwest::Client::new()
            .post(server.url("/api/demo/signin/passkey"))
            .json(&json!({ "login_id": login, "password": DEMO_PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    (
        record(start["ceremony"].as_str().unwrap()),
        start["options"].clone(),
    )
}

async fn signin_finish(
    server: &TestServer,
    ceremony: &str,
    credential: &Value,
) -> (StatusCode, Value) {
    json_of(
        reqwest::Client::new()
            .post(server.url("/api/demo/signin/passkey/finish"))
            .json(&json!({ "ceremony": ceremony, "credential": credential }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

test_both_dbs!(a_passkey_is_a_second_factor_and_each_assertion_counts_once);
async fn a_passkey_is_a_second_factor_and_each_assertion_counts_once() {
    let server = TestServer::start().await;
    let token = server.signin("nurse1").await;
    let mut auth = SoftAuthenticator::new(&server);
    register(&server, &token, &mut auth).await;
    assert_eq!(server.audit_count("passkey.registered").await, 1);

    // The password alone now asks for the passkey, and says so.
    let (status, body) = password_signin(&server, "nurse1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "second_factor_required");
    assert_eq!(body["second_factors"], json!(["passkey"]));

    // A wrong password never reaches the passkey step.
    let wrong = reqwest::Client::new()
        .post(server.url("/api/demo/signin/passkey"))
        .json(&json!({ "login_id": "nurse1", "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(wrong).await.1["error"], "bad_credentials");

    let (ceremony, options) = signin_start(&server, "nurse1").await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let assertion = auth.assert(&options);
    let (status, body) = signin_finish(&server, &ceremony, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = record(body["session_token"].as_str().unwrap());
    assert_eq!(body["enrolment_required"], false);
    let me = server
        .client(&session)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(server.audit_count("passkey.used").await, 1);

    // The ceremony answered once; the same assertion under a new ceremony has the wrong
    // challenge.
    let (status, body) = signin_finish(&server, &ceremony, &assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passkey_rejected"))
    );
    let (again, _) = signin_start(&server, "nurse1").await;
    let (status, body) = signin_finish(&server, &again, &assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_second_factor"))
    );

    // The counter was stored: an authenticator whose counter goes back (a clone) is refused.
    let list: Value = server.get_json(&session, "/api/me/passkeys").await;
    assert!(list[0]["last_used_at"].is_i64(), "{list}");
    let stored = server
        .db()
        .passkeys_of(renraku_sync::UserId::new(
            list_owner(&server, "nurse1").await,
        ))
        .await
        .unwrap();
    assert_eq!(stored[0].counter, 1);
    let (ceremony, options) = signin_start(&server, "nurse1").await;
    auth.counter = 0; // the next assertion carries 1 again
    let cloned = auth.assert(&options);
    let (status, _) = signin_finish(&server, &ceremony, &cloned).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (ceremony, options) = signin_start(&server, "nurse1").await;
    auth.counter = 5;
    let (status, _) = signin_finish(&server, &ceremony, &auth.assert(&options)).await;
    assert_eq!(status, StatusCode::OK);
    let stored = server
        .db()
        .passkeys_of(renraku_sync::UserId::new(
            list_owner(&server, "nurse1").await,
        ))
        .await
        .unwrap();
    assert_eq!(stored[0].counter, 6);
    assert_eq!(server.audit_count("signin.passkey_failed").await, 2);
}

async fn list_owner(server: &TestServer, login: &str) -> i64 {
    let m = server
        .db()
        .municipality_by_slug("demo")
        .await
        .unwrap()
        .unwrap();
    let c = server.db().credentials(m.id, login).await.unwrap().unwrap();
    c.user.get()
}

test_both_dbs!(forged_or_misdirected_credentials_are_refused_and_audited);
async fn forged_or_misdirected_credentials_are_refused_and_audited() {
    let server = TestServer::start().await;
    let token = server.signin("doctor1").await;
    let client = server.client(&token);
    let start = |client: reqwest::Client| {
        let url = server.url("/api/me/passkeys/register");
        async move {
            let body: Value = client.post(url).send().await.unwrap().json().await.unwrap();
            record(body["ceremony"].as_str().unwrap());
            body
        }
    };
    let finish = |client: reqwest::Client, ceremony: Value, credential: Value| {
        let url = server.url("/api/me/passkeys/register/finish");
        async move {
            json_of(
                client
                    .post(url)
                    .json(&json!({ "ceremony": ceremony, "credential": credential }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };

    // Garbage where the credential belongs.
    let s = start(client.clone()).await;
    let (status, body) = finish(client.clone(), s["ceremony"].clone(), json!({ "id": "x" })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passkey_rejected"))
    );
    // A well-formed credential for another challenge (a replayed or forged one).
    let mut auth = SoftAuthenticator::new(&server);
    let other = start(client.clone()).await;
    let s = start(client.clone()).await;
    let forged = auth.register(&other["options"]);
    let (status, body) = finish(client.clone(), s["ceremony"].clone(), forged).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passkey_rejected"))
    );
    // The wrong origin.
    let s = start(client.clone()).await;
    auth.origin = "http://evil.example".into();
    let (status, _) = finish(
        client.clone(),
        s["ceremony"].clone(),
        auth.register(&s["options"]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another session (even of the same user) cannot finish this session's ceremony.
    auth.origin = SoftAuthenticator::new(&server).origin;
    let s = start(client.clone()).await;
    let second = server.client(&server.signin("doctor1").await);
    let (status, _) = finish(second, s["ceremony"].clone(), auth.register(&s["options"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server.audit_count("passkey.register_failed").await, 4);
    assert_eq!(server.audit_count("passkey.registered").await, 0);
    let list: Value = client
        .get(server.url("/api/me/passkeys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));

    // Sign-in: no passkey yet → a clear 400; then a garbage assertion → 401, audited.
    let none = reqwest::Client::new()
        .post(server.url("/api/demo/signin/passkey"))
        .json(&json!({ "login_id": "doctor1", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(none).await.1["error"], "passkey_rejected");
    register(&server, &token, &mut auth).await;
    let (ceremony, _) = signin_start(&server, "doctor1").await;
    let (status, body) = signin_finish(&server, &ceremony, &json!({ "garbage": true })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_second_factor"))
    );
    // A ceremony id that was never issued.
    let (status, _) = signin_finish(&server, "0123456789abcdef0123456789abcdef", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server.audit_count("signin.passkey_failed").await, 1);
}

test_both_dbs!(where_the_policy_requires_a_second_factor_a_passkey_satisfies_it);
async fn where_the_policy_requires_a_second_factor_a_passkey_satisfies_it() {
    let server = TestServer::start().await;
    let demo = server
        .db()
        .municipality_by_slug("demo")
        .await
        .unwrap()
        .unwrap()
        .id;
    server
        .db()
        .set_require_second_factor(demo, true)
        .await
        .unwrap();

    let (status, body) = password_signin(&server, "helper1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["enrolment_required"], true);
    let token = record(body["session_token"].as_str().unwrap());
    let client = server.client(&token);
    assert_eq!(
        client
            .get(server.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    // The restricted session may enrol a passkey, and then has full rights.
    let mut auth = SoftAuthenticator::new(&server);
    let view = register(&server, &token, &mut auth).await;
    assert_eq!(
        client
            .get(server.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The password alone is refused now.
    let (status, body) = password_signin(&server, "helper1").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("second_factor_required"))
    );

    // Removing it: only my own; audited; the session is restricted again.
    let other = server.client(&server.signin("nurse2").await);
    let path = format!("/api/me/passkeys/{}", view["id"]);
    let theirs = other.delete(server.url(&path)).send().await.unwrap();
    assert_eq!(
        theirs.status(),
        StatusCode::FORBIDDEN,
        "nurse2 must enrol first"
    );
    let removed = client.delete(server.url(&path)).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.audit_count("passkey.removed").await, 1);
    assert_eq!(
        client
            .get(server.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

test_both_dbs!(a_passkey_can_only_be_removed_by_its_owner);
async fn a_passkey_can_only_be_removed_by_its_owner() {
    let server = TestServer::start().await;
    let token = server.signin("caremgr1").await;
    let mut auth = SoftAuthenticator::new(&server);
    let view = register(&server, &token, &mut auth).await;
    let path = format!("/api/me/passkeys/{}", view["id"]);
    let other = server.client(&server.signin("pharmacist1").await);
    assert_eq!(
        other
            .delete(server.url(&path))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let mine = server.client(&token);
    assert_eq!(
        mine.delete(server.url(&path))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        mine.delete(server.url(&path))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // Without a passkey the password alone works again.
    assert_eq!(password_signin(&server, "caremgr1").await.0, StatusCode::OK);
}

test_both_dbs!(the_app_lock_opens_with_my_passkey_in_my_session_only);
async fn the_app_lock_opens_with_my_passkey_in_my_session_only() {
    let server = TestServer::start().await;
    let token = server.signin("city2").await;
    let client = server.client(&token);
    let mut auth = SoftAuthenticator::new(&server);
    let start = |client: reqwest::Client| {
        let url = server.url("/api/me/unlock/passkey");
        async move { json_of(client.post(url).send().await.unwrap()).await }
    };
    let finish = |client: reqwest::Client, ceremony: Value, credential: Value| {
        let url = server.url("/api/me/unlock/passkey/finish");
        async move {
            client
                .post(url)
                .json(&json!({ "ceremony": ceremony, "credential": credential }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // No passkey yet: a clear refusal.
    let (status, body) = start(client.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passkey_rejected"))
    );
    register(&server, &token, &mut auth).await;

    let (status, s) = start(client.clone()).await;
    assert_eq!(status, StatusCode::OK);
    record(s["ceremony"].as_str().unwrap());
    let assertion = auth.assert(&s["options"]);
    // Another session of mine (signed in with the passkey) cannot use this session's
    // ceremony.
    let (ceremony, options) = signin_start(&server, "city2").await;
    let (status, body) = signin_finish(&server, &ceremony, &auth.assert(&options)).await;
    assert_eq!(status, StatusCode::OK);
    let other = server.client(&record(body["session_token"].as_str().unwrap()));
    assert_eq!(
        finish(other, s["ceremony"].clone(), assertion.clone()).await,
        StatusCode::BAD_REQUEST
    );
    let (_, s) = start(client.clone()).await;
    record(s["ceremony"].as_str().unwrap());
    let assertion = auth.assert(&s["options"]);
    assert_eq!(
        finish(client.clone(), s["ceremony"].clone(), assertion.clone()).await,
        StatusCode::NO_CONTENT
    );
    // Used up.
    assert_eq!(
        finish(client.clone(), s["ceremony"].clone(), assertion).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(server.audit_count("app.unlocked").await, 1);
    assert_eq!(server.audit_count("app.unlock_failed").await, 2);
}

test_both_dbs!(a_discoverable_passkey_signs_in_without_the_password);
async fn a_discoverable_passkey_signs_in_without_the_password() {
    let server = TestServer::start().await;
    let token = server.signin("nurse1").await;
    let mut auth = SoftAuthenticator::new(&server);
    let start_registration: Value = server
        .client(&token)
        .post(server.url("/api/me/passkeys/register"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Registration asks for a discoverable credential where the authenticator can keep one.
    let selection = &start_registration["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "preferred", "{selection}");
    register(&server, &token, &mut auth).await;

    let start = |body: Value| {
        let url = server.url("/api/demo/signin/passkey");
        async move {
            json_of(
                reqwest::Client::new()
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, s) = start(json!({})).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let ceremony = record(s["ceremony"].as_str().unwrap());
    let options = &s["options"];
    assert!(options.get("mediation").is_none(), "{options}");
    let allowed = &options["publicKey"]["allowCredentials"];
    assert!(
        allowed.is_null() || allowed == &json!([]),
        "names no credential: {allowed}"
    );
    let (status, body) = signin_finish(&server, &ceremony, &auth.assert(options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["login_id"], "nurse1");
    record(body["session_token"].as_str().unwrap());

    // The credential under another account's user handle: refused and audited.
    let doctor = list_owner(&server, "doctor1").await;
    let (_, s) = start(json!({})).await;
    let ceremony = record(s["ceremony"].as_str().unwrap());
    let mut forged = auth.assert(&s["options"]);
    let handle = renraku_server::auth::passkey::user_handle(renraku_sync::UserId::new(doctor));
    forged["response"]["userHandle"] = json!(B64.encode(handle.as_bytes()));
    let (status, _) = signin_finish(&server, &ceremony, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // No user handle at all: nobody to sign in.
    let (_, s) = start(json!({})).await;
    let ceremony = record(s["ceremony"].as_str().unwrap());
    let mut anonymous = auth.assert(&s["options"]);
    anonymous["response"]["userHandle"] = Value::Null;
    let (status, _) = signin_finish(&server, &ceremony, &anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.audit_count("signin.passkey_failed").await, 2);

    // Half of the two-factor form is refused.
    let (status, body) = start(json!({ "login_id": "nurse1" })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passkey_rejected"))
    );
}

test_both_dbs!(passkey_routes_need_a_session_and_obey_the_csrf_rule);
async fn passkey_routes_need_a_session_and_obey_the_csrf_rule() {
    let server = TestServer::start().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/me/passkeys"),
        (reqwest::Method::POST, "/api/me/passkeys/register"),
        (reqwest::Method::POST, "/api/me/passkeys/register/finish"),
        (reqwest::Method::DELETE, "/api/me/passkeys/1"),
        (reqwest::Method::POST, "/api/me/unlock"),
        (reqwest::Method::POST, "/api/me/unlock/passkey"),
        (reqwest::Method::POST, "/api/me/unlock/passkey/finish"),
    ] {
        let response = reqwest::Client::new()
            .request(method.clone(), server.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }

    // A browser's cookie session: mutations need our header (or Origin).
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signed_in = browser
        .post(server.url("/api/demo/signin"))
        .json(&json!({ "login_id": "nurse1", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    let body: Value = signed_in.json().await.unwrap();
    record(body["session_token"].as_str().unwrap());
    for (method, path) in [
        (reqwest::Method::POST, "/api/me/passkeys/register"),
        (reqwest::Method::DELETE, "/api/me/passkeys/1"),
        (reqwest::Method::POST, "/api/me/unlock"),
    ] {
        let forged = browser
            .request(method.clone(), server.url(path))
            .header("origin", "https://evil.example")
            .json(&json!({ "password": DEMO_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(json_of(forged).await.1["error"], "csrf_rejected");
    }
    let ours = browser
        .post(server.url("/api/me/passkeys/register"))
        .header("x-renraku-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), StatusCode::OK);
    record(json_of(ours).await.1["ceremony"].as_str().unwrap());
}

test_both_dbs!(a_ceremony_started_on_one_node_finishes_on_another_once);
/// Issue 19: behind a load balancer a ceremony's two requests may reach two nodes; its
/// server half is in the database, so either node finishes it, and only once.
async fn a_ceremony_started_on_one_node_finishes_on_another_once() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let token = a.signin("nurse1").await;
    let mut auth = SoftAuthenticator::new(&a);

    // Registration: started on a, finished on b.
    let (status, start) = json_of(
        a.client(&token)
            .post(a.url("/api/me/passkeys/register"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    record(start["ceremony"].as_str().unwrap());
    let credential = auth.register(&start["options"]);
    let finish =
        json!({ "ceremony": start["ceremony"], "name": "当直用", "credential": credential });
    let (status, view) = json_of(
        b.client(&token)
            .post(b.url("/api/me/passkeys/register/finish"))
            .json(&finish)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    // Taken by b: a cannot finish it again.
    let (status, _) = json_of(
        a.client(&token)
            .post(a.url("/api/me/passkeys/register/finish"))
            .json(&finish)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Sign-in: started on b, finished on a; the session works on both.
    let (ceremony, options) = signin_start(&b, "nurse1").await;
    let assertion = auth.assert(&options);
    let (status, body) = signin_finish(&a, &ceremony, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = record(body["session_token"].as_str().unwrap());
    for node in [&a, &b] {
        let me = node.get_json(&session, "/api/me").await;
        assert_eq!(me["user"]["login_id"], "nurse1", "{me}");
    }
    let (status, _) = signin_finish(&b, &ceremony, &assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(b.audit_count("passkey.used").await, 1);
}
