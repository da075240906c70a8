//! Export of a patient room's record to one's own chart (issue 18): the text to paste (date,
//! author, profession, post, replies indented, reactions), the CSV read back by a real CSV
//! reader (Python's `csv` module, as Excel-minded tools read it: UTF-8 with BOM), the period
//! and a single thread, members only, every export audited. On SQLite and PostgreSQL.

use renraku_server::db::audit::AuditFilter;
use renraku_server::db::users::Role;
use renraku_sync::Reaction;
use renraku_tests::fixture::Fixture;
use renraku_tests::helpers::new_post_id;
use renraku_tests::sync_client::SyncClient;
use std::process::{Command, Stdio};

/// 2026-11-05 14:30 JST.
const NOV_5: i64 = 1_793_856_600_000;
const DAY: i64 = 86_400_000;

/// Rows of a CSV file as Python's csv module reads it (encoding utf-8-sig: the BOM is
/// expected and dropped), as JSON.
fn python_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import csv, io, json, sys\n\
             data = sys.stdin.buffer.read()\n\
             assert data.startswith(b'\\xef\\xbb\\xbf'), 'no BOM'\n\
             rows = list(csv.reader(io.StringIO(data.decode('utf-8-sig'), newline='')))\n\
             print(json.dumps(rows))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python's csv reader refused the file");
    serde_json::from_slice(&out.stdout).unwrap()
}

test_both_dbs!(a_member_exports_text_and_csv_of_a_period);
async fn a_member_exports_text_and_csv_of_a_period() {
    let (server, f) = Fixture::new()
        .municipality("m")
        .professional(
            "m",
            "nurse",
            Role::Member,
            renraku_contract::Profession::Nurse,
        )
        .professional(
            "m",
            "doctor",
            Role::Member,
            renraku_contract::Profession::Doctor,
        )
        .user("m", "outsider", Role::Member)
        .room("m", "care", &["nurse", "doctor"])
        .start()
        .await;
    let room = f.room("care");
    let (nurse, doctor) = (f.user("nurse"), f.user("doctor"));
    let nurse_token = f.signin(&server, "nurse").await;
    let mut sync = SyncClient::connect(&server.ws_url(), &nurse_token, 7_001)
        .await
        .unwrap();
    sync.open(room).await.unwrap();
    let doctor_token = f.signin(&server, "doctor").await;
    let mut dsync = SyncClient::connect(&server.ws_url(), &doctor_token, 7_002)
        .await
        .unwrap();
    dsync.open(room).await.unwrap();

    // Before the period: left out.
    let old = new_post_id();
    let u = sync
        .doc(room)
        .start_thread(nurse, old.clone(), "先月の記録", NOV_5 - 30 * DAY);
    sync.write(room, u).await.unwrap();
    // In the period: a thread, a reply, a reaction; text a CSV must quote, and a formula.
    let visit = new_post_id();
    let text = "訪問しました。\n血圧 132/84, \"安定\"\n=1+1";
    let u = sync
        .doc(room)
        .start_thread(nurse, visit.clone(), text, NOV_5);
    sync.write(room, u).await.unwrap();
    dsync
        .wait_for(room, "the visit", |d| d.post(&visit).is_some())
        .await
        .unwrap();
    let reply = new_post_id();
    let u = dsync
        .doc(room)
        .reply(
            doctor,
            reply.clone(),
            &visit,
            "承知しました。",
            NOV_5 + 3_600_000,
        )
        .unwrap();
    dsync.write(room, u).await.unwrap();
    let u = dsync.doc(room).react(doctor, &visit, Reaction::Ack);
    dsync.write(room, u).await.unwrap();

    let http = server.client(&nurse_token);
    let url = |q: &str| server.url(&format!("/api/rooms/{}/record?{q}", room.get()));
    let period = format!("from={}&to={}", NOV_5 - DAY, NOV_5 + DAY);

    let answer = http
        .get(url(&format!("format=text&{period}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let body = answer.text().await.unwrap();
    assert!(!body.contains("先月の記録"), "outside the period: {body}");
    let doctor_name = server
        .db()
        .user(doctor)
        .await
        .unwrap()
        .unwrap()
        .display_name;
    let nurse_name = server.db().user(nurse).await.unwrap().unwrap().display_name;
    assert!(
        body.contains(&format!("■ 2026-11-05 14:30 {nurse_name}（看護師")),
        "{body}"
    );
    assert!(body.contains("血圧 132/84, \"安定\""), "{body}");
    assert!(
        body.contains(&format!("    ↳ 2026-11-05 15:30 {doctor_name}（医師")),
        "{body}"
    );
    assert!(
        body.contains("    承知しました。"),
        "the reply is indented: {body}"
    );
    assert!(body.contains(&format!("［了解: {doctor_name}］")), "{body}");

    let answer = http
        .get(url(&format!("format=csv&{period}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let rows = python_csv(&answer.bytes().await.unwrap());
    assert_eq!(rows.len(), 3, "header, the post, the reply: {rows:?}");
    assert_eq!(rows[0][..4], ["投稿ID", "スレッドID", "種別", "日時"]);
    assert_eq!(rows[1][0], visit.to_string());
    assert_eq!(rows[1][2], "投稿");
    assert_eq!(rows[1][3], "2026-11-05 14:30");
    assert_eq!(rows[1][5], "看護師");
    assert_eq!(rows[1][7], text, "line breaks, commas and quotes survive");
    assert_eq!(rows[1][9], format!("了解: {doctor_name}"));
    assert_eq!(rows[2][1], visit.to_string(), "the reply names its thread");
    assert_eq!(rows[2][2], "返信");

    // One thread, whatever the period ("copy this thread").
    let answer = http
        .get(url(&format!("format=text&thread={old}")))
        .send()
        .await
        .unwrap();
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("先月の記録") && !body.contains("訪問しました"),
        "{body}"
    );

    // Every export is audited, without the text.
    let rows = server
        .db()
        .audit_rows(&AuditFilter {
            action: Some("room.record.export".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.user_id == Some(nurse.get())
        && r.target == format!("room/{}", room.get())
        && !r.detail.contains("訪問")));

    // Someone outside the room gets nothing.
    let outsider = server.client(&f.signin(&server, "outsider").await);
    let answer = outsider.get(url("format=csv")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    // A period that ends before it starts is refused clearly.
    let answer = http
        .get(url("format=text&from=10&to=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}
