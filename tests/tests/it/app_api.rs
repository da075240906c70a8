//! The API the app's screens use: the room list (with names of message rooms' members), a
//! room's header and care team, the directory of colleagues, and starting message rooms.
//! Runs on SQLite and PostgreSQL.

use renraku_contract::Profession;
use renraku_sync::{RoomId, UserId};
use renraku_tests::api::Api;
use renraku_tests::helpers::user_id;
use renraku_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

async fn get_json(server: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    let response = server
        .client(token)
        .get(server.url(path))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn start_message(server: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    let response = server
        .client(token)
        .post(server.url("/api/rooms/messages"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

test_both_dbs!(directory_lists_colleagues_of_my_municipality_and_finds_them_by_kana_and_profession);
async fn directory_lists_colleagues_of_my_municipality_and_finds_them_by_kana_and_profession() {
    let server = TestServer::start().await;
    let doctor = Api::new(&server.base_url(), &server.signin("doctor1").await);
    let me = user_id(server.db(), "doctor1").await;

    let all = doctor.directory("").await.unwrap();
    let everyone: Vec<UserId> = all.iter().map(|c| c.id).collect();
    assert_eq!(
        everyone.len(),
        9,
        "the nine other demo professionals (not the parking lender's account): {all:?}"
    );
    assert!(
        all.iter().all(|c| c.display_name != "小川 道隆"),
        "a lender is not a colleague"
    );
    assert!(!everyone.contains(&me), "I am not my own colleague");
    let nurse = all
        .iter()
        .find(|c| c.display_name_kana == "さとう はなこ")
        .expect("nurse1 is listed with kana");
    assert_eq!(nurse.profession, Profession::Nurse);
    assert_eq!(
        nurse.organization_name.as_deref(),
        Some("ひかり訪問看護ステーション")
    );

    // Katakana finds hiragana kana; professions are found by their Japanese name.
    let found = doctor.directory("サトウ").await.unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![nurse.id]
    );
    let pharmacists = doctor.directory("薬剤師").await.unwrap();
    let professions: Vec<Profession> = pharmacists.iter().map(|c| c.profession).collect();
    assert_eq!(professions, vec![Profession::Pharmacist]);

    // A disabled account is nobody to message.
    let nurse_id = nurse.id;
    server.db().set_user_disabled(nurse_id, true).await.unwrap();
    let after = doctor.directory("").await.unwrap();
    assert!(!after.iter().any(|c| c.id == nurse_id));

    let anonymous = Api::anonymous(&server.base_url()).directory("").await;
    assert_eq!(
        anonymous.unwrap_err().status(),
        Some(StatusCode::UNAUTHORIZED)
    );
}

test_both_dbs!(a_one_to_one_message_reuses_the_existing_room_and_a_group_gets_a_new_one);
async fn a_one_to_one_message_reuses_the_existing_room_and_a_group_gets_a_new_one() {
    let server = TestServer::start().await;
    let doctor = server.signin("doctor1").await;
    let nurse_id = user_id(server.db(), "nurse1").await;
    let pharmacist_id = user_id(server.db(), "pharmacist1").await;
    let caremgr_id = user_id(server.db(), "caremgr1").await;

    // The demo data already has doctor1 ⇄ nurse1: that room comes back, nothing is created.
    let before = server.audit_count("room.create").await;
    let (status, existing) =
        start_message(&server, &doctor, json!({ "members": [nurse_id] })).await;
    assert_eq!(status, StatusCode::OK, "{existing}");
    assert_eq!(existing["created"], false);
    let (_, again) = start_message(&server, &doctor, json!({ "members": [nurse_id] })).await;
    assert_eq!(again["id"], existing["id"], "the same 1:1 room every time");
    assert_eq!(server.audit_count("room.create").await, before);

    // A new 1:1 pair: created once, then reused (from either side).
    let (status, created) =
        start_message(&server, &doctor, json!({ "members": [pharmacist_id] })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["created"], true);
    let pharmacist = server.signin("pharmacist1").await;
    let me = user_id(server.db(), "doctor1").await;
    let (status, from_other_side) =
        start_message(&server, &pharmacist, json!({ "members": [me] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(from_other_side["id"], created["id"]);
    assert_eq!(server.audit_count("room.create").await, before + 1);

    // It is in both lists, as a message room naming the other person.
    let room_id = created["id"].as_i64().unwrap();
    let (_, mine) = get_json(&server, &doctor, "/api/rooms").await;
    let entry = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room_id)
        .expect("the new room is in my list");
    assert_eq!(entry["kind"], "message");
    assert_eq!(entry["member_count"], 2);
    assert_eq!(entry["member_names"], json!(["田中 翔太"]), "{entry}");
    let (_, theirs) = get_json(&server, &pharmacist, "/api/rooms").await;
    assert!(ids(&theirs).contains(&room_id));

    // A group: its own room, with the title given, even when a 1:1 room exists.
    let (status, group) = start_message(
        &server,
        &doctor,
        json!({ "members": [nurse_id, caremgr_id, nurse_id], "title": "退院前カンファレンス" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let group_id = RoomId::new(group["id"].as_i64().unwrap());
    let (_, detail) = get_json(&server, &doctor, &format!("/api/rooms/{group_id}")).await;
    assert_eq!(detail["title"], "退院前カンファレンス");
    assert_eq!(detail["kind"], "message");
    let mut members: Vec<i64> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"].as_i64().unwrap())
        .collect();
    members.sort();
    let mut expected = vec![me.get(), nurse_id.get(), caremgr_id.get()];
    expected.sort();
    assert_eq!(
        members, expected,
        "duplicates collapse; the creator is a member"
    );
    let owner = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"] == me.get())
        .unwrap();
    assert_eq!(owner["role"], "owner");
}

test_both_dbs!(message_rooms_refuse_nobody_strangers_and_disabled_accounts);
async fn message_rooms_refuse_nobody_strangers_and_disabled_accounts() {
    let server = TestServer::start().await;
    let doctor = server.signin("doctor1").await;
    let me = user_id(server.db(), "doctor1").await;

    let (status, body) = start_message(&server, &doctor, json!({ "members": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = start_message(&server, &doctor, json!({ "members": [me] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only myself is nobody");
    let (status, _) = start_message(&server, &doctor, json!({ "members": [999_999] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A professional of another municipality (no agreement) cannot be messaged.
    let pool = server.db().pool();
    let other_m: i64 = sqlx::query(
        "INSERT INTO municipalities (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind("other")
    .bind("よそ町")
    .bind(0_i64)
    .fetch_one(pool)
    .await
    .unwrap()
    .get("id");
    let stranger: i64 = sqlx::query(
        "INSERT INTO users (municipality_id, login_id, password_hash, display_name, \
             display_name_kana, profession, role, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(other_m)
    .bind("stranger")
    .bind("x")
    .bind("余所 者")
    .bind("よそ もの")
    .bind("nurse")
    .bind("member")
    .bind(false)
    .bind(0_i64)
    .fetch_one(pool)
    .await
    .unwrap()
    .get("id");
    let rooms_before: i64 = sqlx::query("SELECT COUNT(*) AS n FROM rooms")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    let (status, _) = start_message(&server, &doctor, json!({ "members": [stranger] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, directory) = get_json(&server, &doctor, "/api/directory").await;
    assert!(!ids(&directory).contains(&stranger));

    let helper = user_id(server.db(), "helper1").await;
    server.db().set_user_disabled(helper, true).await.unwrap();
    let (status, _) = start_message(&server, &doctor, json!({ "members": [helper] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rooms_after: i64 = sqlx::query("SELECT COUNT(*) AS n FROM rooms")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        rooms_after, rooms_before,
        "a refused request creates nothing"
    );

    let anonymous = reqwest::Client::new()
        .post(server.url("/api/rooms/messages"))
        .json(&json!({ "members": [helper] }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

test_both_dbs!(a_patient_room_shows_its_header_and_care_team_to_members_only_and_is_audited);
async fn a_patient_room_shows_its_header_and_care_team_to_members_only_and_is_audited() {
    let server = TestServer::start().await;
    let doctor = server.signin("doctor1").await;
    let (_, rooms) = get_json(&server, &doctor, "/api/rooms").await;
    let yamada = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["patient"]["name"] == "山田 太郎")
        .expect("doctor1 is in 山田 太郎's care team");
    assert_eq!(yamada["patient"]["name_kana"], "やまだ たろう");
    assert_eq!(yamada["patient"]["birth_date"], "1938-04-12");
    assert_eq!(yamada["patient"]["care_level"], "要介護3");
    let room = yamada["id"].as_i64().unwrap();

    let before = server.audit_count("patient_room.read").await;
    let (status, detail) = get_json(&server, &doctor, &format!("/api/rooms/{room}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["patient"]["care_level"], "要介護3");
    let nurse = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["display_name"] == "佐藤 花子")
        .expect("the nurse is in the care team");
    assert_eq!(nurse["profession"], "nurse");
    assert_eq!(nurse["organization_name"], "ひかり訪問看護ステーション");
    assert_eq!(server.audit_count("patient_room.read").await, before + 1);

    // city1 is not in this care team: refused, and nothing about the patient is shown.
    let city = server.signin("city1").await;
    let (status, body) = get_json(&server, &city, &format!("/api/rooms/{room}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.to_string().contains("山田"));
}
