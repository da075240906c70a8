//! Realtime sync through `/ws` against the real server: two team members, forged updates,
//! hostile frames. Runs on SQLite, or PostgreSQL with RENRAKU_TEST_BACKEND=postgres.

use renraku_sync::frame::MAX_FRAME_BYTES;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::yrs::{Any, Map, Transact};
use renraku_sync::{DocId, Frame, PostId, Reaction, RoomDoc, RoomId, UserId};
use renraku_tests::sync_client::{connect_raw, SyncClient};
use renraku_tests::{team, Team, TestServer};
use sqlx::Row;
use std::collections::HashMap;
use std::time::Duration;

fn new_post_id() -> PostId {
    PostId::parse(&ulid::Ulid::new().to_string()).unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn connected(server: &TestServer, team: &Team) -> (SyncClient, SyncClient) {
    let mut a = SyncClient::connect(&server.ws_url(), &team.a.token, 1001)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &team.b.token, 2002)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();
    b.open(team.room).await.unwrap();
    (a, b)
}

/// A starts a thread (saved), and waits until B's replica has it.
async fn thread_seen_by_both(
    a: &mut SyncClient,
    b: &mut SyncClient,
    room: RoomId,
    author: UserId,
    text: &str,
) -> PostId {
    let root = new_post_id();
    let u = a
        .doc(room)
        .start_thread(author, root.clone(), text, now_ms());
    a.write(room, u).await.unwrap();
    b.wait_for(room, "the thread", |d| d.post(&root).is_some())
        .await
        .unwrap();
    root
}

#[tokio::test]
async fn a_thread_reply_reaction_and_pin_reach_the_other_member() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);

    let root = thread_seen_by_both(&mut a, &mut b, room, ua, "本日の訪問で発熱 37.8℃").await;

    let reply = new_post_id();
    let u = b
        .doc(room)
        .reply(ub, reply.clone(), &root, "明日往診します", now_ms())
        .unwrap();
    b.write(room, u).await.unwrap();
    let u = b.doc(room).react(ub, &root, Reaction::Ack);
    b.write(room, u).await.unwrap();
    let u = b.doc(room).pin(ub, &root, now_ms());
    b.write(room, u).await.unwrap();

    a.wait_for(room, "reply, reaction and pin", |d| {
        d.threads().first().is_some_and(|t| t.replies.len() == 1)
            && d.reactions(&root)
                .first()
                .is_some_and(|r| r.users == vec![ub])
            && d.pins()
                .first()
                .is_some_and(|p| p.post == root && p.by == ub)
    })
    .await
    .unwrap();
    assert_eq!(a.doc(room).threads()[0].replies[0].text, "明日往診します");
}

#[tokio::test]
async fn concurrent_offline_edits_converge_after_reconnecting() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let root = thread_seen_by_both(&mut a, &mut b, room, ua, "共有事項").await;
    drop(a);
    drop(b);

    // Offline: both write into their own replicas (as the app's outbox would hold them).
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    a.doc(room)
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    b.doc(room)
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    a.doc(room)
        .reply(ua, new_post_id(), &root, "Aの返信", now_ms())
        .unwrap();
    a.doc(room).react(ua, &root, Reaction::Like);
    a.doc(room).pin(ua, &root, now_ms());
    b.doc(room)
        .reply(ub, new_post_id(), &root, "Bの返信", now_ms())
        .unwrap();
    b.doc(room).react(ub, &root, Reaction::Checked);
    b.doc(room).edit(ub, &root, "x", 1).unwrap_err(); // not hers

    // Reconnect: the server's step 1 makes each send what it has, then both converge.
    a.open(room).await.unwrap();
    b.open(room).await.unwrap();
    let done = |d: &RoomDoc| {
        d.threads().first().is_some_and(|t| t.replies.len() == 2) && d.reactions(&root).len() == 2
    };
    a.wait_for(room, "convergence", done).await.unwrap();
    b.wait_for(room, "convergence", done).await.unwrap();
    assert_eq!(a.doc(room).threads(), b.doc(room).threads());
    assert_eq!(a.doc(room).reactions(&root), b.doc(room).reactions(&root));
    assert_eq!(a.doc(room).pins(), b.doc(room).pins());
}

/// The room's state as a third member (a fresh client) receives it.
async fn server_state(server: &TestServer, t: &Team) -> Vec<u8> {
    let mut c = SyncClient::connect(
        &server.ws_url(),
        &t.a.token,
        9_000 + rand::random::<u16>() as u64,
    )
    .await
    .unwrap();
    c.open(t.room).await.unwrap();
    c.doc(t.room).encode_state()
}

