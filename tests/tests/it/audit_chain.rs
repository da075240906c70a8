//! The audit log is a hash chain: every audited action writes its entry, the chain verifies,
//! and an edited, deleted or cut-off row is detected. Municipality administrators read (and
//! export) their own municipality's entries and nothing else.

use crate::admin_common::{cast, client, get_as};
use renraku_sync::RoomDoc;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{team, Backend, TestServer};
use serde_json::{json, Value};
use sqlx::{Executor, Row};

async fn verify(server: &TestServer) -> Vec<String> {
    server.db().verify_audit_chain().await.unwrap().problems
}

/// What someone with write access to the database file could do: drop the append-only
/// triggers first.
async fn drop_guards(server: &TestServer) {
    let pool = server.db().pool();
    if renraku_tests::backend() == Backend::Postgres {
        pool.execute("DROP TRIGGER audit_log_append_only ON audit_log")
            .await
            .unwrap();
    } else {
        pool.execute("DROP TRIGGER audit_log_no_update")
            .await
            .unwrap();
        pool.execute("DROP TRIGGER audit_log_no_delete")
            .await
            .unwrap();
    }
}

test_both_dbs!(each_audited_action_writes_its_entry_and_the_chain_verifies);
async fn each_audited_action_writes_its_entry_and_the_chain_verifies() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    assert!(server.audit_count("signin.ok").await >= 5);

    let failed = reqwest::Client::new()
        .post(server.url("/api/demo/signin"))
        .json(&json!({"login_id": "nurse1", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);
    assert_eq!(server.audit_count("signin.failed").await, 1);

    // Opening a patient room, and an update refused by the validator.
    let mut a = SyncClient::connect(&server.ws_url(), &team.a.token, 9001)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();
    assert_eq!(server.audit_count("room.open").await, 1);
    // A reaction written under someone else's user id.
    let post = renraku_sync::PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
    let forged = RoomDoc::new(9001).react(team.b.id, &post, renraku_sync::Reaction::Ack);
    let ack = a.send_update(team.room, forged).await.unwrap();
    assert!(a.verdict(ack).await.unwrap().is_err());
    assert_eq!(server.audit_count("update.refused").await, 1);

    // Membership and role changes, admin actions.
    let admin = client(&server, &cast.admin);
    let url = server.url(&format!(
        "/api/admin/rooms/{}/members/{}",
        team.room, team.outsider.id
    ));
    assert_eq!(
        admin
            .put(&url)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        admin
            .put(&url)
            .json(&json!({"role": "owner"}))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(admin.delete(&url).send().await.unwrap().status(), 204);
    let role = admin
        .patch(server.url(&format!("/api/admin/users/{}", team.outsider.id)))
        .json(&json!({"role": "municipality_admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(role.status(), 200);
    for action in [
        "room.member.added",
        "room.member.role",
        "room.member.removed",
        "admin.user.role",
    ] {
        assert_eq!(server.audit_count(action).await, 1, "{action}");
    }
    assert!(
        verify(&server).await.is_empty(),
        "{:?}",
        verify(&server).await
    );
    let report: Value = get_as(&server, &cast.system, "/api/admin/audit/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["problems"], json!([]));
    assert!(report["rows"].as_i64().unwrap() > 10);
}

test_both_dbs!(editing_deleting_or_cutting_rows_is_detected);
async fn editing_deleting_or_cutting_rows_is_detected() {
    let server = TestServer::start().await;
    let _cast = cast(&server).await;
    for i in 0..5 {
        server
            .db()
            // Any action of the catalogue: only the chain is looked at.
            .audit(renraku_server::db::audit::AuditEntry::new(
                renraku_server::domain::audit::AuditAction::RoomOpen,
                format!("n/{i}"),
            ))
            .await
            .unwrap();
    }
    assert!(verify(&server).await.is_empty());
    let pool = server.db().pool();

    // The triggers refuse changes made through SQL.
    assert!(
        sqlx::query("UPDATE audit_log SET detail = 'x' WHERE seq = 2")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(pool)
        .await
        .is_err());

    drop_guards(&server).await;
    let original: String = sqlx::query("SELECT detail FROM audit_log WHERE seq = 3")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("detail");
    sqlx::query("UPDATE audit_log SET detail = 'rewritten' WHERE seq = 3")
        .execute(pool)
        .await
        .unwrap();
    let problems = verify(&server).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("seq 3") && p.contains("changed")),
        "{problems:?}"
    );
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = 3")
        .bind(original)
        .execute(pool)
        .await
        .unwrap();
    assert!(verify(&server).await.is_empty(), "restored");

    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(pool)
        .await
        .unwrap();
    let problems = verify(&server).await;
    assert!(
        problems.iter().any(|p| p.contains("missing")),
        "{problems:?}"
    );

    // Cutting off the newest row is caught by the head.
    let fresh = TestServer::start().await;
    let _ = cast(&fresh).await;
    drop_guards(&fresh).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .execute(fresh.db().pool())
        .await
        .unwrap();
    let problems = verify(&fresh).await;
    assert!(problems.iter().any(|p| p.contains("head")), "{problems:?}");
}

test_both_dbs!(municipality_admins_read_and_export_their_own_log_only);
async fn municipality_admins_read_and_export_their_own_log_only() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    let mut a = SyncClient::connect(&server.ws_url(), &team.a.token, 9002)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();

    let rows: Vec<Value> = get_as(
        &server,
        &cast.admin,
        "/api/admin/municipalities/demo/audit?action=room.open",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["target"], format!("room/{}", team.room));

    // Sign-ins of the other municipality are not in demo's log, nor the reverse.
    let demo_signins: Vec<Value> = get_as(
        &server,
        &cast.admin,
        "/api/admin/municipalities/demo/audit?action=signin.",
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(!demo_signins.is_empty());
    let demo_id = cast.demo.get();
    assert!(demo_signins.iter().all(|r| r["municipality_id"] == demo_id));
    let other = get_as(
        &server,
        &cast.other_admin,
        "/api/admin/municipalities/demo/audit",
    )
    .await;
    assert_eq!(other.status(), 403);

    let csv = get_as(
        &server,
        &cast.admin,
        "/api/admin/municipalities/demo/audit.csv?action=room.open",
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert!(lines[0].ends_with("seq,at,user_id,municipality_id,action,target,detail,hash"));
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains(&format!("room.open,room/{}", team.room)));
}
