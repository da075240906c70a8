//! Realtime sync through `/ws` against the real server: two team members, forged updates,
//! hostile frames. Runs on SQLite and PostgreSQL.

use renraku_server::db::Backend;
use renraku_sync::frame::MAX_FRAME_BYTES;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::yrs::{Any, Map, Transact};
use renraku_sync::{DocId, Frame, PostId, Reaction, RoomDoc, RoomId, UserId};
use renraku_tests::helpers::{log_rows, new_post_id, now_ms};
use renraku_tests::sync_client::{connect_raw, SyncClient, PATIENCE};
use renraku_tests::{team, Team, TestServer};
use sqlx::Row;
use std::collections::HashMap;
use std::time::Duration;

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

test_both_dbs!(a_thread_reply_reaction_and_pin_reach_the_other_member);
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

test_both_dbs!(concurrent_offline_edits_converge_after_reconnecting);
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

test_both_dbs!(a_non_member_is_denied_and_no_session_cannot_connect);
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

test_both_dbs!(forged_updates_are_refused_stored_nowhere_and_reach_no_one);
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

test_both_dbs!(malformed_and_oversized_frames_get_errors_and_others_are_still_served);
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

test_both_dbs!(personal_document_stores_its_owners_pins_and_refuses_posts);
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

test_both_dbs!(rooms_are_compacted_evicted_and_reloaded_from_storage);
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

test_both_dbs!(a_reloaded_replica_naming_others_replaced_read_markers_is_accepted);
/// Issue 13 §5: a member reloads a busy room. Her replica, read back from the device, answers
/// the server's sync step 1 with its whole delete set — which names the other member's
/// replaced read markers, deleted on the server long ago — and carries the post she wrote
/// offline. Nothing of it is a forgery: no refusal, no audit entry, nothing lost.
async fn a_reloaded_replica_naming_others_replaced_read_markers_is_accepted() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let (room, ua, ub) = (t.room, t.a.id, t.b.id);
    let root = thread_seen_by_both(&mut a, &mut b, room, ua, "朝の申し送り").await;

    // B marks read, posts, and marks read again: her first marker is replaced (deleted).
    let u = b.doc(room).mark_read(ub, &root, now_ms());
    b.write(room, u).await.unwrap();
    let reply = new_post_id();
    let u = b
        .doc(room)
        .reply(ub, reply.clone(), &root, "夕方に再訪します", now_ms())
        .unwrap();
    b.write(room, u).await.unwrap();
    let u = b.doc(room).mark_read(ub, &reply, now_ms());
    b.write(room, u).await.unwrap();
    a.wait_for(room, "B's reply and read marker", |d| {
        d.read_markers()
            .iter()
            .any(|m| m.user == ub && m.post == reply)
    })
    .await
    .unwrap();

    // A writes while offline, then the page reloads: a new yrs client id, and the replica as
    // the device stored it.
    let offline = new_post_id();
    a.doc(room)
        .start_thread(ua, offline.clone(), "オフラインで書いた記録", now_ms());
    let kept = a.doc(room).encode_state();
    drop(a);
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 1011)
        .await
        .unwrap();
    a.doc(room).apply_update(&kept).unwrap();
    a.open(room).await.unwrap();

    b.wait_for(room, "A's offline post", |d| d.post(&offline).is_some())
        .await
        .unwrap();
    // A's reload continues: she writes, and it is saved.
    let after = new_post_id();
    let u = a
        .doc(room)
        .start_thread(ua, after.clone(), "再読み込みの後", now_ms());
    a.write(room, u).await.unwrap();
    let refusals: Vec<&Frame> = a
        .events
        .iter()
        .filter(|f| matches!(f, Frame::Invalid { .. }))
        .collect();
    assert!(refusals.is_empty(), "refused: {refusals:?}");
    assert_eq!(server.audit_count("update.refused").await, 0);
    let stored = RoomDoc::new(77);
    stored
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    for id in [&root, &reply, &offline, &after] {
        assert!(stored.post(id).is_some(), "post {id} lost");
    }
}

