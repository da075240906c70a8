//! The permission matrix over every admin route, enumerated from the OpenAPI document so a
//! new route cannot slip through: a member, a municipality administrator of the same and of
//! another municipality, and a system administrator — each allowed or refused as intended,
//! and every allowed change audited.

use crate::admin_common::{add_user, assert_documented, audit_rows, cast, client, Cast, Person};
use renraku_server::db::municipalities::OrganizationKind;
use renraku_server::db::patients::NewPatient;
use renraku_server::db::users::Role;
use renraku_sync::RoomKind;
use renraku_tests::TestServer;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fresh records of the demo municipality for one call, so a call that deletes or disables
/// something never changes what the next caller meets.
struct Fixture {
    ids: Vec<(&'static str, i64)>,
    user: i64,
    /// An agreement the demo municipality belongs to (the other one is empty).
    joined_agreement: i64,
}

static SERIAL: AtomicUsize = AtomicUsize::new(0);

async fn fixture(server: &TestServer, cast: &Cast) -> Fixture {
    let db = server.db();
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let org = db
        .create_organization(cast.demo, &format!("診療所{n}"), OrganizationKind::Clinic)
        .await
        .unwrap();
    let user = add_user(server, cast.demo, &format!("target{n}"), Role::Member).await;
    let patient = db
        .create_patient(
            cast.demo,
            &NewPatient {
                name: "患者",
                name_kana: "かんじゃ",
                birth_date: "1940-01-01",
                address: "",
                care_level: "",
                disaster_flag: false,
                triage: None,
            },
        )
        .await
        .unwrap();
    let room = db
        .create_room(cast.demo, RoomKind::Project, "プロジェクト", None)
        .await
        .unwrap();
    db.add_member(room, user, "member", None).await.unwrap();
    let tomorrow = renraku_server::db::now_ms() + 86_400_000;
    let announcement = db
        .create_announcement(Some(cast.demo), "t", "b", 0, None, cast.admin.id)
        .await
        .unwrap();
    let maintenance = db
        .create_maintenance(None, tomorrow, tomorrow + 1000, "", cast.system.id)
        .await
        .unwrap();
    let template = db
        .create_template(cast.demo, None, "定型文", "体温：", 0)
        .await
        .unwrap();
    let agreement = db.create_agreement(&format!("協定{n}")).await.unwrap();
    let joined = db.create_agreement(&format!("協定{n}b")).await.unwrap();
    db.join_agreement(joined, cast.demo).await.unwrap();
    let certificate = db
        .register_client_certificate(
            user,
            &format!("{n:064x}"),
            b"not a real certificate",
            "端末",
        )
        .await
        .unwrap();
    Fixture {
        ids: vec![
            ("/api/admin/organizations/", org.get()),
            ("/api/admin/users/", user.get()),
            ("/api/admin/patients/", patient.get()),
            ("/api/admin/rooms/", room.get()),
            ("/api/admin/announcements/", announcement),
            ("/api/admin/maintenance/", maintenance),
            ("/api/admin/templates/", template.get()),
            ("/api/admin/agreements/", agreement.0),
            ("/api/admin/client-certificates/", certificate.id),
        ],
        user: user.get(),
        joined_agreement: joined.0,
    }
}

/// The concrete URL of a templated path for this fixture.
fn concrete(method: &str, template: &str, f: &Fixture) -> String {
    let mut path = template.replace("{slug}", "demo");
    if method == "delete" && template.starts_with("/api/admin/agreements/") {
        path = path.replace("{id}", &f.joined_agreement.to_string());
    }
    path = path.replace("{user}", &f.user.to_string());
    if path.contains("{id}") {
        let (_, id) = f
            .ids
            .iter()
            .find(|(prefix, _)| template.starts_with(prefix))
            .unwrap_or_else(|| panic!("no fixture id for {template}: add one"));
        path = path.replace("{id}", &id.to_string());
    }
    assert!(!path.contains('{'), "unfilled parameter in {template}");
    path
}

/// A valid body for each mutating route (a route without one fails the test: add it here).
fn body(method: &str, template: &str) -> Option<Value> {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let tomorrow = renraku_server::db::now_ms() + 86_400_000;
    let b = match (method, template) {
        ("post", "/api/admin/municipalities") => json!({"slug": format!("m{n}"), "name": "新町"}),
        ("patch", "/api/admin/municipalities/{slug}") => json!({"name": "デモ市"}),
        ("post", "/api/admin/agreements") => json!({"name": "協定"}),
        ("put", "/api/admin/agreements/{id}/members/{slug}") => return None,
        ("delete", "/api/admin/agreements/{id}/members/{slug}") => return None,
        ("post", "/api/admin/municipalities/{slug}/organizations") => {
            json!({"name": "新しい薬局", "kind": "pharmacy"})
        }
        ("patch", "/api/admin/organizations/{id}") => json!({"name": "改名"}),
        ("post", "/api/admin/municipalities/{slug}/users") => json!({
            "login_id": format!("new{n}"), "display_name": "新人", "display_name_kana": "しんじん",
            "profession": "nurse"}),
        ("patch", "/api/admin/users/{id}") => json!({"profession": "doctor"}),
        (
            "post",
            "/api/admin/users/{id}/disable"
            | "/api/admin/users/{id}/enable"
            | "/api/admin/users/{id}/reset-password",
        ) => return None,
        ("post", "/api/admin/municipalities/{slug}/patients") => json!({
            "name": "新患者", "name_kana": "しんかんじゃ", "birth_date": "1935-04-01"}),
        ("patch", "/api/admin/patients/{id}") => json!({"archived": true}),
        ("post", "/api/admin/municipalities/{slug}/rooms") => {
            json!({"kind": "project", "title": "新プロジェクト"})
        }
        ("patch", "/api/admin/rooms/{id}") => json!({"title": "改題"}),
        ("put", "/api/admin/rooms/{id}/members/{user}") => json!({"role": "owner"}),
        ("delete", "/api/admin/rooms/{id}/members/{user}") => return None,
        ("post", "/api/admin/municipalities/{slug}/announcements" | "/api/admin/announcements") => {
            json!({"title": "お知らせ", "body": "本文"})
        }
        ("delete", "/api/admin/announcements/{id}") => return None,
        ("post", "/api/admin/maintenance") => {
            json!({"starts_at": tomorrow, "ends_at": tomorrow + 1000, "message": "点検"})
        }
        ("delete", "/api/admin/maintenance/{id}") => return None,
        ("post", "/api/admin/municipalities/{slug}/templates") => {
            json!({"title": "訪問報告", "body": "体温：　℃"})
        }
        ("put", "/api/admin/templates/{id}") => {
            json!({"title": "訪問報告", "body": "血圧：", "sort_order": 5})
        }
        ("delete", "/api/admin/templates/{id}") => return None,
        ("post", "/api/admin/users/{id}/client-certificates") => {
            // A fresh certificate each time: fingerprints are unique.
            let cert = rcgen::generate_simple_self_signed(vec![format!("device{n}.example")])
                .expect("a self-signed certificate");
            json!({"certificate_pem": cert.cert.pem(), "label": "端末"})
        }
        ("post", "/api/admin/client-certificates/{id}/revoke") => return None,
        ("put", "/api/admin/municipalities/{slug}/client-certificate-policy") => {
            json!({"required": false})
        }
        ("get", _) => return None,
        _ => panic!("no body for {method} {template}: add one to the matrix"),
    };
    Some(b)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    Member,
    OtherAdmin,
    SameAdmin,
    System,
}

fn allowed(tag: &str, caller: Caller) -> bool {
    match (tag, caller) {
        (_, Caller::Anonymous | Caller::Member | Caller::OtherAdmin) => false,
        ("admin", Caller::SameAdmin | Caller::System) => true,
        ("admin_system", Caller::System) => true,
        ("admin_system", Caller::SameAdmin) => false,
        (other, _) => panic!("admin route with unknown tag {other:?}"),
    }
}

test_both_dbs!(every_admin_route_allows_and_refuses_as_intended);
async fn every_admin_route_allows_and_refuses_as_intended() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/admin") {
                let tag = op["tags"][0].as_str().unwrap_or("").to_owned();
                routes.push((path.clone(), method.clone(), tag, op.clone()));
            } else {
                let tags = op["tags"].to_string();
                assert!(
                    !tags.contains("admin"),
                    "{method} {path} is tagged admin but lives outside /api/admin"
                );
            }
        }
    }
    assert!(routes.len() >= 30, "admin routes found: {}", routes.len());

    let callers: [(Caller, Option<&Person>); 5] = [
        (Caller::Anonymous, None),
        (Caller::Member, Some(&cast.member)),
        (Caller::OtherAdmin, Some(&cast.other_admin)),
        (Caller::SameAdmin, Some(&cast.admin)),
        (Caller::System, Some(&cast.system)),
    ];
    let mut checked = 0;
    for (template, method, tag, op) in &routes {
        for (caller, who) in &callers {
            let f = fixture(&server, &cast).await;
            let url = server.url(&concrete(method, template, &f));
            let http = match who {
                Some(p) => client(&server, p),
                None => reqwest::Client::new(),
            };
            let mut request = match method.as_str() {
                "get" => http.get(&url),
                "post" => http.post(&url),
                "put" => http.put(&url),
                "patch" => http.patch(&url),
                "delete" => http.delete(&url),
                other => panic!("unexpected method {other}"),
            };
            if let Some(b) = body(method, template) {
                request = request.json(&b);
            } else if *method == "put" || *method == "post" {
                request = request.json(&json!({}));
            }
            let before = audit_rows(&server).await;
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = response.text().await.unwrap_or_default();
            let what = format!("{caller:?} {method} {template} -> {status} {text}");
            // The document is the contract: every answer given is one it describes.
            assert_documented(op, status, &content_type, &what);
            if allowed(tag, *caller) {
                assert!((200..300).contains(&status), "should be allowed: {what}");
                if method != "get" {
                    assert!(
                        audit_rows(&server).await > before,
                        "an allowed change must be audited: {what}"
                    );
                }
            } else if *caller == Caller::Anonymous {
                assert_eq!(status, 401, "{what}");
            } else {
                assert_eq!(status, 403, "should be refused: {what}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * callers.len());
}
