//! Per-connection WebSocket limits against the real server: a client over its message rate
//! is closed with a reason, what it sent past the limit is not stored, and everybody else
//! (including the same person reconnecting) keeps being served; oversized frames are refused.
//! Runs on SQLite and PostgreSQL.

use futures_util::{SinkExt, StreamExt};
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, RoomDoc, RoomId};
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::sync_client::{connect_raw, SyncClient, Ws, PATIENCE};
use renraku_tests::{team, Member, TestServer};
use std::collections::HashSet;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How a connection ended, as the client saw it.
#[derive(Debug)]
enum Ending {
    Closed {
        code: u16,
        reason: String,
    },
    /// The socket ended without a close frame (reset or a protocol error).
    Broken(String),
}

/// Reads (and keeps the binary frames of) a socket until it ends.
async fn read_until_end(ws: &mut Ws) -> (Vec<Frame>, Ending) {
    let mut frames = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the server ends the connection");
        match next {
            Some(Ok(WsMessage::Binary(bytes))) => {
                if let Ok(frame) = Frame::decode_from_server(&bytes) {
                    frames.push(frame);
                }
            }
            Some(Ok(WsMessage::Close(close))) => {
                let (code, reason) = close
                    .map(|c| (u16::from(c.code), c.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return (frames, Ending::Closed { code, reason });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return (frames, Ending::Broken(e.to_string())),
            None => return (frames, Ending::Broken("ended without a close frame".into())),
        }
    }
}

async fn send(ws: &mut Ws, frame: &Frame) -> bool {
    ws.send(WsMessage::Binary(frame.encode().into()))
        .await
        .is_ok()
}

/// Texts of the posts a fresh replica receives from the server.
async fn stored_texts(server: &TestServer, token: &str, room: RoomId) -> HashSet<String> {
    let mut reader = SyncClient::connect(&server.ws_url(), token, 9_999)
        .await
        .unwrap();
    reader.open(room).await.unwrap();
    reader
        .doc(room)
        .posts()
        .into_iter()
        .map(|p| p.text)
        .collect()
}

test_both_dbs!(
    a_client_over_its_message_rate_is_closed_with_a_reason_and_nothing_past_it_is_stored
);
async fn a_client_over_its_message_rate_is_closed_with_a_reason_and_nothing_past_it_is_stored() {
    const BURST: u32 = 20;
    const SENT: usize = 200;
    let server = TestServer::start_with(|c| {
        c.ws_message_burst = BURST;
        c.ws_messages_per_second = 1;
    })
    .await;
    let t = team(&server).await;
    let room = t.room;
    let doc = DocId::Room(room);

    // B is in the room throughout and must keep being served.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(room).await.unwrap();

    // A floods: hello, open, its step 1, then SENT updates without waiting for answers.
    let mut a = connect_raw(&server.ws_url(), Some(&t.a.token))
        .await
        .unwrap();
    let replica = RoomDoc::new(1001);
    assert!(
        send(
            &mut a,
            &Frame::Hello {
                version: PROTOCOL_VERSION
            }
        )
        .await
    );
    assert!(send(&mut a, &Frame::Open { doc }).await);
    let step1 = Message::Sync(SyncMessage::SyncStep1(replica.state_vector())).encode_v1();
    assert!(
        send(
            &mut a,
            &Frame::Sync {
                doc,
                ack: None,
                message: step1
            }
        )
        .await
    );
    let texts: Vec<String> = (0..SENT).map(|i| format!("連投 {i:03}")).collect();
    for (i, text) in texts.iter().enumerate() {
        let update = replica.start_thread(t.a.id, new_post_id(), text, now_ms());
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        let frame = Frame::Sync {
            doc,
            ack: Some(i as u64 + 1),
            message,
        };
        if !send(&mut a, &frame).await {
            break; // the server already closed
        }
    }

    let (_, ending) = read_until_end(&mut a).await;
    match ending {
        Ending::Closed { code, reason } => {
            assert_eq!(code, 1008, "policy violation");
            assert!(
                reason.contains("rate limit") && reason.contains("per second"),
                "a reason a person can act on: {reason}"
            );
        }
        Ending::Broken(e) => panic!("expected a close frame with a reason, got: {e}"),
    }

    // B still writes and is acknowledged; the room handles messages in order, so once B's
    // post is saved, whatever A got in before its limit is committed too.
    let after = new_post_id();
    let u = b
        .doc(room)
        .start_thread(t.b.id, after.clone(), "洪水のあとも通常どおり", now_ms());
    b.write(room, u).await.unwrap();

    // What is stored is exactly a prefix of A's posts: those within its budget; the one that
    // broke the limit and everything after it are not.
    let stored = stored_texts(&server, &t.b.token, room).await;
    let accepted = texts.iter().take_while(|t| stored.contains(*t)).count();
    let budget = BURST as usize - 3; // hello, open and step 1 took a token each
    assert!(
        accepted >= budget,
        "A's posts within its budget are stored ({accepted} < {budget})"
    );
    assert!(accepted < SENT, "the flood was cut off");
    for text in &texts[accepted..] {
        assert!(!stored.contains(text), "{text} came after the limit");
    }
    assert_eq!(stored.len(), accepted + 1, "A's prefix and B's post");

    // B saw A's accepted posts live.
    b.wait_for(room, "A's accepted posts", |d| {
        d.posts().len() == accepted + 1
    })
    .await
    .unwrap();

    // A reconnects (a fresh connection, a fresh budget) and is served again.
    let mut again = SyncClient::connect(&server.ws_url(), &t.a.token, 1003)
        .await
        .unwrap();
    again.open(room).await.unwrap();
    let u = again
        .doc(room)
        .start_thread(t.a.id, new_post_id(), "再接続後の投稿", now_ms());
    again.write(room, u).await.unwrap();
}

test_both_dbs!(the_yjs_endpoint_has_the_same_rate_limit);
async fn the_yjs_endpoint_has_the_same_rate_limit() {
    let server = TestServer::start_with(|c| {
        c.ws_message_burst = 10;
        c.ws_messages_per_second = 1;
    })
    .await;
    let t = team(&server).await;
    let token = server.room_token(&t.a.token, t.room).await.unwrap();
    let url = format!("{}/{}?token={token}", server.yjs_url(), t.room);
    let mut ws = connect_raw(&url, None).await.unwrap();
    let query = Message::AwarenessQuery.encode_v1();
    for _ in 0..100 {
        if ws
            .send(WsMessage::Binary(query.clone().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut ending = None;
    while ending.is_none() {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the server ends the connection");
        match next {
            Some(Ok(WsMessage::Close(Some(close)))) => {
                ending = Some((u16::from(close.code), close.reason.to_string()))
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    let (code, reason) = ending.unwrap();
    assert_eq!(code, 1008);
    assert!(reason.contains("rate limit"), "{reason}");
}

test_both_dbs!(frames_over_the_configured_size_are_refused_and_the_connection_lives_on);
async fn frames_over_the_configured_size_are_refused_and_the_connection_lives_on() {
    const LIMIT: usize = 4096;
    let server = TestServer::start_with(|c| c.ws_max_frame_bytes = LIMIT).await;
    let t = team(&server).await;
    let room = t.room;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    a.open(room).await.unwrap();
    b.open(room).await.unwrap();

    // A post a bit over the limit (written on a scratch replica, so A's own stays clean):
    // refused unread, with the limit named.
    let scratch = RoomDoc::new(1009);
    let big = scratch.start_thread(t.a.id, new_post_id(), &"大".repeat(2_000), now_ms());
    let ack = a.send_update(room, big).await.unwrap();
    let refusal = a
        .wait_event(|f| matches!(f, Frame::TooLarge { .. }))
        .await
        .unwrap();
    assert_eq!(
        refusal,
        Frame::TooLarge {
            limit: LIMIT as u64
        }
    );

    // The connection lives on: a small post from A is saved and reaches B.
    let small = new_post_id();
    let u = a
        .doc(room)
        .start_thread(t.a.id, small.clone(), "小さな投稿", now_ms());
    a.write(room, u).await.unwrap();
    b.wait_for(room, "the small post", |d| d.post(&small).is_some())
        .await
        .unwrap();
    assert!(
        !a.events
            .iter()
            .any(|f| matches!(f, Frame::Saved { ack: s, .. } if *s == ack)),
        "an oversized update is never acknowledged"
    );
    assert_eq!(
        b.doc(room).posts().len(),
        1,
        "the oversized post was not stored"
    );

    // A message over 8× the limit ends the connection at the protocol level; others go on.
    let _ = a.send_bytes(vec![7; 8 * LIMIT + 1]).await;
    let ended = a.wait_event(|_| false).await;
    assert!(ended.is_err() && a.closed, "the socket was closed");
    let later = new_post_id();
    let u = b
        .doc(room)
        .start_thread(t.b.id, later.clone(), "まだ使える", now_ms());
    b.write(room, u).await.unwrap();
}

test_both_dbs!(a_message_over_eight_times_the_limit_closes_with_1009_and_a_reason);
async fn a_message_over_eight_times_the_limit_closes_with_1009_and_a_reason() {
    const LIMIT: usize = 4096;
    let server = TestServer::start_with(|c| c.ws_max_frame_bytes = LIMIT).await;
    let t = team(&server).await;
    let mut a = connect_raw(&server.ws_url(), Some(&t.a.token))
        .await
        .unwrap();
    assert!(
        send(
            &mut a,
            &Frame::Hello {
                version: PROTOCOL_VERSION
            }
        )
        .await
    );
    let _ = a
        .send(WsMessage::Binary(vec![7; 8 * LIMIT + 1].into()))
        .await;
    let (_, ending) = read_until_end(&mut a).await;
    match ending {
        Ending::Closed { code, reason } => {
            assert_eq!(code, 1009, "message too big");
            assert!(
                reason.contains(&(8 * LIMIT).to_string()),
                "the reason names the limit: {reason}"
            );
        }
        Ending::Broken(e) => panic!("expected a close frame (1009), got: {e}"),
    }
}

/// Fills `room` with `posts` posts of `chars` characters each, written by `m`.
async fn fill_room(server: &TestServer, m: &Member, room: RoomId, posts: usize, chars: usize) {
    let mut writer = SyncClient::connect(&server.ws_url(), &m.token, 7_777)
        .await
        .unwrap();
    writer.open(room).await.unwrap();
    let mut last = 0;
    for i in 0..posts {
        let text = format!("{i:04} {}", "記".repeat(chars));
        let u = writer
            .doc(room)
            .start_thread(m.id, new_post_id(), &text, now_ms());
        last = writer.send_update(room, u).await.unwrap();
    }
    assert_eq!(writer.verdict(last).await.unwrap(), Ok(()));
}

/// Open WebSocket connections on the server, once they settle at `want` (or what they are
/// after the test's patience).
async fn connections_settle_at(server: &TestServer, want: usize) -> usize {
    let hub = server.state().hub.clone();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = hub.open_connections();
        if now == want || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A client asks for a large room again and again but never reads the answers. The server
/// must drop it (by the bound `adjust` leaves) while another member keeps being served; the
/// client sees its sends fail once the server has let go of the socket.
async fn a_client_that_never_reads_is_dropped(adjust: impl FnOnce(&mut renraku_server::Config)) {
    let server = TestServer::start_with(|c| {
        // The rate limit is not what should end this.
        c.ws_message_burst = 10_000_000;
        c.ws_messages_per_second = 10_000_000;
        adjust(c);
    })
    .await;
    let t = team(&server).await;
    let room = t.room;
    let doc = DocId::Room(room);
    // About 1.5 MB of posts: a few answers fill the socket buffers on both sides.
    fill_room(&server, &t.b, room, 100, 5_000).await;

    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(room).await.unwrap();

    let mut a = connect_raw(&server.ws_url(), Some(&t.a.token))
        .await
        .unwrap();
    assert!(
        send(
            &mut a,
            &Frame::Hello {
                version: PROTOCOL_VERSION
            }
        )
        .await
    );
    assert!(send(&mut a, &Frame::Open { doc }).await);
    let step1 = Frame::Sync {
        doc,
        ack: None,
        message: Message::Sync(SyncMessage::SyncStep1(Default::default())).encode_v1(),
    };
    // Twenty answers of 1.5 MB: more than the sockets' buffers hold, far fewer frames than
    // the outbox's frame bound (so only the bound under test can end this).
    for _ in 0..20 {
        if !send(&mut a, &step1).await {
            break;
        }
    }
    // Meanwhile another member writes and is acknowledged.
    let u = b
        .doc(room)
        .start_thread(t.b.id, new_post_id(), "読まない人がいても", now_ms());
    b.write(room, u).await.unwrap();
    // A goes on sending (frames that need no answer) until the server has let go of the
    // socket: a send then fails. A server that never lets go fails the test here.
    let hello = Frame::Hello {
        version: PROTOCOL_VERSION,
    };
    tokio::time::timeout(PATIENCE * 4, async { while send(&mut a, &hello).await {} })
        .await
        .expect("the server drops a client that does not read");

    // Only B's connection is left on the server; B is served and a newcomer gets the room.
    assert_eq!(connections_settle_at(&server, 1).await, 1);
    let u = b
        .doc(room)
        .start_thread(t.b.id, new_post_id(), "まだ使える", now_ms());
    b.write(room, u).await.unwrap();
    let stored = stored_texts(&server, &t.a.token, room).await;
    assert_eq!(stored.len(), 102);
}

test_both_dbs!(a_send_that_does_not_finish_in_time_closes_the_connection);
async fn a_send_that_does_not_finish_in_time_closes_the_connection() {
    // A roomy outbox, so only the send timeout can end the stalled connection.
    a_client_that_never_reads_is_dropped(|c| {
        c.ws_send_timeout_ms = 300;
        c.ws_outbox_bytes = 1 << 30;
    })
    .await;
}

test_both_dbs!(a_connection_over_its_outbox_bytes_is_closed_without_waiting_for_its_send);
async fn a_connection_over_its_outbox_bytes_is_closed_without_waiting_for_its_send() {
    // A send timeout far beyond the test's patience: only the byte bound can end it.
    a_client_that_never_reads_is_dropped(|c| {
        c.ws_send_timeout_ms = 3_600_000;
        c.ws_outbox_bytes = 256 * 1024;
    })
    .await;
}

/// Connects and reads until the server's close: its code and reason.
async fn refused(server: &TestServer, token: &str) -> Option<(u16, String)> {
    let mut ws = connect_raw(&server.ws_url(), Some(token)).await.unwrap();
    let _ = send(
        &mut ws,
        &Frame::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    match tokio::time::timeout(PATIENCE, read_until_end(&mut ws)).await {
        Ok((_, Ending::Closed { code, reason })) => Some((code, reason)),
        Ok((_, Ending::Broken(e))) => panic!("expected a close frame, got: {e}"),
        // Still open: admitted.
        Err(_) => None,
    }
}

test_both_dbs!(a_user_over_the_connection_cap_is_refused_with_a_reason_and_others_are_served);
async fn a_user_over_the_connection_cap_is_refused_with_a_reason_and_others_are_served() {
    let server = TestServer::start_with(|c| c.ws_connections_per_user = 2).await;
    let t = team(&server).await;
    let room = t.room;
    let mut a1 = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a1.open(room).await.unwrap();
    let mut a2 = SyncClient::connect(&server.ws_url(), &t.a.token, 1002)
        .await
        .unwrap();
    a2.open(room).await.unwrap();

    let (code, reason) = refused(&server, &t.a.token)
        .await
        .expect("the third socket is refused");
    assert_eq!(code, 1008);
    assert!(
        reason.contains("too many connections") && reason.contains('2'),
        "a reason naming the cap: {reason}"
    );

    // Another user connects and is served; the server answers HTTP.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(room).await.unwrap();
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert!(health.status().is_success());
    let u = a1
        .doc(room)
        .start_thread(t.a.id, new_post_id(), "上限内の接続", now_ms());
    a1.write(room, u).await.unwrap();

    // Once one of A's sockets closes, A may open another.
    drop(a2);
    assert_eq!(connections_settle_at(&server, 2).await, 2);
    let mut again = SyncClient::connect(&server.ws_url(), &t.a.token, 1003)
        .await
        .unwrap();
    again.open(room).await.unwrap();
}

test_both_dbs!(the_server_wide_connection_cap_refuses_with_retry_later);
async fn the_server_wide_connection_cap_refuses_with_retry_later() {
    let server = TestServer::start_with(|c| c.ws_max_connections = Some(2)).await;
    let t = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(t.room).await.unwrap();
    let (code, reason) = refused(&server, &t.outsider.token)
        .await
        .expect("a third socket on the server is refused");
    assert_eq!(code, 1013, "try again later");
    assert!(reason.contains("retry"), "{reason}");
    // Sign-in and the API still answer.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert!(health.status().is_success());
    let _ = server.signin("nurse1").await;
}