test_both_dbs!(a_burst_of_new_clients_in_several_rooms_is_saved_whole);
/// Issue 13 §5: each new yrs client id is bound to its user with the update that first uses
/// it, in the same group commit. A burst of new clients in several rooms at once: every
/// update is saved, stored, and its client id bound to its author.
async fn a_burst_of_new_clients_in_several_rooms_is_saved_whole() {
    const ROOMS: usize = 5;
    const CLIENTS_PER_MEMBER: u64 = 5;
    let server = TestServer::start().await;
    let mut teams = Vec::new();
    for _ in 0..ROOMS {
        teams.push(team(&server).await);
    }
    // One socket per member, as a phone has; every room opened on it.
    let (first, rest) = teams.split_first().unwrap();
    let mut a = SyncClient::connect(&server.ws_url(), &first.a.token, 1)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&server.ws_url(), &first.b.token, 2)
        .await
        .unwrap();
    for t in std::iter::once(first).chain(rest) {
        a.open(t.room).await.unwrap();
        b.open(t.room).await.unwrap();
    }

    // Every update from a fresh replica (a new client id), all sent before any answer.
    let mut sent = Vec::new(); // (who, ack, room, post, client id)
    let mut next_client = 10_000;
    for t in &teams {
        for (who, member) in [(0, &t.a), (1, &t.b)] {
            for i in 0..CLIENTS_PER_MEMBER {
                next_client += 1;
                let fresh = RoomDoc::new(next_client);
                let post = new_post_id();
                let text = format!("{}の端末 {i}", member.login);
                let u = fresh.start_thread(member.id, post.clone(), &text, now_ms());
                let socket = if who == 0 { &mut a } else { &mut b };
                let ack = socket.send_update(t.room, u).await.unwrap();
                sent.push((who, ack, t.room, post, next_client, member.id));
            }
        }
    }
    let started = std::time::Instant::now();
    for (who, ack, ..) in &sent {
        let socket = if *who == 0 { &mut a } else { &mut b };
        assert_eq!(socket.verdict(*ack).await.unwrap(), Ok(()), "ack {ack}");
    }
    eprintln!(
        "{} updates from new clients saved in {:?}",
        sent.len(),
        started.elapsed()
    );

    server.db().projection_settled().await;
    let pool = server.db().pool();
    for (_, _, room, post, client, author) in &sent {
        let owner: i64 = sqlx::query("SELECT user_id FROM yjs_clients WHERE client_id = $1")
            .bind(*client as i64)
            .fetch_one(pool)
            .await
            .unwrap()
            .get("user_id");
        assert_eq!(owner, author.get(), "client {client}");
        let stored: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM posts WHERE room_id = $1 AND post_id = $2")
                .bind(room.get())
                .bind(post.as_str())
                .fetch_one(pool)
                .await
                .unwrap()
                .get("n");
        assert_eq!(stored, 1, "post {post}");
    }
    assert_eq!(sent.len(), ROOMS * 2 * CLIENTS_PER_MEMBER as usize);
    assert_eq!(server.audit_count("update.refused").await, 0);
}

test_both_dbs!(a_post_dated_in_the_future_is_refused);
/// Issue 13 §7: a post dated 2099 stayed at the top of every timeline. Dated more than the
/// tolerance ahead of the server's clock, it is refused with a reason that points at the
/// device's clock, audited, and stored nowhere; a phone a minute fast is fine.
async fn a_post_dated_in_the_future_is_refused() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let room = t.room;

    let fast = new_post_id();
    let u = a
        .doc(room)
        .start_thread(t.a.id, fast.clone(), "1分進んだ時計", now_ms() + 60_000);
    a.write(room, u).await.unwrap();

    let far = new_post_id();
    let scratch = RoomDoc::new(1002);
    let year_2099 = 4_070_908_800_000;
    let u = scratch.start_thread(t.a.id, far.clone(), "未来の投稿", year_2099);
    let ack = a.send_update(room, u).await.unwrap();
    let reason = a.verdict(ack).await.unwrap().unwrap_err();
    assert!(reason.contains("date and time"), "{reason}");
    let over = renraku_sync::validate::MAX_CLOCK_AHEAD_MS + 60_000;
    let u = RoomDoc::new(1003).start_thread(t.a.id, new_post_id(), "x", now_ms() + over);
    let ack = a.send_update(room, u).await.unwrap();
    assert!(a.verdict(ack).await.unwrap().is_err());
    assert_eq!(server.audit_count("update.refused").await, 2);

    b.wait_for(room, "the post a minute ahead", |d| d.post(&fast).is_some())
        .await
        .unwrap();
    let stored = RoomDoc::new(77);
    stored
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    assert!(stored.post(&fast).is_some());
    assert!(stored.post(&far).is_none());
    assert_eq!(stored.posts().len(), 1);
}

