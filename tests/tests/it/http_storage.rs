//! The storage layer the sync hub relies on: the per-document update log, snapshots and
//! compaction, and client id bindings, on both backends. Also: the demo data is complete.

use renraku_sync::{DocId, RoomDoc, RoomId, UserId};
use renraku_tests::TestServer;
use std::collections::BTreeSet;

test_both_dbs!(appended_updates_get_consecutive_seqs_that_survive_compaction);
async fn appended_updates_get_consecutive_seqs_that_survive_compaction() {
    let server = TestServer::start().await;
    let db = server.db();
    let (u1, u2) = (UserId::new(1), UserId::new(2));
    let doc = "room/424242";
    assert_eq!(db.load_doc(doc).await.unwrap(), (None, vec![]));

    let seqs = db
        .append_updates(doc, &[(u1, vec![1]), (u2, vec![2]), (u1, vec![3])])
        .await
        .unwrap();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(
        db.append_updates(doc, &[(u2, vec![4])]).await.unwrap(),
        vec![4]
    );
    assert_eq!(
        db.append_updates(doc, &[]).await.unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(db.log_len(doc).await.unwrap(), 4);
    // Other documents have their own sequence.
    assert_eq!(
        db.append_updates("user/1", &[(u1, vec![9])]).await.unwrap(),
        vec![1]
    );

    db.compact(doc, b"state-3", 3).await.unwrap();
    assert_eq!(db.log_len(doc).await.unwrap(), 1);
    let (snapshot, tail) = db.load_doc(doc).await.unwrap();
    assert_eq!(snapshot, Some((b"state-3".to_vec(), 3)));
    assert_eq!(tail, vec![(4, vec![4])]);

    // Compacting everything empties the log, and seqs still never repeat.
    db.compact(doc, b"state-4", 4).await.unwrap();
    assert_eq!(db.log_len(doc).await.unwrap(), 0);
    assert_eq!(
        db.append_updates(doc, &[(u1, vec![5])]).await.unwrap(),
        vec![5]
    );
    // A stale compaction cannot move the snapshot back.
    db.compact(doc, b"old", 2).await.unwrap();
    let (snapshot, tail) = db.load_doc(doc).await.unwrap();
    assert_eq!(snapshot, Some((b"state-4".to_vec(), 4)));
    assert_eq!(tail, vec![(5, vec![5])]);
}

test_both_dbs!(racing_appenders_never_share_a_seq);
async fn racing_appenders_never_share_a_seq() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for writer in 0..6_i64 {
        let db = server.db().clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..15_i64 {
                let doc = if (writer + i) % 2 == 0 {
                    "test/a"
                } else {
                    "test/b"
                };
                let rows = [
                    (UserId::new(writer), vec![writer as u8]),
                    (UserId::new(writer), vec![i as u8]),
                ];
                let seqs = db.append_updates(doc, &rows).await.unwrap();
                assert_eq!(seqs[1], seqs[0] + 1);
                seen.extend(seqs.into_iter().map(|s| (doc, s)));
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a seq was handed out twice");
    for doc in ["test/a", "test/b"] {
        let seqs: Vec<i64> = unique
            .iter()
            .filter(|(d, _)| *d == doc)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "{doc} has gaps"
        );
    }
}

test_both_dbs!(a_client_id_belongs_to_its_first_user);
async fn a_client_id_belongs_to_its_first_user() {
    let server = TestServer::start().await;
    let db = server.db();
    let (alice, bob) = (UserId::new(1), UserId::new(2));
    assert_eq!(db.client_owner(77).await.unwrap(), None);
    assert_eq!(db.bind_clients(alice, &[77, 78]).await.unwrap(), Ok(()));
    assert_eq!(db.bind_clients(alice, &[77, 79]).await.unwrap(), Ok(()));
    assert_eq!(db.client_owner(79).await.unwrap(), Some(alice));
    // Bob may not reuse 78; nothing of his request is bound, not even the free 80.
    assert_eq!(db.bind_clients(bob, &[80, 78]).await.unwrap(), Err(78));
    assert_eq!(db.client_owner(80).await.unwrap(), None);
    assert_eq!(db.client_owner(78).await.unwrap(), Some(alice));
    assert_eq!(db.bind_clients(bob, &[80]).await.unwrap(), Ok(()));
    assert_eq!(db.client_owner(u64::MAX).await.unwrap(), None);
}

test_both_dbs!(a_group_commit_binds_client_ids_with_their_updates_and_refuses_a_taken_one);
/// Issue 13 §5: a group commit binds each document's new client ids with its rows. When two
/// users claim one id in the same commit (two rooms, or two nodes, racing), the second
/// claimant's share is stored nowhere — not its rows, nor its other ids — and the other
/// documents in that commit are stored whole.
async fn a_group_commit_binds_client_ids_with_their_updates_and_refuses_a_taken_one() {
    use renraku_server::db::doc_log::DocAppend;
    let server = TestServer::start().await;
    let db = server.db();
    let (alice, bob) = (UserId::new(1), UserId::new(2));
    fn share<'a>(
        doc: &'a str,
        rows: &'a [(UserId, Vec<u8>)],
        bind: &'a [(UserId, u64)],
    ) -> DocAppend<'a> {
        DocAppend {
            doc,
            rows,
            bind,
            projection: None,
        }
    }
    let appended = db
        .append_batch(
            &[
                share("room/900001", &[(alice, vec![1])], &[(alice, 900_501)]),
                share(
                    "room/900002",
                    &[(bob, vec![2])],
                    &[(bob, 900_502), (bob, 900_501)],
                ),
                share("room/900003", &[(bob, vec![3])], &[(bob, 900_503)]),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(appended, vec![Ok(vec![1]), Err(900_501), Ok(vec![1])]);
    assert_eq!(db.client_owner(900_501).await.unwrap(), Some(alice));
    assert_eq!(db.client_owner(900_502).await.unwrap(), None);
    assert_eq!(db.client_owner(900_503).await.unwrap(), Some(bob));
    assert_eq!(db.load_doc("room/900002").await.unwrap(), (None, vec![]));
    assert_eq!(
        db.load_doc("room/900003").await.unwrap(),
        (None, vec![(1, vec![3])])
    );
    // A later commit binding an id to its owner again changes nothing.
    let again = db
        .append_batch(
            &[share(
                "room/900001",
                &[(alice, vec![4])],
                &[(alice, 900_501)],
            )],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(again, vec![Ok(vec![2])]);
}

test_both_dbs!(the_demo_rooms_hold_conversations);
async fn the_demo_rooms_hold_conversations() {
    let server = TestServer::start().await;
    let db = server.db();
    let token = server.signin("nurse1").await;
    let rooms: Vec<serde_json::Value> =
        serde_json::from_value(server.get_json(&token, "/api/rooms").await).unwrap();
    let mut docs = Vec::new();
    for room in &rooms {
        let room = RoomId::new(room["id"].as_i64().unwrap());
        let (snapshot, tail) = db.load_doc(&DocId::Room(room).storage_key()).await.unwrap();
        let doc = RoomDoc::new(99);
        if let Some((state, _)) = snapshot {
            doc.apply_update(&state).unwrap();
        }
        for (_, update) in &tail {
            doc.apply_update(update).unwrap();
        }
        docs.push(doc);
    }
    assert!(docs.iter().filter(|d| !d.threads().is_empty()).count() >= 3);
    assert!(docs
        .iter()
        .any(|d| d.threads().iter().any(|t| !t.replies.is_empty())));
    assert!(docs.iter().any(|d| !d.pins().is_empty()));
    assert!(docs.iter().any(|d| !d.read_markers().is_empty()));
    // Every author wrote through a client id bound to them.
    for post in docs.iter().flat_map(|d| d.posts()) {
        let ours = sqlx::query("SELECT COUNT(*) AS n FROM yjs_clients WHERE user_id = $1")
            .bind(post.author.get())
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(sqlx::Row::get::<i64, _>(&ours, "n") > 0);
    }
}

test_both_dbs!(one_commit_gives_a_documents_shares_the_seqs_after_its_snapshot_in_order);
/// A group commit that holds two shares of one document, more rows than one statement
/// writes: each share's rows take the seqs after the snapshot's, in order, and the log
/// reads back in that order.
async fn one_commit_gives_a_documents_shares_the_seqs_after_its_snapshot_in_order() {
    use renraku_server::db::doc_log::DocAppend;
    let server = TestServer::start().await;
    let db = server.db();
    let doc = "room/900100";
    let user = UserId::new(1);
    let first: Vec<(UserId, Vec<u8>)> = (1..=5_u8).map(|b| (user, vec![b])).collect();
    db.append_updates(doc, &first).await.unwrap();
    db.compact(doc, &[0], 5).await.unwrap();
    let big: Vec<(UserId, Vec<u8>)> = (10..50_u8).map(|b| (user, vec![b])).collect();
    let small: Vec<(UserId, Vec<u8>)> = (60..63_u8).map(|b| (user, vec![b])).collect();
    let other: Vec<(UserId, Vec<u8>)> = vec![(user, vec![99])];
    let share = |doc, rows| DocAppend {
        doc,
        rows,
        bind: &[],
        projection: None,
    };
    let appended = db
        .append_batch(
            &[
                share(doc, &big),
                share("room/900101", &other),
                share(doc, &small),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        appended,
        vec![
            Ok((6..=45).collect::<Vec<i64>>()),
            Ok(vec![1]),
            Ok(vec![46, 47, 48]),
        ]
    );
    let (snapshot, tail) = db.load_doc(doc).await.unwrap();
    assert_eq!(snapshot, Some((vec![0], 5)));
    let expected: Vec<(i64, Vec<u8>)> = (6..)
        .zip(big.iter().chain(&small).map(|(_, bytes)| bytes.clone()))
        .collect();
    assert_eq!(tail, expected);
}
