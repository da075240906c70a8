//! The canary, inside one test binary: the planted patient's name travels through the
//! server's HTTP API, both WebSocket endpoints, a refused update and failed sign-ins, and
//! neither it nor any secret reaches the server's log — which did record that activity.
//! (`cargo xtask test` makes the same check over every suite's logs: xtask/src/canary.rs.)

use futures_util::StreamExt;
use renraku_sync::RoomDoc;
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::logs::{self, CANARY_PATIENT_NAME};
use renraku_tests::sync_client::{connect_raw, SyncClient, PATIENCE};
use renraku_tests::{team, TestServer};
use serde_json::json;

test_both_dbs!(the_canary_patient_and_the_secrets_never_reach_the_server_log);
async fn the_canary_patient_and_the_secrets_never_reach_the_server_log() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let room = t.room;

    // The name is really served: the room API returns it.
    let rooms = server
        .client(&t.a.token)
        .get(server.url("/api/rooms"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rooms.contains(CANARY_PATIENT_NAME), "{rooms}");
    let detail = server
        .client(&t.a.token)
        .get(server.url(&format!("/api/rooms/{room}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains(CANARY_PATIENT_NAME), "{detail}");

    // In posts over /ws, accepted and refused.
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    b.open(room).await.unwrap();
    let post = new_post_id();
    let text = format!("{CANARY_PATIENT_NAME}さん 37.8℃");
    let u = a
        .doc(room)
        .start_thread(t.a.id, post.clone(), &text, now_ms());
    a.write(room, u).await.unwrap();
    b.wait_for(room, "the post", |d| d.post(&post).is_some())
        .await
        .unwrap();
    // A post forged under B's name, naming the patient: refused (and audited).
    let forger = RoomDoc::new(1002);
    let forged = forger.start_thread(t.b.id, new_post_id(), &text, now_ms());
    let ack = a.send_update(room, forged).await.unwrap();
    assert!(a.verdict(ack).await.unwrap().is_err());

    // Over /yjs, whose token travels in the query string.
    let token = server.room_token(&t.a.token, room).await.unwrap();
    let url = format!("{}/{room}?token={token}", server.yjs_url());
    let mut yjs = connect_raw(&url, None).await.unwrap();
    let first = tokio::time::timeout(PATIENCE, yjs.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(_))), "the server's sync step 1");
    drop(yjs);

    // Sign-ins where a person typed the patient's name into the wrong field.
    for body in [
        json!({ "login_id": t.a.login, "password": CANARY_PATIENT_NAME }),
        json!({ "login_id": CANARY_PATIENT_NAME, "password": renraku_server::demo::DEMO_PASSWORD }),
    ] {
        let response = reqwest::Client::new()
            .post(server.url("/api/demo/signin"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{body}");
    }
    drop(a);
    drop(b);
    server.shutdown().await;

    let (path, needles) = logs::current().expect("the harness keeps a log");
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(
        log.contains("started processing request") && log.contains("ws{"),
        "{} holds the HTTP and WebSocket activity",
        path.display()
    );
    assert!(needles.iter().any(|n| n == CANARY_PATIENT_NAME));
    assert!(needles.contains(&t.a.token), "tokens are recorded");
    assert!(needles.contains(&token));
    for (n, line) in log.lines().enumerate() {
        for needle in needles.iter().filter(|n| !n.is_empty()) {
            assert!(
                !line.contains(needle.as_str()),
                "{}:{}: a secret or the patient's name: {line}",
                path.display(),
                n + 1
            );
        }
    }
}
