//! Export of a patient room's record to one's own chart (issue 18): the text to paste (date,
//! author, profession, post, replies indented, reactions), the CSV read back by a real CSV
//! reader (Python's `csv` module, as Excel-minded tools read it: UTF-8 with BOM), the FHIR R4
//! Bundle validated by a real FHIR validator (the `fhir.resources` R4 models), the period and
//! a single thread, members only, every export audited. On SQLite and PostgreSQL.

use renraku_contract::{OrganizationKind, Profession};
use renraku_server::db::audit::AuditFilter;
use renraku_server::db::patients::NewPatient;
use renraku_server::db::users::{Role, UserUpdate};
use renraku_sync::{AckRequest, Reaction, RoomKind};
use renraku_tests::fixture::Fixture;
use renraku_tests::helpers::{new_post_id, tiny_pdf, upload};
use renraku_tests::sync_client::SyncClient;
use serde_json::Value;
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

/// Exports a record as FHIR and validates it; the Bundle as the validator read it.
async fn fhir_export(http: &reqwest::Client, url: String) -> Value {
    let answer = http.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+json"));
    let body = answer.bytes().await.unwrap();
    assert!(
        body.starts_with(b"{\n  \"resourceType\": \"Bundle\""),
        "resourceType first"
    );
    renraku_tests::python::validate_fhir(&body)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", String::from_utf8_lossy(&body)))
}

/// The entries of a Bundle, by resource type.
fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

/// The resource a reference points at, inside the Bundle (the validator checked there is
/// one).
fn resolve<'a>(bundle: &'a Value, reference: &Value) -> &'a Value {
    let to = reference["reference"].as_str().unwrap();
    &bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fullUrl"] == to)
        .unwrap_or_else(|| panic!("no entry {to}"))["resource"]
}

fn full_url_of<'a>(bundle: &'a Value, resource: &Value) -> &'a str {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| &e["resource"] == resource)
        .unwrap()["fullUrl"]
        .as_str()
        .unwrap()
}

/// The name (kanji, `text`) of the Practitioner behind a PractitionerRole reference.
fn practitioner_name(bundle: &Value, role_reference: &Value) -> String {
    let role = resolve(bundle, role_reference);
    assert_eq!(role["resourceType"], "PractitionerRole");
    let practitioner = resolve(bundle, &role["practitioner"]);
    practitioner["name"][0]["text"].as_str().unwrap().to_owned()
}

