//! A standard Yjs client (Node: yjs 13 + y-websocket's WebsocketProvider + ws, from npm)
//! syncs a room through `/yjs/{room}?token=…`, under the same membership and validation
//! rules as `/ws`.

use renraku_sync::PostId;
use renraku_tests::helpers::now_ms;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{node_client, team, TestServer};

test_both_dbs!(a_yjs_client_and_a_ws_client_see_each_others_posts);
async fn a_yjs_client_and_a_ws_client_see_each_others_posts() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4242)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let from_ws = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
    let u = a
        .doc(t.room)
        .start_thread(t.a.id, from_ws.clone(), "WS から投稿", now_ms());
    a.write(t.room, u).await.unwrap();

    // The Yjs client sees the /ws post.
    let b_token = server.room_token(&t.b.token, t.room).await.unwrap();
    let dump = node_client(&server, t.room, &b_token, &["dump"])
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(dump.trim()).unwrap();
    assert_eq!(
        json["posts"][from_ws.as_str()]["text"],
        "WS から投稿",
        "{json}"
    );

    // The /ws client sees the Yjs client's post.
    let from_yjs = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
    let out = node_client(
        &server,
        t.room,
        &b_token,
        &[
            "write-post",
            from_yjs.as_str(),
            &t.b.id.to_string(),
            "Yjs から投稿",
        ],
    )
    .await
    .unwrap();
    assert!(out.contains("ok"), "{out}");
    a.wait_for(t.room, "the Yjs client's post", |d| {
        d.post(&from_yjs).is_some()
    })
    .await
    .unwrap();
    assert_eq!(a.doc(t.room).post(&from_yjs).unwrap().author, t.b.id);

    // A forged author through the Yjs endpoint is refused: it reaches neither A nor storage.
    let forged = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
    node_client(
        &server,
        t.room,
        &b_token,
        &[
            "write-post",
            forged.as_str(),
            &t.a.id.to_string(),
            "なりすまし",
        ],
    )
    .await
    .unwrap();
    let dump = node_client(&server, t.room, &b_token, &["dump"])
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(dump.trim()).unwrap();
    assert!(json["posts"].get(forged.as_str()).is_none(), "{json}");
    assert!(a.doc(t.room).post(&forged).is_none());
}

test_both_dbs!(the_yjs_endpoint_needs_a_valid_token_for_that_room);
async fn the_yjs_endpoint_needs_a_valid_token_for_that_room() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    // No token, a wrong token, and the outsider cannot get one.
    let url = format!("{}/{}", server.yjs_url(), t.room);
    for attempt in [url.clone(), format!("{url}?token=nope")] {
        match tokio_tungstenite::connect_async(attempt).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    assert!(server.room_token(&t.outsider.token, t.room).await.is_err());
}

test_both_dbs!(a_room_larger_than_one_frame_reaches_ws_and_yjs_clients_whole);
async fn a_room_larger_than_one_frame_reaches_ws_and_yjs_clients_whole() {
    // The server sends a long message in fragments (`hub/socket.rs`); a client's WebSocket
    // must join them into the one sync step 2 it expects: the room is ~150 KB here.
    let server = TestServer::start().await;
    let t = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4343)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let mut written = Vec::new();
    for i in 0..120 {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
        let text = format!(
            "{i}番目の申し送り。{}",
            "訪問時の様子を記録します。".repeat(25)
        );
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, id.clone(), &text, now_ms());
        a.write(t.room, u).await.unwrap();
        written.push((id, text));
    }

    // A fresh /ws client opening the room has every post, whole.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 4344)
        .await
        .unwrap();
    b.open(t.room).await.unwrap();
    for (id, text) in &written {
        assert_eq!(b.doc(t.room).post(id).map(|p| p.text), Some(text.clone()));
    }

    // So does a standard Yjs client (Node's `ws` joins the fragments).
    let b_token = server.room_token(&t.b.token, t.room).await.unwrap();
    let dump = node_client(&server, t.room, &b_token, &["dump"])
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(dump.trim()).unwrap();
    for (id, text) in &written {
        assert_eq!(json["posts"][id.as_str()]["text"], text.as_str());
    }
}
