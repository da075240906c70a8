//! Several nodes on one PostgreSQL database, joined through NATS (the machine's own at
//! 127.0.0.1:4222, with a subject prefix of each test's own so parallel tests never meet):
//! what one node stores reaches the members connected to another, live; and a node that
//! hears nothing through NATS still catches up from the database.

use renraku_server::db::Backend;
use renraku_sync::{Frame, RoomId};
use renraku_tests::helpers::{new_post_id, now_ms};
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{demo_args, on_backend, team_at, TestStorage};
use std::time::Duration;

use crate::BIN;

const NATS: &str = "nats://127.0.0.1:4222";

/// How the nodes of a test learn of each other's writes.
#[derive(Clone, Copy)]
enum Hearing {
    /// Through NATS alone: the database sweep is an hour away.
    Nats,
    /// Through the database sweep alone (every 200 ms): each node has a NATS prefix of its
    /// own, so NATS never carries anything between them.
    SweepOnly,
}

/// A node of a cluster on `storage`, joined through `nats` under `prefix`.
async fn node(storage: &TestStorage, nats: &str, prefix: &str, hearing: Hearing) -> ServerProcess {
    let mut args = demo_args(storage);
    let (prefix, sweep_ms) = match hearing {
        Hearing::Nats => (prefix.to_owned(), "3600000"),
        Hearing::SweepOnly => (self::prefix(), "200"),
    };
    // Compacted every few updates: a node that is behind then finds the rows it lacks
    // folded into another node's snapshot.
    args.extend(["--compact-after".into(), "3".into()]);
    args.extend([
        "--nats-url".into(),
        nats.into(),
        "--nats-prefix".into(),
        prefix,
        "--cluster-sweep-ms".into(),
        sweep_ms.into(),
    ]);
    ServerProcess::spawn(BIN, &args).await.unwrap()
}

fn prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