test_both_dbs!(a_member_exports_a_patient_record_as_fhir);
async fn a_member_exports_a_patient_record_as_fhir() {
    let (server, f) = Fixture::new()
        .municipality("m")
        .professional("m", "nurse", Role::Member, Profession::Nurse)
        .professional("m", "doctor", Role::Member, Profession::Doctor)
        .user("m", "outsider", Role::Member)
        .start()
        .await;
    let db = server.db();
    let m = f.municipality("m");
    let (nurse, doctor) = (f.user("nurse"), f.user("doctor"));
    // A patient room of a nurse and a doctor of two organizations, as an administrator
    // keeps them.
    for (user, name, kana, org, kind) in [
        (
            nurse,
            "佐藤 花子",
            "さとう はなこ",
            "ひかり訪問看護",
            OrganizationKind::NursingStation,
        ),
        (
            doctor,
            "南 健一",
            "みなみ けんいち",
            "みなみ在宅クリニック",
            OrganizationKind::Clinic,
        ),
    ] {
        let org = db.create_organization(m, org, kind).await.unwrap();
        let update = UserUpdate {
            display_name: Some(name.into()),
            display_name_kana: Some(kana.into()),
            organization: Some(org),
            ..Default::default()
        };
        db.update_user(user, &update).await.unwrap();
    }
    let patient = db
        .create_patient(
            m,
            &NewPatient {
                name: "山田 太郎",
                name_kana: "やまだ たろう",
                birth_date: "1938-04-01",
                address: "デモ市中央1-2-3",
                care_level: "要介護2",
                disaster_flag: false,
                triage: None,
            },
        )
        .await
        .unwrap();
    let room = db
        .create_room(m, RoomKind::Patient, "山田 太郎", Some(patient))
        .await
        .unwrap();
    db.add_member(room, nurse, "owner", None).await.unwrap();
    db.add_member(room, doctor, "member", None).await.unwrap();

    let nurse_token = f.signin(&server, "nurse").await;
    let http = server.client(&nurse_token);
    // A file, then the visit that carries it and asks the doctor to acknowledge it by the
    // next day; the doctor replies.
    let pdf = tiny_pdf();
    let file = ulid::Ulid::new().to_string();
    let answer = upload(
        &server,
        &nurse_token,
        room.get(),
        &file,
        "訪問記録.pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(answer.status(), 201);
    let mut sync = SyncClient::connect(&server.ws_url(), &nurse_token, 7_011)
        .await
        .unwrap();
    sync.open(room).await.unwrap();
    let doctor_token = f.signin(&server, "doctor").await;
    let mut dsync = SyncClient::connect(&server.ws_url(), &doctor_token, 7_012)
        .await
        .unwrap();
    dsync.open(room).await.unwrap();
    let visit = new_post_id();
    let text = "訪問しました。血圧 132/84、SpO2 97%。\n褥瘡の処置をしました。";
    let due = NOV_5 + DAY;
    let u = sync.doc(room).start_thread_asking(
        nurse,
        visit.clone(),
        text,
        vec![file.clone()],
        Some(AckRequest {
            everyone: false,
            to: vec![doctor],
            due: Some(due),
        }),
        false,
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
        .reply(
            doctor,
            reply.clone(),
            &visit,
            "承知しました。軟膏を続けてください。",
            NOV_5 + 3_600_000,
        )
        .unwrap();
    dsync.write(room, u).await.unwrap();

    let url = |q: &str| server.url(&format!("/api/rooms/{}/record?{q}", room.get()));
    let period = format!("from={}&to={}", NOV_5 - DAY, NOV_5 + DAY);
    let export = format!("format=fhir&{period}");
    // Before the doctor acknowledges: the request is open.
    let bundle = fhir_export(&http, url(&export)).await;
    let requests = resources(&bundle, "CommunicationRequest");
    assert_eq!(requests.len(), 1, "one acknowledgement request");
    assert_eq!(requests[0]["status"], "active");
    assert!(requests[0].get("note").is_none());

    let u = dsync
        .doc(room)
        .acknowledge(doctor, &visit, NOV_5 + 2 * 3_600_000);
    dsync.write(room, u).await.unwrap();
    let bundle = fhir_export(&http, url(&export)).await;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    assert!(bundle["timestamp"].is_string());
    assert!(bundle["identifier"]["value"]
        .as_str()
        .unwrap()
        .starts_with("urn:uuid:"));

    // The patient.
    let patients = resources(&bundle, "Patient");
    assert_eq!(patients.len(), 1);
    let p = patients[0];
    assert_eq!(p["name"][0]["text"], "山田 太郎");
    assert_eq!(p["name"][0]["family"], "山田");
    assert_eq!(p["name"][1]["text"], "やまだ たろう", "the reading in kana");
    assert_eq!(p["birthDate"], "1938-04-01");
    assert_eq!(p["address"][0]["text"], "デモ市中央1-2-3");

    // The care team: both members, each with profession and organization.
    let teams = resources(&bundle, "CareTeam");
    assert_eq!(teams.len(), 1);
    assert_eq!(resolve(&bundle, &teams[0]["subject"]), p);
    let participants = teams[0]["participant"].as_array().unwrap();
    let mut members: Vec<String> = participants
        .iter()
        .map(|part| practitioner_name(&bundle, &part["member"]))
        .collect();
    members.sort();
    assert_eq!(members, ["佐藤 花子", "南 健一"]);
    let nurse_part = participants
        .iter()
        .find(|part| practitioner_name(&bundle, &part["member"]) == "佐藤 花子")
        .unwrap();
    let role = resolve(&bundle, &nurse_part["member"]);
    let coding = &role["code"][0]["coding"][0];
    assert_eq!(coding["system"], "urn:renraku:profession");
    assert_eq!(coding["code"], "nurse");
    assert_eq!(coding["display"], "看護師");
    assert_eq!(
        resolve(&bundle, &role["organization"])["name"],
        "ひかり訪問看護"
    );
    assert_eq!(resources(&bundle, "Organization").len(), 2);

    // One Communication per post, oldest first, with its sender and text.
    let comms = resources(&bundle, "Communication");
    assert_eq!(comms.len(), 2, "the visit and the reply");
    let (first, second) = (comms[0], comms[1]);
    assert_eq!(first["identifier"][0]["value"], visit.to_string());
    assert_eq!(first["status"], "completed");
    assert_eq!(practitioner_name(&bundle, &first["sender"]), "佐藤 花子");
    assert_eq!(first["sent"], "2026-11-05T14:30:00+09:00");
    assert_eq!(resolve(&bundle, &first["subject"]), p);
    assert_eq!(first["payload"][0]["contentString"], text);
    let attachment = &first["payload"][1]["contentAttachment"];
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["size"], pdf.len());
    assert_eq!(attachment["title"], "訪問記録.pdf");
    // Where a member downloads it.
    let download = http
        .get(attachment["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(&download.bytes().await.unwrap()[..], &pdf[..]);
    assert_eq!(second["identifier"][0]["value"], reply.to_string());
    assert_eq!(practitioner_name(&bundle, &second["sender"]), "南 健一");
    assert_eq!(
        second["payload"][0]["contentString"],
        "承知しました。軟膏を続けてください。"
    );
    assert_eq!(
        second["inResponseTo"][0]["reference"],
        full_url_of(&bundle, first),
        "the reply answers its thread"
    );

    // The acknowledgement request: asked by the nurse of the doctor, by the deadline, done.
    let requests = resources(&bundle, "CommunicationRequest");
    assert_eq!(requests.len(), 1);
    let request = requests[0];
    assert_eq!(request["status"], "completed");
    assert_eq!(resolve(&bundle, &request["about"][0]), first);
    assert_eq!(
        practitioner_name(&bundle, &request["requester"]),
        "佐藤 花子"
    );
    let recipients = request["recipient"].as_array().unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(practitioner_name(&bundle, &recipients[0]), "南 健一");
    assert_eq!(request["occurrenceDateTime"], "2026-11-06T14:30:00+09:00");
    assert_eq!(request["note"][0]["text"], "確認しました");
    assert_eq!(
        resolve(&bundle, &request["note"][0]["authorReference"])["name"][0]["text"],
        "南 健一"
    );

    // The same export twice names everything the same (deterministic ids).
    let again = fhir_export(&http, url(&export)).await;
    let urls = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(urls(&bundle), urls(&again));

    // Audited as the other formats, with the patient; someone outside gets nothing.
    let rows = db
        .audit_rows(&AuditFilter {
            action: Some("room.record.export".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.user_id == Some(nurse.get())
        && r.target == format!("room/{}", room.get())
        && r.detail.contains(&format!("patient/{} ", patient.get()))
        && r.detail.contains("format=fhir posts=2")
        && !r.detail.contains("訪問")));
    let outsider = server.client(&f.signin(&server, "outsider").await);
    let answer = outsider.get(url("format=fhir")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
}
