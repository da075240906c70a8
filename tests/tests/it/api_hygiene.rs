//! Issue 13 §7, the smaller holes, against the real server: API answers are never cached,
//! the CSP lets the app connect only to its own origin, malformed paths, queries and bodies
//! get the JSON error body, control characters are refused in names and titles (naming the
//! field, changing nothing), and the audit log's `limit` has a cap. Runs on SQLite and
//! PostgreSQL.

use crate::admin_common::{assert_documented, cast, client, get_as, Person};
use renraku_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Status, `Cache-Control`, content type and the JSON body (`Null` when not JSON).
async fn answer(response: reqwest::Response) -> (StatusCode, String, String, Value) {
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (cache, content_type) = (header("cache-control"), header("content-type"));
    let body = response.json().await.unwrap_or(Value::Null);
    (status, cache, content_type, body)
}

test_both_dbs!(api_answers_are_never_stored_by_browsers_or_proxies);
async fn api_answers_are_never_stored_by_browsers_or_proxies() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let anonymous = reqwest::Client::new();
    let admin = client(&server, &cast.admin);
    let requests = [
        (
            "signin",
            anonymous.post(server.url("/api/demo/signin")).json(
                &json!({"login_id": "nurse2", "password": renraku_server::demo::DEMO_PASSWORD}),
            ),
        ),
        ("me", admin.get(server.url("/api/me"))),
        ("rooms", admin.get(server.url("/api/rooms"))),
        (
            "patients",
            admin.get(server.url("/api/admin/municipalities/demo/patients")),
        ),
        (
            "audit csv",
            admin.get(server.url("/api/admin/municipalities/demo/audit.csv")),
        ),
        ("401", anonymous.get(server.url("/api/me"))),
        (
            "403",
            client(&server, &cast.member).get(server.url("/api/admin/municipalities/demo/users")),
        ),
        ("404", anonymous.get(server.url("/api/no-such-thing"))),
        (
            "400",
            admin
                .patch(server.url("/api/admin/users/not-a-number"))
                .json(&json!({})),
        ),
    ];
    for (what, request) in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{what} ({status})"
        );
    }
    // The app's own files are not API answers: revalidated, but cacheable (offline start).
    let page = anonymous.get(server.url("/demo/")).send().await.unwrap();
    assert_ne!(page.headers()["cache-control"], "no-store");
}

test_both_dbs!(the_csp_lets_pages_connect_only_to_their_own_origin);
async fn the_csp_lets_pages_connect_only_to_their_own_origin() {
    let server = TestServer::start().await;
    for path in ["/demo/", "/api/municipalities/demo", "/healthz"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let connect: Vec<&str> = csp
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix("connect-src "))
            .unwrap_or_else(|| panic!("no connect-src in {csp}"))
            .split_whitespace()
            .collect();
        // `'self'` covers the app's own ws:/wss: in CSP Level 3 browsers; `ws:` or `wss:`
        // alone would allow a socket to any host.
        assert_eq!(connect, ["'self'"], "{path}: {csp}");
    }
}

test_both_dbs!(malformed_paths_queries_and_bodies_get_the_json_error_body);
async fn malformed_paths_queries_and_bodies_get_the_json_error_body() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let admin = client(&server, &cast.admin);
    let cases = [
        (
            "path",
            admin
                .patch(server.url("/api/admin/users/not-a-number"))
                .json(&json!({})),
            "not-a-number",
        ),
        (
            "path out of range",
            admin.delete(server.url("/api/admin/rooms/9223372036854775808/members/1")),
            "9223372036854775808",
        ),
        (
            "query",
            admin.get(server.url("/api/admin/municipalities/demo/audit?limit=many")),
            "limit",
        ),
        (
            "body",
            admin
                .patch(server.url(&format!("/api/admin/users/{}", cast.member.id)))
                .header("content-type", "application/json")
                .body("{\"display_name\": "),
            "JSON",
        ),
        (
            "body type",
            admin
                .patch(server.url(&format!("/api/admin/users/{}", cast.member.id)))
                .json(&json!({"profession": "astronaut"})),
            "astronaut",
        ),
        (
            // serde reads a struct from an array too: an all-optional PATCH took this.
            "array body",
            admin
                .patch(server.url(&format!("/api/admin/users/{}", cast.member.id)))
                .json(&json!([null, null])),
            "object",
        ),
        (
            "content type",
            admin
                .patch(server.url(&format!("/api/admin/users/{}", cast.member.id)))
                .body("{}"),
            "Content-Type",
        ),
    ];
    for (what, request, named) in cases {
        let (status, _, content_type, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {content_type}"
        );
        assert_eq!(body["error"], "bad_request", "{what}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(named), "{what}: {message}");
    }
}

/// The display name of `who` as the admin API lists it.
async fn display_name(server: &TestServer, admin: &Person, who: &Person) -> String {
    let users: Vec<Value> = get_as(server, admin, "/api/admin/municipalities/demo/users")
        .await
        .json()
        .await
        .unwrap();
    let user = users.iter().find(|u| u["id"] == who.id.get()).unwrap();
    user["display_name"].as_str().unwrap().to_owned()
}

