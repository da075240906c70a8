//! Wide-area agreements: professionals of another municipality join a room only while the
//! two municipalities share an agreement; leaving it removes the access at once.

use crate::admin_common::{cast, client};
use renraku_sync::Frame;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{team, TestServer};
use serde_json::{json, Value};

test_both_dbs!(outside_an_agreement_no_one_is_added_and_leaving_removes_access);
async fn outside_an_agreement_no_one_is_added_and_leaving_removes_access() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    let admin = client(&server, &cast.admin);
    let system = client(&server, &cast.system);
    let outsider = &cast.other_member;
    let add_url = server.url(&format!(
        "/api/admin/rooms/{}/members/{}",
        team.room, outsider.id
    ));
    let candidates = |admin: reqwest::Client| {
        let url = server.url(&format!("/api/admin/rooms/{}/candidates", team.room));
        async move {
            let list: Vec<Value> = admin.get(url).send().await.unwrap().json().await.unwrap();
            list.iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };

    // No agreement: neither offered, nor added, nor let in.
    assert!(!candidates(admin.clone()).await.contains(&outsider.id.get()));
    let refused = admin.put(&add_url).json(&json!({})).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(server.audit_count("room.member.refused").await, 1);
    let mut ws = SyncClient::connect(&server.ws_url(), &outsider.token, 777)
        .await
        .unwrap();
    assert!(ws.open(team.room).await.is_err());
    let detail = client(&server, outsider)
        .get(server.url(&format!("/api/rooms/{}", team.room)))
        .send()
        .await
        .unwrap();
    assert_eq!(detail.status(), 403);

    let directory: Vec<Value> = client(&server, outsider)
        .get(server.url("/api/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(directory.iter().all(|c| c["id"] != team.a.id.get()));

    // An agreement between the two municipalities.
    let agreement: Value = system
        .post(server.url("/api/admin/agreements"))
        .json(&json!({"name": "広域連携協定"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = agreement["id"].as_i64().unwrap();
    for slug in ["demo", "other"] {
        let r = system
            .put(server.url(&format!("/api/admin/agreements/{id}/members/{slug}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{slug}");
    }
    assert!(candidates(admin.clone()).await.contains(&outsider.id.get()));
    // The colleague directory now reaches across the agreement.
    let directory: Vec<Value> = client(&server, outsider)
        .get(server.url("/api/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(directory.iter().any(|c| c["id"] == team.a.id.get()));
    let added = admin.put(&add_url).json(&json!({})).send().await.unwrap();
    assert_eq!(added.status(), 204);
    // A fresh connection: the refused open above may still have frames in flight on the old one.
    ws = SyncClient::connect(&server.ws_url(), &outsider.token, 779)
        .await
        .unwrap();
    ws.open(team.room)
        .await
        .expect("a member through the agreement");

    // The other municipality leaves: the membership goes, the open room closes.
    let left: Value = system
        .delete(server.url(&format!("/api/admin/agreements/{id}/members/other")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(left["memberships_removed"], 1);
    let denied = ws
        .wait_event(|f| matches!(f, Frame::Denied { .. }))
        .await
        .expect("the open room is closed");
    assert!(matches!(denied, Frame::Denied { .. }));
    assert!(ws.open(team.room).await.is_err());
    let rooms: Vec<Value> = client(&server, outsider)
        .get(server.url("/api/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(rooms.iter().all(|r| r["id"] != team.room.get()));
    assert!(!server.db().is_member(team.room, outsider.id).await.unwrap());
    assert_eq!(server.audit_count("room.member.added").await, 1);
    assert_eq!(server.audit_count("room.member.removed").await, 1);
    assert_eq!(server.audit_count("admin.agreement.leave").await, 1);
}

test_both_dbs!(removing_a_member_closes_the_room_on_their_socket);
async fn removing_a_member_closes_the_room_on_their_socket() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    let mut ws = SyncClient::connect(&server.ws_url(), &team.b.token, 778)
        .await
        .unwrap();
    ws.open(team.room).await.unwrap();
    let removed = client(&server, &cast.admin)
        .delete(server.url(&format!(
            "/api/admin/rooms/{}/members/{}",
            team.room, team.b.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    ws.wait_event(|f| matches!(f, Frame::Denied { .. }))
        .await
        .expect("Denied for the room");
    assert!(!ws.closed, "the socket itself stays open for other rooms");
    assert!(ws.open(team.room).await.is_err());
}

test_both_dbs!(a_message_reaches_another_municipality_only_under_an_agreement);
async fn a_message_reaches_another_municipality_only_under_an_agreement() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let start = |who: &crate::admin_common::Person, members: Vec<i64>| {
        let request = client(&server, who)
            .post(server.url("/api/rooms/messages"))
            .json(&json!({ "members": members }));
        async move { request.send().await.unwrap() }
    };
    let outsider = cast.other_member.id.get();

    // No agreement: refused, with no room and no membership left behind.
    let refused = start(&cast.member, vec![outsider]).await;
    assert_eq!(refused.status(), 400);
    let outsiders_rooms = || async {
        server
            .db()
            .rooms_of(cast.other_member.id)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(outsiders_rooms().await, 0);
    // Nor the other way round, nor as one of several.
    assert_eq!(
        start(&cast.other_member, vec![cast.member.id.get()])
            .await
            .status(),
        400
    );
    let team = team(&server).await;
    let several = start(&cast.member, vec![team.b.id.get(), outsider]).await;
    assert_eq!(several.status(), 400);
    assert_eq!(outsiders_rooms().await, 0);
    // The writers of memberships ask the rule themselves, whoever calls them.
    let db = server.db();
    assert!(matches!(
        db.add_member(team.room, cast.other_member.id, "member", None)
            .await,
        Err(renraku_server::Error::Forbidden)
    ));
    assert!(matches!(
        db.create_message_room(cast.demo, cast.member.id, &[cast.other_member.id], "t")
            .await,
        Err(renraku_server::Error::Forbidden)
    ));
    assert_eq!(outsiders_rooms().await, 0);

    // An agreement of an unrelated pair does not help.
    let third = db.create_municipality("third", "三の町").await.unwrap();
    let unrelated = db.create_agreement("別の協定").await.unwrap();
    db.join_agreement(unrelated, cast.other).await.unwrap();
    db.join_agreement(unrelated, third).await.unwrap();
    assert_eq!(start(&cast.member, vec![outsider]).await.status(), 400);

    // With one the two municipalities share: the 1:1 room is made, both are in it.
    let shared = db.create_agreement("広域連携協定").await.unwrap();
    db.join_agreement(shared, cast.demo).await.unwrap();
    db.join_agreement(shared, cast.other).await.unwrap();
    let created = start(&cast.member, vec![outsider]).await;
    assert_eq!(created.status(), 201);
    let room: Value = created.json().await.unwrap();
    let room = renraku_sync::RoomId::new(room["id"].as_i64().unwrap());
    assert!(db.is_member(room, cast.other_member.id).await.unwrap());
    assert!(db.is_member(room, cast.member.id).await.unwrap());
    assert_eq!(outsiders_rooms().await, 1);
}

test_both_dbs!(a_member_added_while_their_agreement_ends_is_refused_not_kept);
async fn a_member_added_while_their_agreement_ends_is_refused_not_kept() {
    use renraku_server::db::Backend;
    use sqlx::Row;
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    let db = server.db().clone();
    let shared = db.create_agreement("広域連携協定").await.unwrap();
    db.join_agreement(shared, cast.demo).await.unwrap();
    db.join_agreement(shared, cast.other).await.unwrap();

    // The other municipality leaves (not yet committed) while an administrator adds one of
    // its professionals to a demo room.
    let mut leaving = db.pool().begin().await.unwrap();
    sqlx::query("DELETE FROM agreement_members WHERE agreement_id = $1 AND municipality_id = $2")
        .bind(shared.0)
        .bind(cast.other.get())
        .execute(&mut *leaving)
        .await
        .unwrap();
    let adder = db.clone();
    let (room, outsider) = (team.room, cast.other_member.id);
    let adding =
        tokio::spawn(async move { adder.add_member(room, outsider, "member", None).await });
    if db.backend() == Backend::Postgres {
        // The add must wait for the agreement change rather than decide on what it saw
        // before it: wait (bounded) until PostgreSQL reports it waiting on a lock.
        let waiting = async {
            loop {
                let n: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get("n");
                if n > 0 || adding.is_finished() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("the add is waiting or done");
        assert!(
            !adding.is_finished(),
            "the add decided before the agreement change committed"
        );
    }
    leaving.commit().await.unwrap();
    let added = adding.await.unwrap();
    assert!(added.is_err(), "{added:?}");
    assert!(!db.is_member(team.room, cast.other_member.id).await.unwrap());
}
