//! Fixtures of the admin suites: a second municipality with its administrator and member,
//! a system administrator, and sign-in to any municipality.

#![allow(dead_code)]

use renraku_server::db::users::{NewUser, Profession, Role};
use renraku_server::demo::DEMO_PASSWORD;
use renraku_sync::{MunicipalityId, UserId};
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::{signin_request, TestServer};
use serde_json::{json, Value};

pub struct Person {
    pub id: UserId,
    pub slug: String,
    pub login: String,
    pub token: String,
}

/// Everyone the permission checks need.
pub struct Cast {
    pub demo: MunicipalityId,
    pub other: MunicipalityId,
    /// Member of `demo`.
    pub member: Person,
    /// Municipality administrator of `demo` (the demo data's `city1`).
    pub admin: Person,
    /// Municipality administrator of `other`.
    pub other_admin: Person,
    /// Member of `other`.
    pub other_member: Person,
    /// System administrator (home municipality `other`, so nothing is granted by home).
    pub system: Person,
}

/// Signs in at `/api/{slug}/signin`; returns the whole answer.
pub async fn signin_as(server: &TestServer, slug: &str, login: &str, password: &str) -> Value {
    let body = json!({ "login_id": login, "password": password });
    let response = signin_request(&server.base_url(), slug, &body)
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "sign-in of {login}@{slug}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

pub async fn person(server: &TestServer, slug: &str, login: &str) -> Person {
    let body = signin_as(server, slug, login, DEMO_PASSWORD).await;
    Person {
        id: UserId::new(body["user"]["id"].as_i64().unwrap()),
        slug: slug.into(),
        login: login.into(),
        token: body["session_token"].as_str().unwrap().into(),
    }
}

/// Adds an account with the demo password.
pub async fn add_user(server: &TestServer, m: MunicipalityId, login: &str, role: Role) -> UserId {
    let hash = renraku_server::auth::hash_password(DEMO_PASSWORD.into())
        .await
        .unwrap();
    server
        .db()
        .create_user(&NewUser {
            municipality: m,
            organization: None,
            login_id: login,
            password_hash: &hash,
            display_name: login,
            display_name_kana: login,
            profession: Profession::Nurse,
            role,
        })
        .await
        .unwrap()
}

/// Signs in a user the fixture made.
pub async fn fixture_person(server: &TestServer, built: &Built, login: &str) -> Person {
    let body = built.signin_answer(server, login).await;
    Person {
        id: built.user(login),
        slug: built.homes[login].clone(),
        login: login.into(),
        token: body["session_token"].as_str().unwrap().into(),
    }
}

/// The demo's `nurse1` and `city1`, and a second municipality `other` with its
/// administrator, a member and a system administrator.
pub async fn cast(server: &TestServer) -> Cast {
    let db = server.db();
    let demo = db.municipality_by_slug("demo").await.unwrap().unwrap().id;
    let built = Fixture::new()
        .municipality("other")
        .user("other", "oadmin", Role::MunicipalityAdmin)
        .user("other", "omember", Role::Member)
        .user("other", "root", Role::SystemAdmin)
        .build(db)
        .await;
    Cast {
        demo,
        other: built.municipality("other"),
        member: person(server, "demo", "nurse1").await,
        admin: person(server, "demo", "city1").await,
        other_admin: fixture_person(server, &built, "oadmin").await,
        other_member: fixture_person(server, &built, "omember").await,
        system: fixture_person(server, &built, "root").await,
    }
}

/// A request with the bearer session of `who`.
pub fn client(server: &TestServer, who: &Person) -> reqwest::Client {
    server.client(&who.token)
}

/// `GET path` with the bearer session of `who`; the answer, whatever it is.
pub async fn get_as(server: &TestServer, who: &Person, path: &str) -> reqwest::Response {
    client(server, who)
        .get(server.url(path))
        .send()
        .await
        .unwrap()
}

/// Number of rows in the audit log.
pub async fn audit_rows(server: &TestServer) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM audit_log")
        .fetch_one(server.db().pool())
        .await
        .unwrap()
        .get("n")
}

/// Fails unless the OpenAPI operation `op` documents this answer: its status, and (when the
/// operation says what the body is) a matching content type.
pub fn assert_documented(op: &Value, status: u16, content_type: &str, what: &str) {
    let documented = &op["responses"][status.to_string()];
    assert!(
        documented.is_object(),
        "undocumented status {status}: {what} (documented: {:?})",
        op["responses"]
            .as_object()
            .map(|r| r.keys().collect::<Vec<_>>())
    );
    if let Some(content) = documented["content"].as_object() {
        let media = content_type.split(';').next().unwrap_or("").trim();
        assert!(
            content.contains_key(media),
            "undocumented content type {content_type:?} for {status}: {what} (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        );
    }
}
