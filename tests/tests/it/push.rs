//! Web push end to end: the real server sends to a push service written here, on 127.0.0.1,
//! which checks the VAPID signature against the key the server serves and decrypts each
//! payload with the subscribing device's private key (RFC 8291, via the `ece` crate).
//! Runs on SQLite and PostgreSQL.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use data_encoding::BASE64URL_NOPAD;
use p256::ecdsa::signature::Verifier;
use renraku_server::Db;
use renraku_sync::RoomId;
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::logs::{CANARY_PATIENT_KANA, CANARY_PATIENT_NAME};
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{demo_args, signin_at, team, team_at, Member, Team, TestServer, TestStorage};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::BIN;
/// How long a test waits for something that should take a second or two.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// One request as the push service saw it, and what it answered.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) device: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

#[derive(Default)]
struct ServiceState {
    received: Vec<Received>,
    /// Per device, answers to give before the default.
    plans: HashMap<String, VecDeque<u16>>,
    /// Per device, the answer once its plan is used up (201 when absent).
    standing: HashMap<String, u16>,
}

/// A push service on a loopback port.
#[derive(Clone)]
pub(crate) struct PushService {
    origin: String,
    state: Arc<Mutex<ServiceState>>,
}

async fn receive(
    State(state): State<Arc<Mutex<ServiceState>>>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut s = state.lock().unwrap();
    let status = match s.plans.get_mut(&device).and_then(VecDeque::pop_front) {
        Some(planned) => planned,
        None => s.standing.get(&device).copied().unwrap_or(201),
    };
    s.received.push(Received {
        device,
        status,
        headers,
        body: body.to_vec(),
    });
    StatusCode::from_u16(status).unwrap()
}

