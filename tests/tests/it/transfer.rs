//! `renraku export` → `renraku import` into an empty database gives the same rooms, posts,
//! reactions and pins; importing again duplicates nothing; a bad row imports nothing and is
//! named; a failure halfway leaves the database as it was.

use renraku_server::import_export::{self as transfer, Dataset};
use renraku_server::Db;
use renraku_tests::{storage_args, TestServer, TestStorage};
use serde_json::{json, Value};
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

test_both_dbs!(export_then_import_into_an_empty_database_gives_the_same_conversations);
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
    // The projection (search, unread counts) follows the import in its transaction: a
    // member finds an imported post at once, with no restart.
    let row = sqlx::query(
        "SELECT m.user_id, p.text FROM posts p JOIN room_members m ON m.room_id = p.room_id \
         WHERE NOT p.deleted ORDER BY p.post_id LIMIT 1",
    )
    .fetch_one(target.pool())
    .await
    .expect("imported posts are projected");
    let text: String = row.get("text");
    let word: String = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(4)
        .collect();
    let found = target
        .search_posts(&renraku_server::db::search::PostSearch {
            limit: 100,
            ..renraku_server::db::search::PostSearch::new(
                renraku_sync::UserId::new(row.get("user_id")),
                renraku_sync::search::terms(&word),
            )
        })
        .await
        .unwrap();
    assert!(
        found.hits.iter().any(|h| h.text == text),
        "an imported post is found by {word:?}"
    );
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

test_both_dbs!(a_file_with_a_bad_row_imports_nothing_and_names_the_row);
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

test_both_dbs!(a_failure_halfway_leaves_the_database_as_it_was);
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

/// Two municipalities, a professional of each, and a patient of 青葉市 with a room.
/// `room` is the patient room's record, to be filled in by each test.
fn two_towns(agreements: Value, room: Value) -> Value {
    serde_json::json!({
        "format": "renraku/1",
        "municipalities": [
            { "id": "m-aoba", "slug": "aoba", "name": "青葉市" },
            { "id": "m-midori", "slug": "midori", "name": "緑町" }
        ],
        "agreements": agreements,
        "users": [
            { "id": "u-aoba", "municipality": "m-aoba", "login_id": "nurse",
              "display_name": "青葉 看護", "display_name_kana": "あおば かんご",
              "profession": "nurse" },
            { "id": "u-midori", "municipality": "m-midori", "login_id": "doctor",
              "display_name": "緑 医師", "display_name_kana": "みどり いし",
              "profession": "doctor" }
        ],
        "patients": [
            { "id": "p-1", "municipality": "m-aoba", "name": "境 越子",
              "name_kana": "さかい こえこ", "birth_date": "1940-01-02",
              "address": "青葉市一丁目" }
        ],
        "rooms": [room]
    })
}

fn patient_room(members: &[&str], author: &str) -> Value {
    serde_json::json!({
        "id": "r-1", "municipality": "m-aoba", "kind": "patient", "title": "境 越子",
        "patient": "p-1",
        "members": members.iter().map(|u| serde_json::json!({ "user": u })).collect::<Vec<_>>(),
        "posts": [{ "id": "01HZX3J8Q6W3V7K2M4N5P6R7S8", "author": author,
                    "created_at": 1700000001000_i64, "text": "本日訪問しました。" }]
    })
}

/// Rows of every table an import writes, to show a refused import wrote none of them.
async fn written(db: &Db) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "municipalities",
        "agreement_members",
        "users",
        "patients",
        "rooms",
        "room_members",
        "doc_updates",
        "yjs_clients",
        "external_ids",
        "audit_log",
    ] {
        out.push((table, count(db, table).await));
    }
    out
}

fn refused_at(result: renraku_server::Result<transfer::ImportReport>) -> String {
    match result {
        Err(renraku_server::Error::ImportRefused(e)) => {
            assert!(e.to_string().contains(&e.path), "{e}");
            e.path
        }
        other => panic!("expected a refused import, got {other:?}"),
    }
}

async fn is_member_by_login(db: &Db, slug: &str, login: &str) -> bool {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM room_members rm JOIN users u ON u.id = rm.user_id \
         JOIN municipalities m ON m.id = u.municipality_id WHERE m.slug = $1 AND u.login_id = $2",
    )
    .bind(slug)
    .bind(login)
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get::<i64, _>("n")
        > 0
}