#[tokio::test]
async fn a_non_member_is_denied_and_no_session_cannot_connect() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let mut outsider = SyncClient::connect(&server.ws_url(), &t.outsider.token, 3003)
        .await
        .unwrap();
    let err = outsider.open(t.room).await.unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
    // Sync frames for a room not opened are denied too, and change nothing.
    let doc = RoomDoc::new(3003);
    let u = doc.start_thread(t.outsider.id, new_post_id(), "侵入", now_ms());
    let message = Message::Sync(SyncMessage::Update(u)).encode_v1();
    outsider
        .send_frame(&Frame::Sync {
            doc: DocId::Room(t.room),
            ack: Some(1),
            message,
        })
        .await
        .unwrap();
    outsider
        .wait_event(|f| matches!(f, Frame::Denied { .. }))
        .await
        .unwrap();
    // Someone else's personal document is not theirs to open either.
    outsider
        .send_frame(&Frame::Open {
            doc: DocId::Personal(t.a.id),
        })
        .await
        .unwrap();
    outsider
        .wait_event(|f| {
            matches!(
                f,
                Frame::Denied {
                    doc: DocId::Personal(_),
                    ..
                }
            )
        })
        .await
        .unwrap();

    assert!(connect_raw(&server.ws_url(), None).await.is_err());
    assert!(connect_raw(&server.ws_url(), Some("not-a-session"))
        .await
        .is_err());
    let (_, b) = connected(&server, &t).await;
    drop(b);
}

/// Raw write into a root map, bypassing the typed API: what a hostile client can send.
fn raw_insert(doc: &RoomDoc, root: &str, key: &str, value: Any) -> Vec<u8> {
    let map = doc.doc().get_or_insert_map(root);
    let mut txn = doc.doc().transact_mut();
    map.insert(&mut txn, key, value);
    txn.encode_update_v1()
}

#[tokio::test]
async fn forged_updates_are_refused_stored_nowhere_and_reach_no_one() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let root = thread_seen_by_both(&mut a, &mut b, room, ua, "原文").await;

    // Each forgery comes from a scratch replica of B's, so B's own replica stays honest.
    type Forge<'a> = Box<dyn Fn(&RoomDoc) -> Vec<u8> + 'a>;
    let forgeries: Vec<(&str, Forge)> = vec![
        (
            "a post in A's name",
            Box::new(|d: &RoomDoc| d.start_thread(ua, new_post_id(), "なりすまし", 1)),
        ),
        (
            "an edit of A's post",
            Box::new(|d: &RoomDoc| {
                let v = Any::from(HashMap::from([
                    ("author".to_owned(), Any::from(ua.to_string())),
                    ("created_at".to_owned(), Any::from(1_i64)),
                    ("text".to_owned(), Any::from("改ざん")),
                    ("deleted".to_owned(), Any::from(false)),
                ]));
                raw_insert(d, "posts", root.as_str(), v)
            }),
        ),
        (
            "a delete of A's post",
            Box::new(|d: &RoomDoc| {
                let map = d.doc().get_or_insert_map("posts");
                let mut txn = d.doc().transact_mut();
                map.remove(&mut txn, root.as_str());
                txn.encode_update_v1()
            }),
        ),
        (
            "a reaction under A's id",
            Box::new(|d: &RoomDoc| d.react(ua, &root, Reaction::Ack)),
        ),
    ];
    for (what, forge) in &forgeries {
        let scratch = RoomDoc::new(2002);
        scratch.apply_update(&b.doc(room).encode_state()).unwrap();
        let update = forge(&scratch);
        let ack = b.send_update(room, update).await.unwrap();
        let verdict = b.verdict(ack).await.unwrap();
        assert!(verdict.is_err(), "{what} was accepted");
    }
    // A's client id, used by B: refused even for an otherwise honest reaction.
    let stolen = RoomDoc::new(1001);
    stolen.apply_update(&a.doc(room).encode_state()).unwrap();
    let ack = b
        .send_update(room, stolen.react(ub, &root, Reaction::Like))
        .await
        .unwrap();
    let verdict = b.verdict(ack).await.unwrap().unwrap_err();
    assert!(verdict.contains("another user"), "{verdict}");

    // B's connection still works for honest updates, and that is all A ever receives.
    let u = b.doc(room).react(ub, &root, Reaction::Checked);
    b.write(room, u).await.unwrap();
    a.wait_for(room, "B's honest reaction", |d| {
        !d.reactions(&root).is_empty()
    })
    .await
    .unwrap();
    a.drain(Duration::from_millis(300)).await;
    let seen = a.doc(room);
    assert_eq!(seen.post(&root).unwrap().text, "原文");
    assert_eq!(seen.posts().len(), 1, "no forged post arrived");
    let reactions = seen.reactions(&root);
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].users, vec![ub]);

    // And nothing of it was stored: a fresh replica from storage matches.
    let stored = RoomDoc::new(77);
    stored
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    assert_eq!(stored.post(&root).unwrap().text, "原文");
    assert_eq!(stored.posts().len(), 1);
    assert_eq!(stored.reactions(&root), reactions);
    assert!(server.audit_count("update.refused").await >= 5);
}