test_both_dbs!(control_characters_in_names_and_titles_are_refused_naming_the_field);
async fn control_characters_in_names_and_titles_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let admin = client(&server, &cast.admin);
    let before = display_name(&server, &cast.admin, &cast.member).await;
    let user_url = server.url(&format!("/api/admin/users/{}", cast.member.id));

    let refused = [
        (
            "display_name",
            admin
                .patch(&user_url)
                .json(&json!({"display_name": "佐藤\u{0}花子"})),
        ),
        (
            "display_name_kana",
            admin
                .patch(&user_url)
                .json(&json!({"display_name_kana": "さとう\u{1b}[2J"})),
        ),
        (
            "title",
            admin
                .post(server.url("/api/admin/municipalities/demo/rooms"))
                .json(&json!({"kind": "project", "title": "会議\u{0}"})),
        ),
        (
            "title",
            client(&server, &cast.member)
                .post(server.url("/api/rooms/messages"))
                .json(&json!({"members": [cast.admin.id.get(), 2], "title": "連絡\u{0}"})),
        ),
        (
            "name",
            admin
                .post(server.url("/api/admin/municipalities/demo/organizations"))
                .json(&json!({"name": "薬局\u{202E}", "kind": "pharmacy"})),
        ),
        (
            "address",
            admin
                .post(server.url("/api/admin/municipalities/demo/patients"))
                .json(&json!({"name": "患者", "name_kana": "かんじゃ",
                              "birth_date": "1940-01-01", "address": "本町\u{0}1-1"})),
        ),
        (
            "body",
            admin
                .post(server.url("/api/admin/municipalities/demo/announcements"))
                .json(&json!({"title": "お知らせ", "body": "一行目\n\u{0}"})),
        ),
    ];
    for (field, request) in refused {
        let (status, _, _, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_eq!(body["error"], "bad_request", "{field}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(
        display_name(&server, &cast.admin, &cast.member).await,
        before,
        "a refused change changes nothing"
    );
    let rooms: Vec<Value> = get_as(&server, &cast.admin, "/api/admin/municipalities/demo/rooms")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        rooms
            .iter()
            .all(|r| !r["title"].as_str().unwrap().contains('\0')),
        "no room with a NUL in its title"
    );

    // Free text keeps its line breaks; names keep their spaces.
    let announcement = admin
        .post(server.url("/api/admin/municipalities/demo/announcements"))
        .json(&json!({"title": "点検のお知らせ", "body": "一行目\n二行目"}))
        .send()
        .await
        .unwrap();
    assert_eq!(announcement.status(), StatusCode::CREATED);
    let renamed = admin
        .patch(&user_url)
        .json(&json!({"display_name": "佐藤 花子"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        display_name(&server, &cast.admin, &cast.member).await,
        "佐藤 花子"
    );
}

test_both_dbs!(audit_limit_and_statistics_period_beyond_their_caps_are_refused_clearly);
async fn audit_limit_and_statistics_period_beyond_their_caps_are_refused_clearly() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    for path in [
        "/api/admin/municipalities/demo/audit",
        "/api/admin/municipalities/demo/audit.csv",
    ] {
        for limit in ["5001", "1000000", "0", "-1"] {
            let response = get_as(&server, &cast.admin, &format!("{path}?limit={limit}")).await;
            let (status, _, _, body) = answer(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {limit}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("limit") && message.contains("5000"),
                "{path} {limit}: {message}"
            );
        }
        let at_the_cap = get_as(&server, &cast.admin, &format!("{path}?limit=5000")).await;
        assert_eq!(at_the_cap.status(), StatusCode::OK, "{path}");
    }
    // The statistics' period has the same kind of cap (the app offers 6, 12 and 24).
    for months in ["0", "121"] {
        let path = format!("/api/admin/municipalities/demo/statistics?months={months}");
        let (status, _, _, body) = answer(get_as(&server, &cast.admin, &path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{months}: {body}");
        assert!(body["message"].as_str().unwrap().contains("120"), "{body}");
    }
    let rows: Vec<Value> = get_as(
        &server,
        &cast.admin,
        "/api/admin/municipalities/demo/audit?limit=1",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
}

/// A value its schema refuses for an integer path parameter, a plausible one otherwise.
fn malformed(param: &Value) -> &'static str {
    match param["schema"]["type"].as_str() {
        Some("integer") => "not-a-number",
        _ => "no-such-thing",
    }
}

test_both_dbs!(every_operation_answers_malformed_requests_as_its_document_says);
/// Every operation of the OpenAPI document, called with malformed path parameters and an
/// empty body by an anonymous caller, a member and an administrator: whatever it answers,
/// the document describes (status and content type), and errors are the JSON error body.
async fn every_operation_answers_malformed_requests_as_its_document_says() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let callers = [
        ("anonymous", reqwest::Client::new()),
        ("member", client(&server, &cast.member)),
        ("admin", client(&server, &cast.admin)),
    ];
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if template == "/api/signout" {
                // Ends the caller's session: the matrix and security tests cover it.
                continue;
            }
            let mut path = template.clone();
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                let placeholder = format!("{{{name}}}");
                // A query parameter documented as a path one (utoipa's default for
                // `IntoParams`) is required and sent in the wrong place by every client.
                assert_eq!(
                    param["in"] == "path",
                    template.contains(&placeholder),
                    "{method} {template}: parameter {name} is documented in {}",
                    param["in"]
                );
                if param["in"] == "path" {
                    path = path.replace(&placeholder, malformed(param));
                }
            }
            for (who, http) in &callers {
                let method: reqwest::Method = method.to_uppercase().parse().unwrap();
                let mut request = http.request(method.clone(), server.url(&path));
                if method != reqwest::Method::GET {
                    request = request.json(&json!({}));
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let (_, _, content_type, body) = answer(response).await;
                let what = format!("{who} {method} {path} -> {status} {body}");
                assert_documented(op, status, &content_type, &what);
                if status >= 400 {
                    assert!(body["error"].is_string(), "not the JSON error body: {what}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 200, "only {checked} calls");
}