test_both_dbs!(an_import_putting_another_municipalitys_professional_in_a_room_is_refused_whole);
async fn an_import_putting_another_municipalitys_professional_in_a_room_is_refused_whole() {
    let storage = TestStorage::new().await;
    let db = empty_db(&storage).await;
    let parse = |v: &Value| transfer::parse(&serde_json::to_vec(v).unwrap()).unwrap();

    // 緑町's doctor listed as a member of 青葉市's patient room, no agreement: refused by
    // the library, naming the member, and nothing written.
    let member = two_towns(json!([]), patient_room(&["u-aoba", "u-midori"], "u-aoba"));
    let before = written(&db).await;
    let path = refused_at(transfer::import(&db, &parse(&member)).await);
    assert_eq!(path, "rooms[0].members[1].user");
    assert_eq!(written(&db).await, before);

    // The same through the command line: a non-zero exit naming the row, nothing written.
    let file = storage.dir.path().join("cross.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&member).unwrap()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_renraku-test-server"))
        .args(storage_args(&storage))
        .arg("import")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rooms[0].members[1].user"), "{stderr}");
    assert!(stderr.contains("nothing imported"), "{stderr}");
    assert_eq!(written(&db).await, before);
    assert!(!is_member_by_login(&db, "midori", "doctor").await);

    // An author who is not allowed in the room either (a post forged in their name), and a
    // reaction and a pin by them.
    let author = two_towns(json!([]), patient_room(&["u-aoba"], "u-midori"));
    let path = refused_at(transfer::import(&db, &parse(&author)).await);
    assert_eq!(path, "rooms[0].posts[0].author");
    let mut reaction = two_towns(json!([]), patient_room(&["u-aoba"], "u-aoba"));
    reaction["rooms"][0]["reactions"] = json!([
        { "post": "01HZX3J8Q6W3V7K2M4N5P6R7S8", "user": "u-aoba", "kind": "ack" },
        { "post": "01HZX3J8Q6W3V7K2M4N5P6R7S8", "user": "u-midori", "kind": "like" }
    ]);
    let path = refused_at(transfer::import(&db, &parse(&reaction)).await);
    assert_eq!(path, "rooms[0].reactions[1].user");
    let mut pin = two_towns(json!([]), patient_room(&["u-aoba"], "u-aoba"));
    pin["rooms"][0]["pins"] = json!([{ "post": "01HZX3J8Q6W3V7K2M4N5P6R7S8", "by": "u-midori", "at": 1700000004000_i64 }]);
    let path = refused_at(transfer::import(&db, &parse(&pin)).await);
    assert_eq!(path, "rooms[0].pins[0].by");
    assert_eq!(written(&db).await, before);

    // The same file with a wide-area agreement of the two towns in it: the agreement is
    // written in the same transaction, so it counts, and the doctor is a member.
    let agreed = two_towns(
        json!([{ "id": "a-1", "name": "広域連携協定", "members": ["m-aoba", "m-midori"] }]),
        patient_room(&["u-aoba", "u-midori"], "u-midori"),
    );
    let report = transfer::import(&db, &parse(&agreed)).await.unwrap();
    assert_eq!((report.rooms_created, report.members_added), (1, 2));
    assert!(is_member_by_login(&db, "midori", "doctor").await);
    db.close().await;
}

test_both_dbs!(
    an_import_may_not_move_someone_into_the_rooms_municipality_or_use_an_agreement_it_lacks
);
async fn an_import_may_not_move_someone_into_the_rooms_municipality_or_use_an_agreement_it_lacks() {
    let storage = TestStorage::new().await;
    let db = empty_db(&storage).await;
    let parse = |v: &Value| transfer::parse(&serde_json::to_vec(v).unwrap()).unwrap();
    // Both towns and their people, the room with 青葉市's nurse only.
    let first = two_towns(json!([]), patient_room(&["u-aoba"], "u-aoba"));
    transfer::import(&db, &parse(&first)).await.unwrap();
    let before = written(&db).await;

    // The doctor's record claimed for 青葉市: the import would keep them in 緑町 (it never
    // moves an account) and so let them in without an agreement.
    let mut moved = two_towns(json!([]), patient_room(&["u-aoba", "u-midori"], "u-aoba"));
    moved["users"][1]["municipality"] = "m-aoba".into();
    let path = refused_at(transfer::import(&db, &parse(&moved)).await);
    assert_eq!(path, "users[1].municipality");
    assert_eq!(written(&db).await, before);
    assert!(!is_member_by_login(&db, "midori", "doctor").await);

    // An agreement already in the database counts; one of 緑町 with a third town does not.
    let third = db.create_municipality("sora", "空村").await.unwrap();
    let midori = db.municipality_by_slug("midori").await.unwrap().unwrap().id;
    let aoba = db.municipality_by_slug("aoba").await.unwrap().unwrap().id;
    let elsewhere = db.create_agreement("緑・空協定").await.unwrap();
    db.join_agreement(elsewhere, midori).await.unwrap();
    db.join_agreement(elsewhere, third).await.unwrap();
    let again = two_towns(json!([]), patient_room(&["u-aoba", "u-midori"], "u-aoba"));
    let path = refused_at(transfer::import(&db, &parse(&again)).await);
    assert_eq!(path, "rooms[0].members[1].user");
    assert!(!is_member_by_login(&db, "midori", "doctor").await);
    let shared = db.create_agreement("青葉・緑協定").await.unwrap();
    db.join_agreement(shared, aoba).await.unwrap();
    db.join_agreement(shared, midori).await.unwrap();
    let report = transfer::import(&db, &parse(&again)).await.unwrap();
    assert_eq!(report.members_added, 1);
    assert!(is_member_by_login(&db, "midori", "doctor").await);
    db.close().await;
}