test_both_dbs!(after_a_refused_post_the_device_writes_again);
/// A refused write used to leave the device's replica with a gap in its yrs client's
/// numbering, so every later write from that device was refused too ("skips over missing
/// changes") until the app was reloaded. Now the device restarts the room from the server
/// under a fresh client id: the refused post is gone from its replica, and the next post is
/// saved and reaches the others.
async fn after_a_refused_post_the_device_writes_again() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let room = t.room;

    let refused = new_post_id();
    let year_2099 = 4_070_908_800_000;
    let u = a
        .doc(room)
        .start_thread(t.a.id, refused.clone(), "未来の投稿", year_2099);
    let ack = a.send_update(room, u).await.unwrap();
    assert!(a.verdict(ack).await.unwrap().is_err());

    let next = new_post_id();
    a.wait_synced(room).await.unwrap();
    let u = a
        .doc(room)
        .start_thread(t.a.id, next.clone(), "時計を直して書いた投稿", now_ms());
    a.write(room, u).await.unwrap();
    b.wait_for(room, "the next post", |d| d.post(&next).is_some())
        .await
        .unwrap();
    assert!(a.doc(room).post(&refused).is_none());
    assert!(b.doc(room).post(&refused).is_none());
    assert_eq!(server.audit_count("update.refused").await, 1);
}

/// Makes every append to the update log fail, as a full disk or a lost database would: a
/// trigger raises on the table each saved update goes to.
async fn break_storage(server: &TestServer) {
    let statements: &[&str] = match server.db().backend() {
        Backend::Sqlite => &["CREATE TRIGGER storage_down BEFORE INSERT ON doc_updates \
             BEGIN SELECT RAISE(ABORT, 'storage down for the test'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION storage_down() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'storage down for the test'; END $$",
            "CREATE TRIGGER storage_down BEFORE INSERT ON doc_updates \
             FOR EACH ROW EXECUTE FUNCTION storage_down()",
        ],
    };
    for sql in statements {
        sqlx::query(sql).execute(server.db().pool()).await.unwrap();
    }
}

async fn heal_storage(server: &TestServer) {
    let sql = match server.db().backend() {
        Backend::Sqlite => "DROP TRIGGER storage_down",
        Backend::Postgres => "DROP TRIGGER storage_down ON doc_updates",
    };
    sqlx::query(sql).execute(server.db().pool()).await.unwrap();
}

test_both_dbs!(a_post_storage_fails_to_take_is_kept_by_the_client_and_saved_once_on_resend);
async fn a_post_storage_fails_to_take_is_kept_by_the_client_and_saved_once_on_resend() {
    let server = TestServer::start().await;
    let t = team(&server).await;
    let (mut a, mut b) = connected(&server, &t).await;
    let room = t.room;
    let before = log_rows(server.db(), room).await;

    break_storage(&server).await;
    let post = new_post_id();
    let u = a
        .doc(room)
        .start_thread(t.a.id, post.clone(), "保存できなかった投稿", now_ms());
    let ack = a.send_update(room, u).await.unwrap();
    // Not refused (that would make the app drop it for good): the server closes the socket
    // with "try again later", and the client still holds the post.
    let close = a.closed_within(PATIENCE).await;
    assert!(
        close
            .as_ref()
            .is_some_and(|(code, reason)| *code == 1013 && reason.contains("storage")),
        "{close:?}"
    );
    assert!(
        !a.events.iter().any(|f| matches!(f, Frame::Invalid { .. })),
        "{:?}",
        a.events
    );
    assert_eq!(a.unanswered(), vec![ack]);
    assert_eq!(log_rows(server.db(), room).await, before);
    assert_eq!(server.audit_count("update.refused").await, 0);

    heal_storage(&server).await;
    a.reconnect(&server.ws_url(), &t.a.token).await.unwrap();
    let resent = a.resend_outbox().await.unwrap();
    assert_eq!(resent, vec![ack]);
    assert_eq!(a.verdict(ack).await.unwrap(), Ok(()));
    assert!(a.unanswered().is_empty());
    b.wait_for(room, "the resent post", |d| d.post(&post).is_some())
        .await
        .unwrap();

    // Stored exactly once, and the room as stored has it.
    assert_eq!(log_rows(server.db(), room).await, before + 1);
    let stored = RoomDoc::new(77);
    stored
        .apply_update(&server_state(&server, &t).await)
        .unwrap();
    assert_eq!(
        stored.post(&post).map(|p| p.text),
        Some("保存できなかった投稿".to_owned())
    );
}