#[tokio::test]
async fn malformed_and_oversized_frames_get_errors_and_others_are_still_served() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let room = t.room;

    a.send_bytes(vec![0xde, 0xad, 0xbe, 0xef]).await.unwrap();
    a.wait_event(|f| matches!(f, Frame::Malformed { .. }))
        .await
        .unwrap();
    a.send_bytes(vec![7; MAX_FRAME_BYTES + 10]).await.unwrap();
    a.wait_event(|f| matches!(f, Frame::TooLarge { .. }))
        .await
        .unwrap();
    // A well-framed sync message with garbage inside.
    a.send_frame(&Frame::Sync {
        doc: DocId::Room(room),
        ack: Some(99),
        message: vec![0, 2, 5, 1, 2, 3, 4, 5],
    })
    .await
    .unwrap();
    assert!(a.verdict(99).await.unwrap().is_err());
    // An update just under the frame limit but over the text limit.
    let long = "長".repeat(30_000);
    let u = a
        .doc(room)
        .start_thread(t.a.id, new_post_id(), &long, now_ms());
    let ack = a.send_update(room, u).await.unwrap();
    assert!(a.verdict(ack).await.unwrap().is_err());

    // The server keeps serving: B writes, A (the offender) still receives.
    let p = new_post_id();
    let u = b
        .doc(room)
        .start_thread(t.b.id, p.clone(), "通常の投稿", now_ms());
    b.write(room, u).await.unwrap();
    a.wait_for(room, "B's post", |d| d.post(&p).is_some())
        .await
        .unwrap();
}

#[tokio::test]
async fn personal_document_stores_its_owners_pins_and_refuses_posts() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let phone = renraku_sync::PersonalDoc::new(5005);
    let update = phone.pin_room(t.room, now_ms());
    let mut c = SyncClient::connect(&server.ws_url(), &t.a.token, 5005)
        .await
        .unwrap();
    let doc = DocId::Personal(t.a.id);
    c.send_frame(&Frame::Open { doc }).await.unwrap();
    let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
    c.send_frame(&Frame::Sync {
        doc,
        ack: Some(1),
        message,
    })
    .await
    .unwrap();
    assert_eq!(c.verdict(1).await.unwrap(), Ok(()));
    // A post in a personal document is outside its schema.
    let stray = RoomDoc::new(5006);
    let bad = stray.start_thread(t.a.id, new_post_id(), "x", 1);
    let message = Message::Sync(SyncMessage::Update(bad)).encode_v1();
    c.send_frame(&Frame::Sync {
        doc,
        ack: Some(2),
        message,
    })
    .await
    .unwrap();
    assert!(c.verdict(2).await.unwrap().is_err());
}

#[tokio::test]
async fn rooms_are_compacted_evicted_and_reloaded_from_storage() {
    let server = TestServer::start_with(|c| {
        c.compact_after = 5;
        c.room_evict_ms = 100;
    })
    .await;
    let t = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1001)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let id = new_post_id();
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, id.clone(), &format!("{i}"), now_ms());
        a.write(t.room, u).await.unwrap();
        ids.push(id);
    }
    // Compacted at 5 and 10 updates: a snapshot plus a short log.
    let key = format!("room/{}", t.room);
    let pool = server.db().pool();
    let log: i64 = sqlx::query("SELECT COUNT(*) AS n FROM doc_updates WHERE doc = $1")
        .bind(&key)
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    let up_to: i64 = sqlx::query("SELECT up_to_seq FROM doc_snapshots WHERE doc = $1")
        .bind(&key)
        .fetch_one(pool)
        .await
        .unwrap()
        .get("up_to_seq");
    assert_eq!((log, up_to), (2, 10));

    // Everyone leaves: the room leaves memory.
    drop(a);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.state().hub.loaded() > 0 {
        assert!(std::time::Instant::now() < deadline, "room never evicted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Loaded again from snapshot and tail, it has every post.
    let mut b = SyncClient::connect(&server.ws_url(), &t.b.token, 2002)
        .await
        .unwrap();
    b.open(t.room).await.unwrap();
    for id in &ids {
        assert!(b.doc(t.room).post(id).is_some(), "post {id} lost");
    }
    assert_eq!(b.doc(t.room).posts().len(), 12);
}
