//! Issue 19, state shared by several nodes on one database: what one node did, another
//! knows. Two servers run in this process on one database ([`TestServer::another_node`]),
//! or two database handles stand for two nodes; on SQLite and PostgreSQL.

use renraku_server::auth::throttle::{MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, WINDOW};
use renraku_server::db::push::SubscriptionKeys;
use renraku_server::db::sessions::{NewSession, SessionId};
use renraku_server::db::users::Role;
use renraku_server::demo::DEMO_PASSWORD;
use renraku_server::{Clock, Db};
use renraku_sync::UserId;
use renraku_tests::fixture::Fixture;
use renraku_tests::helpers::{error_code, now_ms};
use renraku_tests::{signin_request, TestServer, TestStorage};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

async fn signin(server: &TestServer, login: &str, password: &str) -> reqwest::Response {
    let body = json!({ "login_id": login, "password": password });
    signin_request(&server.base_url(), "demo", &body)
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits (within a generous bound) until `done` holds: for a node's background task.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two nodes of one deployment on fresh storage, living by one manual clock.
async fn two_nodes() -> (TestServer, TestServer) {
    let a = TestServer::start_with_clock(Clock::manual(now_ms()), |_| {}).await;
    let b = a.another_node().await;
    (a, b)
}

test_both_dbs!(failures_spread_over_two_nodes_block_the_account_on_both);
async fn failures_spread_over_two_nodes_block_the_account_on_both() {
    let (a, b) = two_nodes().await;
    // A success on one node clears the account's failures on every node.
    for _ in 0..MAX_ACCOUNT_FAILURES - 1 {
        let r = signin(&a, "helper1", "guess-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let ok = signin(&b, "helper1", DEMO_PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
    for _ in 0..MAX_ACCOUNT_FAILURES - 1 {
        let r = signin(&a, "helper1", "guess-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let ok = signin(&a, "helper1", DEMO_PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);

    // Half the budget on each node: per node, neither would block.
    for i in 0..MAX_ACCOUNT_FAILURES {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = signin(node, "helper1", "guess-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for node in [&a, &b] {
        let blocked = signin(node, "Helper1", DEMO_PASSWORD).await;
        assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&blocked);
        assert!(
            (WINDOW.as_secs() - 60..=WINDOW.as_secs()).contains(&wait),
            "{wait}"
        );
        assert_eq!(error_code(blocked).await, "too_many_requests");
    }
    // Other accounts from the same address are not held back.
    assert_eq!(
        signin(&b, "nurse1", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(a.audit_count("signin.throttled").await, 2);

    // The block ends with its window, on both nodes' (shared) clock.
    a.clock().advance(WINDOW - Duration::from_secs(1));
    let still = signin(&b, "helper1", DEMO_PASSWORD).await;
    assert_eq!(still.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&still), 1);
    a.clock().advance(Duration::from_secs(1));
    assert_eq!(
        signin(&a, "helper1", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
}

test_both_dbs!(failures_from_one_address_over_two_nodes_block_it_on_both_until_swept);
async fn failures_from_one_address_over_two_nodes_block_it_on_both_until_swept() {
    let (a, b) = two_nodes().await;
    // Many accounts (most of them unknown), never one account's budget.
    for i in 0..MAX_ADDRESS_FAILURES {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = signin(node, &format!("guess{i}"), "guess-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for node in [&a, &b] {
        let blocked = signin(node, "nurse1", DEMO_PASSWORD).await;
        assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let counters = a.db().signin_failure_keys().await.unwrap();
    assert_eq!(counters, i64::from(MAX_ADDRESS_FAILURES) + 1);

    // Once the window is over, the address may sign in again, and the sweeper of either
    // node forgets every counter: the table holds one window's failures at most.
    a.clock().advance(WINDOW);
    assert_eq!(
        signin(&a, "nurse1", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
    let db = a.db().clone();
    eventually("the expired counters are swept", || {
        let db = db.clone();
        async move { db.signin_failure_keys().await.unwrap() == 0 }
    })
    .await;
}

/// Two handles on one fresh, migrated database: two nodes, without their servers (whose
/// workers would take part).
async fn two_handles(storage: &TestStorage) -> (Db, Db) {
    let one = Db::connect(&storage.database_url()).await.unwrap();
    one.migrate().await.unwrap();
    let two = Db::connect(&storage.database_url()).await.unwrap();
    (one, two)
}

test_both_dbs!(two_nodes_leasing_pushes_at_once_never_lease_the_same_one);
async fn two_nodes_leasing_pushes_at_once_never_lease_the_same_one() {
    let storage = TestStorage::new().await;
    let (one, two) = two_handles(&storage).await;
    let f = Fixture::new()
        .municipality("a")
        .user("a", "nurse", Role::Member)
        .build(&one)
        .await;
    let user = f.user("nurse");
    let session = SessionId::generate();
    let now = now_ms();
    one.create_session(&NewSession {
        id_hash: "not-a-real-hash",
        id: &session,
        user,
        now,
        expires_at: now + 3_600_000,
        user_agent: "test",
    })
    .await
    .unwrap();
    let keys = SubscriptionKeys {
        endpoint: "https://push.example/device".into(),
        p256dh: "p256dh".into(),
        auth: "auth".into(),
    };
    let subscription = one
        .save_push_subscription(user, session.as_str(), &keys)
        .await
        .unwrap();
    const PUSHES: i64 = 300;
    for i in 0..PUSHES {
        sqlx::query(
            "INSERT INTO push_outbox (subscription_id, room_id, payload, urgency, ttl_secs, \
                 topic, next_attempt_at, created_at) VALUES ($1, 0, $2, 'normal', 60, 't', $3, $4)",
        )
        .bind(subscription)
        .bind(format!("push {i}"))
        .bind(now - 1_000)
        .bind(now - 1_000)
        .execute(one.pool())
        .await
        .unwrap();
    }

    // Four workers per node, leasing small batches as fast as they can.
    let mut workers = Vec::new();
    for db in [&one, &two] {
        for _ in 0..4 {
            let db = db.clone();
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let leased = db.lease_pushes(5, 600_000).await.unwrap();
                    if leased.is_empty() {
                        return mine;
                    }
                    mine.extend(leased.into_iter().map(|p| p.id));
                }
            }));
        }
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for worker in workers {
        let mine = worker.await.unwrap();
        busy += usize::from(!mine.is_empty());
        all.extend(mine);
    }
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a push was leased twice");
    assert_eq!(all.len() as i64, PUSHES, "every due push was leased");
    assert!(busy > 1, "one worker leased everything: nothing raced");

    // On PostgreSQL a lease passes over rows another node's lease is taking (its
    // transaction holds them) instead of waiting for that transaction; SQLite's one writer
    // leases one at a time anyway.
    if renraku_tests::backend() == renraku_tests::Backend::Postgres {
        sqlx::query("UPDATE push_outbox SET lease_until = 0")
            .execute(one.pool())
            .await
            .unwrap();
        let mut taking = one.pool().begin().await.unwrap();
        let held: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM push_outbox ORDER BY id LIMIT 5 FOR UPDATE")
                .fetch_all(&mut *taking)
                .await
                .unwrap();
        let leased = tokio::time::timeout(Duration::from_secs(10), two.lease_pushes(5, 600_000))
            .await
            .expect("a lease waited for another node's")
            .unwrap();
        let leased: Vec<i64> = leased.iter().map(|p| p.id).collect();
        assert_eq!(leased.len(), 5);
        assert!(
            leased.iter().all(|id| !held.contains(id)),
            "{leased:?} {held:?}"
        );
        taking.rollback().await.unwrap();
    }
    one.close().await;
    two.close().await;
}

test_both_dbs!(compactions_on_two_nodes_and_appends_keep_every_update_and_never_go_back);
async fn compactions_on_two_nodes_and_appends_keep_every_update_and_never_go_back() {
    let storage = TestStorage::new().await;
    let (one, two) = two_handles(&storage).await;
    let doc = "room/777";
    const UPDATES: i64 = 120;
    let writer = {
        let db = one.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..UPDATES {
                let bytes = i.to_be_bytes().to_vec();
                seqs.extend(
                    db.append_updates(doc, &[(UserId::new(1), bytes)])
                        .await
                        .unwrap(),
                );
            }
            seqs
        })
    };
    // Each node compacts what it has read of the log, as a room holding the document does:
    // its snapshot names the highest seq it covers.
    let compactors: Vec<_> = [one.clone(), two.clone()]
        .into_iter()
        .map(|db| {
            tokio::spawn(async move {
                let mut covered = Vec::new();
                for _ in 0..40 {
                    let (snapshot, tail) = db.load_doc(doc).await.unwrap();
                    let up_to = tail
                        .last()
                        .map(|(seq, _)| *seq)
                        .or(snapshot.map(|(_, seq)| seq))
                        .unwrap_or(0);
                    if up_to > 0 {
                        let state = format!("up to {up_to}");
                        db.compact(doc, state.as_bytes(), up_to).await.unwrap();
                        covered.push(up_to);
                    }
                    tokio::task::yield_now().await;
                }
                covered
            })
        })
        .collect();
    let seqs = writer.await.unwrap();
    assert_eq!(seqs, (1..=UPDATES).collect::<Vec<_>>());
    let mut highest = 0;
    for compactor in compactors {
        highest = highest.max(compactor.await.unwrap().into_iter().max().unwrap_or(0));
    }
    let (snapshot, tail) = two.load_doc(doc).await.unwrap();
    let (state, up_to) = snapshot.expect("compacted");
    // The newest compaction won, whichever node committed last.
    assert_eq!(up_to, highest);
    assert_eq!(state, format!("up to {up_to}").into_bytes());
    // Everything after the snapshot is still in the log, in order, none lost.
    let expected: Vec<(i64, Vec<u8>)> = (up_to + 1..=UPDATES)
        .map(|seq| (seq, (seq - 1).to_be_bytes().to_vec()))
        .collect();
    assert_eq!(tail, expected);
    one.close().await;
    two.close().await;
}

test_both_dbs!(a_compaction_waits_for_another_nodes_append_of_the_same_document);
async fn a_compaction_waits_for_another_nodes_append_of_the_same_document() {
    let storage = TestStorage::new().await;
    let (one, two) = two_handles(&storage).await;
    let doc = "room/778";
    let user = UserId::new(1);
    let seqs = one
        .append_updates(doc, &[(user, vec![1]), (user, vec![2])])
        .await
        .unwrap();
    assert_eq!(seqs, vec![1, 2]);
    // Node one is in the middle of appending (its transaction holds the document's lock)
    // when node two compacts what it has read.
    let mut appending = one.pool().begin().await.unwrap();
    let seq = renraku_server::db::doc_log::append_in(
        &mut appending,
        one.backend(),
        doc,
        user,
        &[3],
        now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(seq, 3);
    let compaction = tokio::spawn({
        let two = two.clone();
        async move { two.compact(doc, b"up to 2", 2).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !compaction.is_finished(),
        "the compaction did not wait for the append"
    );
    appending.commit().await.unwrap();
    compaction.await.unwrap().unwrap();
    let (snapshot, tail) = two.load_doc(doc).await.unwrap();
    assert_eq!(snapshot, Some((b"up to 2".to_vec(), 2)));
    assert_eq!(tail, vec![(3, vec![3])]);
    one.close().await;
    two.close().await;
}

test_both_dbs!(three_nodes_starting_at_once_on_an_empty_database_all_start);
async fn three_nodes_starting_at_once_on_an_empty_database_all_start() {
    let storage = TestStorage::new().await;
    let mut config = renraku_server::Config::with_data_dir(storage.dir.path());
    config.database_url = Some(storage.database_url());
    config.demo = true;
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move { renraku_server::prepare(&config).await })
        })
        .collect();
    let mut dbs = Vec::new();
    for start in starts {
        dbs.push(start.await.unwrap().expect("every node starts"));
    }
    let db = &dbs[0];
    let demos: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM municipalities WHERE slug = 'demo'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(demos, 1);
    // One VAPID key pair, the one every node serves.
    let keys = db.vapid_keys().await.unwrap().expect("VAPID keys");
    for other in &dbs[1..] {
        assert_eq!(other.vapid_keys().await.unwrap(), Some(keys.clone()));
    }
    for db in dbs {
        db.close().await;
    }
}
