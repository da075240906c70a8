//! The PDF of a patient's record (issue 18), read back as a person's tools read it: poppler's
//! `pdftotext` finds the patient and the period on every page and the posts in reading
//! order, `pdffonts` finds the Japanese font embedded. Members only, audited; a server
//! without a usable Japanese font says so instead of printing boxes.

use renraku_server::db::audit::AuditFilter;
use renraku_server::db::patients::NewPatient;
use renraku_server::db::users::Role;
use renraku_sync::{Reaction, RoomKind};
use renraku_tests::fixture::Fixture;
use renraku_tests::helpers::new_post_id;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::TestServer;
use std::process::Command;

/// 2026-11-05 14:30 JST.
const NOV_5: i64 = 1_793_856_600_000;
const DAY: i64 = 86_400_000;
const PATIENT: &str = "山田 太郎";

/// Runs a poppler tool on `pdf`; its standard output.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(tool)
        .args(args)
        .arg(&path)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (poppler-utils; `cargo xtask setup`): {e}"));
    assert!(
        out.status.success(),
        "{tool} refused the PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

test_both_dbs!(a_member_prints_the_record_of_a_period);
async fn a_member_prints_the_record_of_a_period() {
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
        .start()
        .await;
    let db = server.db();
    let m = f.municipality("m");
    let patient = db
        .create_patient(
            m,
            &NewPatient {
                name: PATIENT,
                name_kana: "やまだ たろう",
                birth_date: "1938-04-01",
                address: "",
                care_level: "要介護3",
                disaster_flag: false,
                triage: None,
            },
        )
        .await
        .unwrap();
    let room = db
        .create_room(m, RoomKind::Patient, PATIENT, Some(patient))
        .await
        .unwrap();
    let (nurse, doctor) = (f.user("nurse"), f.user("doctor"));
    db.add_member(room, nurse, "member", None).await.unwrap();
    db.add_member(room, doctor, "member", None).await.unwrap();

    let nurse_token = f.signin(&server, "nurse").await;
    let mut sync = SyncClient::connect(&server.ws_url(), &nurse_token, 7_101)
        .await
        .unwrap();
    sync.open(room).await.unwrap();
    let doctor_token = f.signin(&server, "doctor").await;
    let mut dsync = SyncClient::connect(&server.ws_url(), &doctor_token, 7_102)
        .await
        .unwrap();
    dsync.open(room).await.unwrap();

    let old = new_post_id();
    let u = sync
        .doc(room)
        .start_thread(nurse, old, "先月の記録", NOV_5 - 30 * DAY);
    sync.write(room, u).await.unwrap();
    let visit = new_post_id();
    let u = sync.doc(room).start_thread(
        nurse,
        visit.clone(),
        "訪問しました。SpO2 96%、体温 37.2度。\n食欲あり 👍",
        NOV_5,
    );
    sync.write(room, u).await.unwrap();
    dsync
        .wait_for(room, "the visit", |d| d.post(&visit).is_some())
        .await
        .unwrap();
    let reply = new_post_id();
    let u = dsync
        .doc(room)
        .reply(doctor, reply, &visit, "承知しました。", NOV_5 + 3_600_000)
        .unwrap();
    dsync.write(room, u).await.unwrap();
    let u = dsync.doc(room).react(doctor, &visit, Reaction::Ack);
    dsync.write(room, u).await.unwrap();
    // Enough long posts for several pages: each paragraph wraps onto many lines.
    let long = "褥瘡の処置を行いました。仙骨部の発赤は前回より縮小しています。".repeat(6);
    for i in 0..24 {
        let u = sync.doc(room).start_thread(
            nurse,
            new_post_id(),
            &format!("経過{i:02}：{long}"),
            NOV_5 + (2 + i) * 60_000,
        );
        sync.write(room, u).await.unwrap();
    }

    let http = server.client(&nurse_token);
    let url = |q: &str| server.url(&format!("/api/rooms/{}/record?{q}", room.get()));
    let answer = http
        .get(url(&format!(
            "format=pdf&from={}&to={}",
            NOV_5 - DAY,
            NOV_5 + DAY
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/pdf");
    let disposition = answer.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.ends_with(".pdf\""), "{disposition}");
    let pdf = answer.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // Kept to look at (`pdftoppm -png`), as the browser tests keep their screenshots.
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/record-pdf");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("record.pdf"), &pdf).unwrap();

    let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf);
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(
        pages.len() >= 3,
        "24 long posts fill pages: {} pages",
        pages.len()
    );
    let total = pages.len();
    for (n, page) in pages.iter().enumerate() {
        let flat = squeeze(page);
        assert!(
            flat.contains(&squeeze(PATIENT)),
            "page {}: no patient: {page}",
            n + 1
        );
        assert!(
            flat.contains("期間2026-11-0414:30〜2026-11-0614:30"),
            "page {}: no period: {page}",
            n + 1
        );
        assert!(
            flat.contains(&format!("{}/{total}", n + 1)),
            "page {}: {page}",
            n + 1
        );
    }
    let flat = squeeze(&text);
    assert!(!flat.contains("先月の記録"), "outside the period");
    let nurse_name = db.user(nurse).await.unwrap().unwrap().display_name;
    let doctor_name = db.user(doctor).await.unwrap().unwrap().display_name;
    assert!(
        flat.contains(&squeeze(&format!(
            "■ 2026-11-05 14:30 {nurse_name}（看護師"
        ))),
        "{text}"
    );
    assert!(
        flat.contains("訪問しました。SpO296%、体温37.2度。"),
        "{text}"
    );
    assert!(
        flat.contains("食欲あり〓"),
        "an emoji the font lacks is 〓: {text}"
    );
    assert!(
        flat.contains(&squeeze(&format!("└ 2026-11-05 15:30 {doctor_name}（医師"))),
        "{text}"
    );
    assert!(flat.contains("承知しました。"));
    assert!(flat.contains(&format!("［了解:{doctor_name}］")), "{text}");
    // A wrapped paragraph reads back whole, in order, and the posts keep their order.
    let first = flat
        .find(&squeeze(&format!("経過00：{long}")))
        .expect("post 0 whole");
    let last = flat
        .find(&squeeze(&format!("経過23：{long}")))
        .expect("post 23 whole");
    assert!(first < last);

    // The font travels with the file: embedded (a subset), with a Unicode map for copying.
    let fonts = poppler("pdffonts", &[], &pdf);
    let rows: Vec<Vec<&str>> = fonts
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in &rows {
        let n = row.len();
        assert_eq!(
            row[n - 5..n - 2],
            ["yes", "yes", "yes"],
            "emb sub uni: {fonts}"
        );
    }

    let audit = db
        .audit_rows(&AuditFilter {
            action: Some("room.record.export".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0].detail.contains("format=pdf"),
        "{}",
        audit[0].detail
    );
    assert!(
        audit[0].detail.contains(&format!("patient/{patient}")),
        "{}",
        audit[0].detail
    );
    assert!(!audit[0].detail.contains(PATIENT));

    let outsider = server.client(&f.signin(&server, "outsider").await);
    let answer = outsider.get(url("format=pdf")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
}

test_both_dbs!(without_a_japanese_font_the_pdf_is_refused_and_text_still_works);
async fn without_a_japanese_font_the_pdf_is_refused_and_text_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_font = dir.path().join("font.ttf");
    std::fs::write(&not_a_font, b"not a font at all").unwrap();
    let server = TestServer::start_with(|c| {
        c.demo = false;
        c.pdf_font = Some(not_a_font.clone());
    })
    .await;
    let f = Fixture::new()
        .municipality("m")
        .user("m", "nurse", Role::Member)
        .room("m", "care", &["nurse"])
        .build(server.db())
        .await;
    let http = server.client(&f.signin(&server, "nurse").await);
    let url = |q: &str| server.url(&format!("/api/rooms/{}/record?{q}", f.room("care").get()));
    let answer = http.get(url("format=pdf")).send().await.unwrap();
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert!(
        body["message"].as_str().unwrap().contains("日本語フォント"),
        "tells what is missing: {body}"
    );
    let answer = http.get(url("format=text")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let audit = server
        .db()
        .audit_rows(&AuditFilter {
            action: Some("room.record.export".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "only the text export happened");
    assert!(audit[0].detail.contains("format=text"));
}
