//! `renraku export` → `renraku import` into an empty database gives the same rooms, posts,
//! reactions and pins; importing again duplicates nothing; a bad row imports nothing and is
//! named; a failure halfway leaves the database as it was.

use renraku_server::transfer::{self, Dataset};
use renraku_server::Db;
use renraku_tests::{storage_args, TestServer, TestStorage};
use serde_json::Value;
use sqlx::Row;

async fn empty_db(storage: &TestStorage) -> Db {
    let db = Db::connect(&storage.database_url()).await.unwrap();
    db.migrate().await.unwrap();
    db
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n")
}

fn totals(d: &Dataset) -> (usize, usize, usize, usize) {
    let sum = |f: fn(&transfer::Dataset, usize) -> usize| (0..d.rooms.len()).map(|i| f(d, i)).sum();
    (
        d.rooms.len(),
        sum(|d, i| d.rooms[i].posts.len()),
        sum(|d, i| d.rooms[i].reactions.len()),
        sum(|d, i| d.rooms[i].pins.len()),
    )
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_gives_the_same_conversations() {
    // The demo data: patients, rooms, threads with replies, reactions, pins.
    let source = TestServer::start().await;
    let exported = transfer::export(source.db(), false).await.unwrap();
    let (rooms, posts, reactions, pins) = totals(&exported);
    assert!(
        rooms >= 3 && posts >= 5 && reactions >= 1 && pins >= 1,
        "{:?}",
        totals(&exported)
    );
    assert!(exported
        .rooms
        .iter()
        .any(|r| r.posts.iter().any(|p| p.parent.is_some())));
    let bytes = serde_json::to_vec_pretty(&exported).unwrap();
    assert_eq!(
        transfer::parse(&bytes).unwrap(),
        exported,
        "the format round-trips"
    );

    let storage = TestStorage::new().await;
    let target = empty_db(&storage).await;
    let report = transfer::import(&target, &transfer::parse(&bytes).unwrap())
        .await
        .unwrap();
    assert_eq!(report.rooms_created, rooms);
    assert_eq!(report.posts_added, posts);
    assert_eq!(report.reactions_added, reactions);
    assert_eq!(report.pins_added, pins);
    let again = transfer::export(&target, false).await.unwrap();
    assert_eq!(
        again.rooms, exported.rooms,
        "same rooms, members, posts, reactions, pins"
    );
    assert_eq!(again, exported);

    // Idempotent: the same file again creates and adds nothing.
    let users_before = count(&target, "users").await;
    let updates_before = count(&target, "doc_updates").await;
    let second = transfer::import(&target, &transfer::parse(&bytes).unwrap())
        .await
        .unwrap();
    assert_eq!(second, transfer::ImportReport::default());
    assert_eq!(count(&target, "users").await, users_before);
    assert_eq!(count(&target, "doc_updates").await, updates_before);
    assert_eq!(transfer::export(&target, false).await.unwrap(), exported);
    assert!(target.verify_audit_chain().await.unwrap().intact());
    target.close().await;
}

#[tokio::test]
async fn a_file_with_a_bad_row_imports_nothing_and_names_the_row() {
    let source = TestServer::start().await;
    let exported = transfer::export(source.db(), false).await.unwrap();
    let mut json: Value = serde_json::to_value(&exported).unwrap();
    let room = json["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["posts"].as_array().is_some_and(|p| p.len() > 1))
        .unwrap();
    json["rooms"][room]["posts"][1]["author"] = "nobody".into();
    let bytes = serde_json::to_vec_pretty(&json).unwrap();
    let error = transfer::parse(&bytes).unwrap_err();
    assert_eq!(error.path, format!("rooms[{room}].posts[1].author"));
    assert!(error.to_string().contains("nobody"), "{error}");

    // Through the command line, against an empty database: a non-zero exit naming the row,
    // and nothing written.
    let storage = TestStorage::new().await;
    let file = storage.dir.path().join("bad.json");
    std::fs::write(&file, &bytes).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_renraku-test-server"))
        .args(storage_args(&storage))
        .arg("import")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("rooms[{room}].posts[1].author")),
        "{stderr}"
    );
    let db = empty_db(&storage).await;
    assert_eq!(count(&db, "municipalities").await, 0);
    assert_eq!(count(&db, "doc_updates").await, 0);

    // A good file through the command line works.
    let good = storage.dir.path().join("good.json");
    std::fs::write(&good, serde_json::to_vec(&exported).unwrap()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_renraku-test-server"))
        .args(storage_args(&storage))
        .arg("import")
        .arg(&good)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(count(&db, "rooms").await as usize, exported.rooms.len());
    db.close().await;
}

#[tokio::test]
async fn a_failure_halfway_leaves_the_database_as_it_was() {
    let source = TestServer::start().await;
    let mut exported = transfer::export(source.db(), false).await.unwrap();
    let storage = TestStorage::new().await;
    let target = empty_db(&storage).await;
    transfer::import(&target, &exported).await.unwrap();
    target.create_municipality("taken", "別の町").await.unwrap();
    let municipalities = count(&target, "municipalities").await;
    let rooms = count(&target, "rooms").await;
    let updates = count(&target, "doc_updates").await;
    let audit = count(&target, "audit_log").await;

    // A new municipality (written first), then a slug the database refuses (written
    // next): the whole import must roll back, the new municipality included.
    let mut fresh = exported.municipalities[0].clone();
    fresh.id = "brand-new".into();
    fresh.slug = "fresh-town".into();
    exported.municipalities[0].slug = "taken".into();
    exported.municipalities.insert(0, fresh);
    let bytes = serde_json::to_vec(&exported).unwrap();
    let parsed = transfer::parse(&bytes).expect("valid on its own");
    assert!(transfer::import(&target, &parsed).await.is_err());
    assert_eq!(count(&target, "municipalities").await, municipalities);
    assert_eq!(count(&target, "rooms").await, rooms);
    assert_eq!(count(&target, "doc_updates").await, updates);
    assert_eq!(count(&target, "audit_log").await, audit);
    target.close().await;
}