/// A writes on node 1, B reads on node 2; returns once B's replica has the post.
async fn post_crosses(
    one: &ServerProcess,
    two: &ServerProcess,
    storage: &TestStorage,
) -> (SyncClient, SyncClient, RoomId) {
    let t = team_at(&one.base_url, storage).await;
    let mut a = SyncClient::connect(&one.ws_url(), &t.a.token, 3101)
        .await
        .unwrap();
    let mut b = SyncClient::connect(&two.ws_url(), &t.b.token, 3202)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    b.open(t.room).await.unwrap();
    for text in [
        "一つ目: 発熱 37.8℃",
        "二つ目: 解熱を確認",
        "三つ目: 食事量 8割",
        "四つ目: 入浴介助済み",
        "五つ目: 次回訪問 金曜",
    ] {
        let root = new_post_id();
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, root.clone(), text, now_ms());
        a.write(t.room, u).await.unwrap();
        b.wait_for(t.room, text, |d| {
            d.post(&root).is_some_and(|p| p.text == text)
        })
        .await
        .unwrap();
    }
    // And back: B's reply on node 2 reaches A on node 1.
    let root = new_post_id();
    let u = b
        .doc(t.room)
        .start_thread(t.b.id, root.clone(), "了解しました", now_ms());
    b.write(t.room, u).await.unwrap();
    a.wait_for(t.room, "B's post", |d| d.post(&root).is_some())
        .await
        .unwrap();
    (a, b, t.room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_on_one_node_reaches_a_member_on_another_live() {
    on_backend(Backend::Postgres, async {
        let storage = TestStorage::new().await;
        let prefix = prefix();
        let one = node(&storage, NATS, &prefix, Hearing::Nats).await;
        let two = node(&storage, NATS, &prefix, Hearing::Nats).await;
        post_crosses(&one, &two, &storage).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_hear_nothing_through_nats_still_converge_through_the_database() {
    on_backend(Backend::Postgres, async {
        let storage = TestStorage::new().await;
        // As if NATS lost every message.
        let prefix = prefix();
        let one = node(&storage, NATS, &prefix, Hearing::SweepOnly).await;
        let two = node(&storage, NATS, &prefix, Hearing::SweepOnly).await;
        post_crosses(&one, &two, &storage).await;
    })
    .await
}

#[tokio::test]
async fn a_node_refuses_to_join_a_cluster_on_sqlite() {
    let storage = TestStorage::new().await; // SQLite outside `on_backend`
    let mut args = demo_args(&storage);
    args.extend(["--nats-url".into(), NATS.into()]);
    let started = ServerProcess::spawn(BIN, &args).await;
    assert!(started.is_err(), "a cluster on SQLite must not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_owned_on_one_node_cannot_be_used_by_another_user_on_another() {
    on_backend(Backend::Postgres, async {
        let storage = TestStorage::new().await;
        let prefix = prefix();
        let one = node(&storage, NATS, &prefix, Hearing::Nats).await;
        let two = node(&storage, NATS, &prefix, Hearing::Nats).await;
        let t = team_at(&one.base_url, &storage).await;
        // A writes with yrs client id 4242 on node 1: it is A's from now on.
        let mut a = SyncClient::connect(&one.ws_url(), &t.a.token, 4242)
            .await
            .unwrap();
        a.open(t.room).await.unwrap();
        let root = new_post_id();
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, root, "A の投稿", now_ms());
        a.write(t.room, u).await.unwrap();
        // B on node 2 writes under the same client id: refused there too.
        let mut b = SyncClient::connect(&two.ws_url(), &t.b.token, 4242)
            .await
            .unwrap();
        b.open(t.room).await.unwrap();
        let forged = b
            .doc(t.room)
            .start_thread(t.b.id, new_post_id(), "なりすまし", now_ms());
        let ack = b.send_update(t.room, forged).await.unwrap();
        let verdict = b.verdict(ack).await.unwrap();
        assert!(
            verdict.as_ref().is_err_and(|why| why.contains("4242")),
            "B's update under A's client id: {verdict:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_room_list_on_another_node_hears_of_a_new_post() {
    on_backend(Backend::Postgres, async {
        let storage = TestStorage::new().await;
        let prefix = prefix();
        let one = node(&storage, NATS, &prefix, Hearing::Nats).await;
        let two = node(&storage, NATS, &prefix, Hearing::Nats).await;
        let t = team_at(&one.base_url, &storage).await;
        let mut a = SyncClient::connect(&one.ws_url(), &t.a.token, 5101)
            .await
            .unwrap();
        a.open(t.room).await.unwrap();
        // B is on node 2 with the home screen open: connected, the room not opened. Her
        // desk, on node 2 too, has the room open.
        let mut b = SyncClient::connect(&two.ws_url(), &t.b.token, 5202)
            .await
            .unwrap();
        let mut b_desk = SyncClient::connect(&two.ws_url(), &t.b.token, 5203)
            .await
            .unwrap();
        b_desk.open(t.room).await.unwrap();
        let u =
            a.doc(t.room)
                .start_thread(t.a.id, new_post_id(), "褥瘡の処置を変更しました", now_ms());
        a.write(t.room, u).await.unwrap();
        let in_room = |f: &Frame| matches!(f, Frame::RoomActivity { room, .. } if *room == t.room);
        let heard = b.wait_event(in_room).await.unwrap();
        let Frame::RoomActivity { author, text, .. } = heard else {
            unreachable!()
        };
        assert_eq!(author, t.a.id);
        assert_eq!(text, "褥瘡の処置を変更しました");
        // The desk read it from the relayed update; node 2 did not send it the frame.
        let heard = b_desk.wait_news(in_room).await.unwrap();
        assert!(
            matches!(heard, Frame::RoomActivity { text, .. } if text == "褥瘡の処置を変更しました")
        );
        b_desk.drain(Duration::from_millis(300)).await;
        assert!(!b_desk.events.iter().any(in_room), "{:?}", b_desk.events);
        assert!(b_desk.news.is_empty(), "once: {:?}", b_desk.news);
    })
    .await
}
