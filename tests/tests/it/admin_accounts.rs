//! Accounts: disabling ends sessions and closes live WebSockets within a second; a reset
//! password must be changed before anything else; maintenance shuts out all but admins.

use crate::admin_common::{cast, client, get_as, signin_as};
use futures_util::StreamExt;
use renraku_contract::Portal;
use renraku_tests::api::Api;
use renraku_tests::sync_client::{connect_raw, SyncClient};
use renraku_tests::{team, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

test_both_dbs!(disabling_a_user_closes_their_websocket_within_a_second);
async fn disabling_a_user_closes_their_websocket_within_a_second() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    // A live session with a room open, and a second bare socket.
    let mut synced = SyncClient::connect(&server.ws_url(), &team.a.token, 4242)
        .await
        .unwrap();
    synced.open(team.room).await.unwrap();
    let mut bare = connect_raw(&server.ws_url(), Some(&team.a.token))
        .await
        .unwrap();

    let response = client(&server, &cast.admin)
        .post(server.url(&format!("/api/admin/users/{}/disable", team.a.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["connections_closed"], 2, "{body}");

    // The server closes the socket: a Close frame or the end of the stream, within 1 s.
    assert!(
        closes_within(&mut bare, Duration::from_secs(1)).await,
        "the disabled user's socket is still open after 1 s"
    );
    synced.drain(Duration::from_millis(200)).await;
    assert!(synced.closed, "the syncing socket was closed too");

    // The session is gone, and so is any new connection or sign-in.
    let me = server
        .client(&team.a.token)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert!(connect_raw(&server.ws_url(), Some(&team.a.token))
        .await
        .is_err());
    let signin = reqwest::Client::new()
        .post(server.url("/api/demo/signin"))
        .json(&json!({"login_id": team.a.login, "password": renraku_server::demo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 401);
    assert_eq!(server.audit_count("admin.user.disable").await, 1);

    // Enabled again, the account signs in afresh.
    let enable = client(&server, &cast.admin)
        .post(server.url(&format!("/api/admin/users/{}/enable", team.a.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(enable.status(), 204);
    signin_as(
        &server,
        "demo",
        &team.a.login,
        renraku_server::demo::DEMO_PASSWORD,
    )
    .await;
}

test_both_dbs!(a_reset_password_must_be_changed_before_anything_else);
async fn a_reset_password_must_be_changed_before_anything_else() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let reset: Value = client(&server, &cast.admin)
        .post(server.url(&format!(
            "/api/admin/users/{}/reset-password",
            cast.member.id
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let temporary = reset["temporary_password"].as_str().unwrap().to_owned();
    assert!(reset["sessions_ended"].as_u64().unwrap() >= 1);
    // The old session ended with the reset.
    let old = server
        .client(&cast.member.token)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);

    let signin = signin_as(&server, "demo", "nurse1", &temporary).await;
    assert_eq!(signin["password_change_required"], true);
    let token = signin["session_token"].as_str().unwrap().to_owned();
    let http = server.client(&token);
    for path in ["/api/me", "/api/rooms"] {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "password_change_required");
    }
    assert!(connect_raw(&server.ws_url(), Some(&token)).await.is_err());

    let change = http
        .post(server.url("/api/me/password"))
        .json(&json!({"current": temporary, "new": "あたらしい合言葉-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 204);
    let me = http.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(server.audit_count("admin.user.password_reset").await, 1);
}

test_both_dbs!(maintenance_shuts_out_everyone_but_administrators);
async fn maintenance_shuts_out_everyone_but_administrators() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    // Sockets opened before the window: the member's must close, the admin's stays.
    let mut member_socket = connect_raw(&server.ws_url(), Some(&cast.member.token))
        .await
        .unwrap();
    let mut admin_socket = connect_raw(&server.ws_url(), Some(&cast.admin.token))
        .await
        .unwrap();
    let now = renraku_server::db::now_ms();
    let created = client(&server, &cast.system)
        .post(server.url("/api/admin/maintenance"))
        .json(&json!({"municipality": "demo", "starts_at": now - 1000,
                      "ends_at": now + 3_600_000, "message": "システム更新"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        closes_within(&mut member_socket, Duration::from_secs(2)).await,
        "a member's socket opened before the maintenance window is still open"
    );
    assert!(
        !closes_within(&mut admin_socket, Duration::from_millis(1500)).await,
        "the administrator's socket was closed by maintenance"
    );

    let member = server
        .client(&cast.member.token)
        .get(server.url("/api/rooms"))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), 503);
    let body: Value = member.json().await.unwrap();
    assert_eq!(body["error"], "maintenance");
    assert!(body["message"].as_str().unwrap().contains("システム更新"));
    assert!(connect_raw(&server.ws_url(), Some(&cast.member.token))
        .await
        .is_err());
    // Administrators work on; other municipalities are unaffected.
    let admin = get_as(&server, &cast.admin, "/api/rooms").await;
    assert_eq!(admin.status(), 200);
    let other = get_as(&server, &cast.other_member, "/api/rooms").await;
    assert_eq!(other.status(), 200);
    // The portal says so.
    let portal = Api::anonymous(&server.base_url())
        .portal("demo")
        .await
        .unwrap();
    assert_eq!(
        portal.maintenance.map(|m| m.message).as_deref(),
        Some("システム更新")
    );
    assert_eq!(portal.slug, "demo");
}

test_both_dbs!(a_maintenance_window_opened_on_one_node_shuts_members_out_of_another);
/// Issue 19: nodes share the windows through the database; each node's watcher closes its
/// own members' sockets, and each refuses them, whichever node the window was made on.
async fn a_maintenance_window_opened_on_one_node_shuts_members_out_of_another() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let cast = cast(&a).await;
    let mut member_socket = connect_raw(&b.ws_url(), Some(&cast.member.token))
        .await
        .unwrap();
    let now = renraku_server::db::now_ms();
    let created = client(&a, &cast.system)
        .post(a.url("/api/admin/maintenance"))
        .json(&json!({"municipality": "demo", "starts_at": now - 1000,
                      "ends_at": now + 3_600_000, "message": "システム更新"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        closes_within(&mut member_socket, Duration::from_secs(2)).await,
        "the member's socket on the other node is still open"
    );
    let member = b
        .client(&cast.member.token)
        .get(b.url("/api/rooms"))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), 503);
    assert_eq!(get_as(&b, &cast.admin, "/api/rooms").await.status(), 200);
}

test_both_dbs!(announcements_reach_the_portal);
async fn announcements_reach_the_portal() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let own = client(&server, &cast.admin)
        .post(server.url("/api/admin/municipalities/demo/announcements"))
        .json(&json!({"title": "年末年始の連絡体制", "body": "12/29〜1/3 は当番制です。"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let everyone = client(&server, &cast.system)
        .post(server.url("/api/admin/announcements"))
        .json(&json!({"title": "全体のお知らせ", "body": "新機能"}))
        .send()
        .await
        .unwrap();
    assert_eq!(everyone.status(), 201);
    let scheduled = client(&server, &cast.admin)
        .post(server.url("/api/admin/municipalities/demo/announcements"))
        .json(&json!({"title": "未来", "body": "まだ", "starts_at": renraku_server::db::now_ms() + 86_400_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.status(), 201);

    let titles = |portal: &Portal| -> Vec<String> {
        portal
            .announcements
            .iter()
            .map(|a| a.title.clone())
            .collect()
    };
    let anonymous = Api::anonymous(&server.base_url());
    let demo = anonymous.portal("demo").await.unwrap();
    let mut got = titles(&demo);
    got.sort();
    assert_eq!(got, vec!["全体のお知らせ", "年末年始の連絡体制"]);
    let other = anonymous.portal("other").await.unwrap();
    assert_eq!(titles(&other), vec!["全体のお知らせ"]);
}

/// Whether the server closes `socket` (a Close frame or the end of the stream) within `d`.
async fn closes_within(socket: &mut renraku_tests::sync_client::Ws, d: Duration) -> bool {
    tokio::time::timeout(d, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}