impl PushService {
    pub(crate) async fn start() -> PushService {
        let state = Arc::new(Mutex::new(ServiceState::default()));
        let app = axum::Router::new()
            .route("/push/{device}", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService { origin, state }
    }

    fn plan(&self, device: &str, answers: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .plans
            .insert(device.to_owned(), answers.iter().copied().collect());
    }

    fn answer_always(&self, device: &str, status: u16) {
        self.state
            .lock()
            .unwrap()
            .standing
            .insert(device.to_owned(), status);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub(crate) fn delivered_to(&self, device: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.device == device && (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until `cond` holds for what was received.
    pub(crate) async fn wait_until(&self, what: &str, cond: impl Fn(&[Received]) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !cond(&self.received()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "push service: gave up waiting for {what}; received {:?}",
                self.received()
                    .iter()
                    .map(|r| (&r.device, r.status))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A browser's push subscription: its own key pair and auth secret, as a browser makes them.
pub(crate) struct Device {
    pub(crate) name: String,
    endpoint: String,
    keys: ece::EcKeyComponents,
    auth: [u8; 16],
    p256dh: String,
}

impl Device {
    pub(crate) fn new(service: &PushService, name: &str) -> Device {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
        Device {
            name: name.to_owned(),
            endpoint: format!("{}/push/{name}", service.origin),
            p256dh: BASE64URL_NOPAD.encode(&pair.pub_as_raw().unwrap()),
            keys: pair.raw_components().unwrap(),
            auth,
        }
    }

    pub(crate) fn decrypt(&self, body: &[u8]) -> Value {
        let plain = ece::decrypt(&self.keys, &self.auth, body).expect("decrypts with my keys");
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }

    fn plaintext(&self, body: &[u8]) -> String {
        String::from_utf8(ece::decrypt(&self.keys, &self.auth, body).unwrap()).unwrap()
    }
}

fn http(base_url: &str, session: &str) -> (reqwest::Client, String) {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {session}").parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    (client, base_url.to_owned())
}

pub(crate) async fn subscribe(base_url: &str, session: &str, device: &Device) {
    let (client, base) = http(base_url, session);
    let response = client
        .post(format!("{base}/api/push/subscription"))
        .json(&json!({
            "endpoint": device.endpoint,
            "keys": { "p256dh": device.p256dh, "auth": BASE64URL_NOPAD.encode(&device.auth) },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

pub(crate) async fn put_settings(base_url: &str, session: &str, settings: Value) {
    let (client, base) = http(base_url, session);
    let response = client
        .post(format!("{base}/api/push/settings"))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn served_public_key(base_url: &str, session: &str) -> String {
    let (client, base) = http(base_url, session);
    let body: Value = client
        .get(format!("{base}/api/push/vapid-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["public_key"].as_str().unwrap().to_owned()
}

/// Checks `Authorization: vapid t=…, k=…` (RFC 8292): `k` is the served key, and the JWT is
/// ES256-signed by it for this push service's origin, unexpired, with a contact.
fn assert_vapid(received: &Received, public_key: &str, origin: &str) {
    let header = received.headers["authorization"].to_str().unwrap();
    let rest = header.strip_prefix("vapid ").expect("vapid scheme");
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').unwrap();
        match name {
            "t" => token = Some(value.to_owned()),
            "k" => key = Some(value.to_owned()),
            _ => {}
        }
    }
    assert_eq!(
        key.as_deref(),
        Some(public_key),
        "k is the served public key"
    );
    let token = token.expect("a JWT");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let raw_key = BASE64URL_NOPAD.decode(public_key.as_bytes()).unwrap();
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&raw_key).unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&BASE64URL_NOPAD.decode(signature.as_bytes()).unwrap())
            .unwrap();
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the JWT is signed with the served key");
    let (header, claims) = signed.split_once('.').unwrap();
    let header: Value =
        serde_json::from_slice(&BASE64URL_NOPAD.decode(header.as_bytes()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let claims: Value =
        serde_json::from_slice(&BASE64URL_NOPAD.decode(claims.as_bytes()).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    assert!(claims["exp"].as_i64().unwrap() * 1000 > now_ms());
    assert!(claims["exp"].as_i64().unwrap() * 1000 <= now_ms() + 24 * 3600 * 1000);
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received.headers[name].to_str().unwrap()
}

pub(crate) async fn outbox_len(db: &Db) -> i64 {
    // The pushes of what was acknowledged are queued with its projection, which on SQLite
    // follows the commit: everything saved so far has had its pushes queued after this.
    db.projection_settled().await;
    sqlx::query_scalar("SELECT COUNT(*) FROM push_outbox")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn subscriptions_of(db: &Db, member: &Member) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1")
        .bind(member.id.get())
        .fetch_one(db.pool())
        .await
        .unwrap()
}

/// Waits until every queued push has been settled.
pub(crate) async fn outbox_drained(db: &Db) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox_len(db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where most tests here start: a server that may push over plain HTTP, the local push
/// service, and a care team.
struct Scene {
    server: TestServer,
    service: PushService,
    t: Team,
    base: String,
}

impl Scene {
    async fn start() -> Scene {
        let server = TestServer::start_with(|c| c.push_allow_http = true).await;
        let service = PushService::start().await;
        let t = team(&server).await;
        let base = server.base_url();
        Scene {
            server,
            service,
            t,
            base,
        }
    }
}

async fn post_thread(client: &mut SyncClient, room: RoomId, member: &Member, text: &str) {
    let u = client
        .doc(room)
        .start_thread(member.id, new_post_id(), text, now_ms());
    client.write(room, u).await.unwrap();
}

const SECRET_TEXT: &str = "山田 花子様 褥瘡 ステージ3 処置内容";

test_both_dbs!(a_new_post_reaches_every_device_of_the_other_members_signed_and_encrypted);
async fn a_new_post_reaches_every_device_of_the_other_members_signed_and_encrypted() {
    let Scene {
        server,
        service,
        t,
        base,
    } = Scene::start().await;
    // B on two devices (two sessions), A on one.
    let b_phone = Device::new(&service, "b-phone");
    let b_pc = Device::new(&service, "b-pc");
    let a_phone = Device::new(&service, "a-phone");
    subscribe(&base, &t.b.token, &b_phone).await;
    let b_second_session = signin_at(&base, &t.b.login).await;
    subscribe(&base, &b_second_session, &b_pc).await;
    subscribe(&base, &t.a.token, &a_phone).await;
    let public_key = served_public_key(&base, &t.a.token).await;

    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4101)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    post_thread(&mut a, t.room, &t.a, SECRET_TEXT).await;

    service
        .wait_until("both of B's devices", |r| r.len() >= 2)
        .await;
    outbox_drained(server.db()).await;
    assert!(
        service.delivered_to("a-phone").is_empty(),
        "no push for one's own post"
    );
    for device in [&b_phone, &b_pc] {
        let got = service.delivered_to(&device.name);
        assert_eq!(got.len(), 1, "one push per device");
        let push = &got[0];
        assert_vapid(push, &public_key, &service.origin);
        assert_eq!(header(push, "content-encoding"), "aes128gcm");
        assert_eq!(header(push, "ttl"), "86400");
        assert_eq!(header(push, "urgency"), "normal");
        assert_eq!(header(push, "topic"), format!("room-{}", t.room));
        let payload = device.decrypt(&push.body);
        assert_eq!(payload["body"], "新しい投稿があります");
        assert_eq!(payload["kind"], "patient");
        assert_eq!(payload["url"], format!("/demo/rooms/{}", t.room));
        assert_eq!(payload["tag"], format!("renraku-room-{}", t.room));
        // Privacy by default: neither the patient (the room's title is the patient's name,
        // a canary) nor the text.
        let plain = device.plaintext(&push.body);
        for secret in [
            "山田",
            "花子",
            "褥瘡",
            CANARY_PATIENT_NAME,
            CANARY_PATIENT_KANA,
            SECRET_TEXT,
        ] {
            assert!(!plain.contains(secret), "{secret:?} leaked into {plain}");
        }
        assert!(
            !String::from_utf8_lossy(&push.body).contains("山田"),
            "the body on the wire is encrypted"
        );
    }

    // A reply by B reaches A's phone, not B's devices.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 4202)
        .await
        .unwrap();
    b.open(t.room).await.unwrap();
    let root = b.doc(t.room).posts()[0].id.clone();
    let u = b
        .doc(t.room)
        .reply(
            t.b.id,
            new_post_id(),
            &root,
            "明日 10 時に伺います",
            now_ms(),
        )
        .unwrap();
    b.write(t.room, u).await.unwrap();
    service
        .wait_until("A's phone", |r| r.iter().any(|r| r.device == "a-phone"))
        .await;
    outbox_drained(server.db()).await;
    assert_eq!(service.delivered_to("a-phone").len(), 1);
    assert_eq!(service.delivered_to("b-phone").len(), 1);
    assert_eq!(service.delivered_to("b-pc").len(), 1);

    // With details opted in, the lock screen may show the room and the text.
    put_settings(
        &base,
        &t.a.token,
        json!({"enabled": true, "show_details": true, "quiet_start": null, "quiet_end": null, "muted_rooms": []}),
    )
    .await;
    let u = b
        .doc(t.room)
        .reply(t.b.id, new_post_id(), &root, "処置は洗浄のみ", now_ms())
        .unwrap();
    b.write(t.room, u).await.unwrap();
    service
        .wait_until("A's second push", |r| {
            r.iter().filter(|r| r.device == "a-phone").count() >= 2
        })
        .await;
    let detailed = a_phone.decrypt(&service.delivered_to("a-phone")[1].body);
    assert_eq!(detailed["title"], CANARY_PATIENT_NAME, "the room's title");
    assert!(detailed["body"]
        .as_str()
        .unwrap()
        .contains("処置は洗浄のみ"));
}

test_both_dbs!(muted_rooms_quiet_hours_and_turned_off_notifications_send_nothing);
async fn muted_rooms_quiet_hours_and_turned_off_notifications_send_nothing() {
    let Scene {
        server,
        service,
        t,
        base,
    } = Scene::start().await;
    let b_phone = Device::new(&service, "b-phone");
    subscribe(&base, &t.b.token, &b_phone).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4303)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let db = server.db();
    let (b_http, _) = http(&base, &t.b.token);

    // Muted: the post is stored, and nothing is queued in its transaction.
    let muted = b_http
        .post(format!("{base}/api/push/rooms/{}/mute", t.room))
        .json(&json!({"muted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(muted.status(), 204);
    post_thread(&mut a, t.room, &t.a, "ミュート中の投稿").await;
    assert_eq!(outbox_len(db).await, 0);

    // Quiet hours around now (Japan time): nothing either.
    let minute = ((now_ms() / 60_000) + 9 * 60).rem_euclid(1440);
    let settings = |start: i64, end: i64| {
        json!({"enabled": true, "show_details": false,
               "quiet_start": start, "quiet_end": end, "muted_rooms": []})
    };
    put_settings(
        &base,
        &t.b.token,
        settings((minute + 1380) % 1440, (minute + 60) % 1440),
    )
    .await;
    post_thread(&mut a, t.room, &t.a, "深夜の投稿").await;
    assert_eq!(outbox_len(db).await, 0);

    // Turned off: nothing.
    put_settings(
        &base,
        &t.b.token,
        json!({"enabled": false, "show_details": false, "quiet_start": null, "quiet_end": null, "muted_rooms": []}),
    )
    .await;
    post_thread(&mut a, t.room, &t.a, "通知オフ中の投稿").await;
    assert_eq!(outbox_len(db).await, 0);

    // Quiet hours elsewhere in the day, unmuted, on: the next post is pushed, only it.
    let unmuted = b_http
        .post(format!("{base}/api/push/rooms/{}/mute", t.room))
        .json(&json!({"muted": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(unmuted.status(), 204);
    put_settings(
        &base,
        &t.b.token,
        settings((minute + 120) % 1440, (minute + 240) % 1440),
    )
    .await;
    post_thread(&mut a, t.room, &t.a, "通常の投稿").await;
    service.wait_until("one push", |r| !r.is_empty()).await;
    outbox_drained(db).await;
    assert_eq!(service.received().len(), 1);

    // Bad settings are refused with a reason, and change nothing.
    let bad = b_http
        .post(format!("{base}/api/push/settings"))
        .json(&json!({"enabled": true, "show_details": false, "quiet_start": 1500, "quiet_end": 10, "muted_rooms": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let now: Value = b_http
        .get(format!("{base}/api/push/settings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["quiet_start"], (minute + 120) % 1440);
    assert_eq!(now["subscribed"], true);
}

test_both_dbs!(gone_subscriptions_are_removed_and_server_errors_are_retried);
async fn gone_subscriptions_are_removed_and_server_errors_are_retried() {
    let Scene {
        server,
        service,
        t,
        base,
    } = Scene::start().await;
    let gone = Device::new(&service, "b-old-phone");
    let flaky = Device::new(&service, "b-phone");
    subscribe(&base, &t.b.token, &gone).await;
    let second = signin_at(&base, &t.b.login).await;
    subscribe(&base, &second, &flaky).await;
    service.answer_always("b-old-phone", 410);
    service.plan("b-phone", &[503, 500]);
    let db = server.db();
    assert_eq!(subscriptions_of(db, &t.b).await, 2);

    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4404)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    post_thread(&mut a, t.room, &t.a, "再送の確認").await;

    service
        .wait_until("the flaky phone's delivery", |r| {
            r.iter().any(|r| r.device == "b-phone" && r.status == 201)
        })
        .await;
    outbox_drained(db).await;
    let to_flaky: Vec<u16> = service
        .received()
        .iter()
        .filter(|r| r.device == "b-phone")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        to_flaky,
        vec![503, 500, 201],
        "retried until accepted, then not again"
    );
    assert_eq!(
        service
            .received()
            .iter()
            .filter(|r| r.device == "b-old-phone")
            .count(),
        1,
        "a gone subscription is not retried"
    );
    assert_eq!(
        subscriptions_of(db, &t.b).await,
        1,
        "410 removed the subscription"
    );
    let payload = flaky.decrypt(&service.delivered_to("b-phone")[0].body);
    assert_eq!(payload["body"], "新しい投稿があります");

    // The next post goes to the remaining device only.
    post_thread(&mut a, t.room, &t.a, "次の投稿").await;
    service
        .wait_until("the second delivery", |r| {
            r.iter()
                .filter(|r| r.device == "b-phone" && r.status == 201)
                .count()
                == 2
        })
        .await;
    outbox_drained(db).await;
    assert_eq!(
        service
            .received()
            .iter()
            .filter(|r| r.device == "b-old-phone")
            .count(),
        1
    );
}

test_both_dbs!(signing_out_removes_that_devices_subscription_only);
async fn signing_out_removes_that_devices_subscription_only() {
    let Scene {
        server,
        service,
        t,
        base,
    } = Scene::start().await;
    let phone = Device::new(&service, "b-phone");
    let pc = Device::new(&service, "b-pc");
    subscribe(&base, &t.b.token, &phone).await;
    let pc_session = signin_at(&base, &t.b.login).await;
    subscribe(&base, &pc_session, &pc).await;
    assert_eq!(subscriptions_of(server.db(), &t.b).await, 2);

    let (pc_http, _) = http(&base, &pc_session);
    let out = pc_http
        .post(format!("{base}/api/signout"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    let endpoints: Vec<String> =
        sqlx::query_scalar("SELECT endpoint FROM push_subscriptions WHERE user_id = $1")
            .bind(t.b.id.get())
            .fetch_all(server.db().pool())
            .await
            .unwrap();
    assert_eq!(endpoints, vec![phone.endpoint.clone()]);

    // Turning notifications off on the phone removes the phone's.
    let (phone_http, _) = http(&base, &t.b.token);
    let off = phone_http
        .delete(format!("{base}/api/push/subscription"))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 204);
    assert_eq!(subscriptions_of(server.db(), &t.b).await, 0);

    // A plain-http or malformed subscription is refused by a server that does not allow it.
    let strict = TestServer::start().await;
    let t2 = team(&strict).await;
    let (client, _) = http(&strict.base_url(), &t2.b.token);
    let refused = client
        .post(strict.url("/api/push/subscription"))
        .json(&json!({"endpoint": phone.endpoint, "keys": {"p256dh": phone.p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let bad_key = client
        .post(strict.url("/api/push/subscription"))
        .json(&json!({"endpoint": "https://push.example/x", "keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 400);
}

test_both_dbs!(a_restart_while_the_outbox_holds_pushes_delivers_each_once);
async fn a_restart_while_the_outbox_holds_pushes_delivers_each_once() {
    let storage = TestStorage::new().await;
    let service = PushService::start().await;
    service.answer_always("b-phone", 503);
    let mut args = demo_args(&storage);
    args.push("--push-allow-http".into());
    let server = ServerProcess::spawn(BIN, &args).await.unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let phone = Device::new(&service, "b-phone");
    subscribe(&server.base_url, &t.b.token, &phone).await;
    put_settings(
        &server.base_url,
        &t.b.token,
        json!({"enabled": true, "show_details": true, "quiet_start": null, "quiet_end": null, "muted_rooms": []}),
    )
    .await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4505)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let texts = ["一件目", "二件目", "三件目"];
    for text in texts {
        post_thread(&mut a, t.room, &t.a, text).await;
    }
    // Every push was tried and refused once: they wait in the outbox when the server dies.
    service.wait_until("three attempts", |r| r.len() >= 3).await;
    server.kill_9().await.unwrap();

    service.answer_always("b-phone", 201);
    let server = ServerProcess::spawn(BIN, &args).await.unwrap();
    service
        .wait_until("three deliveries", |r| {
            r.iter().filter(|r| r.status == 201).count() >= 3
        })
        .await;
    let db = Db::connect(&storage.database_url()).await.unwrap();
    outbox_drained(&db).await;
    let author: String = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
        .bind(t.a.id.get())
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    let mut bodies: Vec<String> = service
        .delivered_to("b-phone")
        .iter()
        .map(|r| phone.decrypt(&r.body)["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    let mut expected: Vec<String> = texts
        .iter()
        .map(|text| format!("{author}: {text}"))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected, "each post pushed exactly once");
    server.kill_9().await.unwrap();
}
