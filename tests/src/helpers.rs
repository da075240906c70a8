//! Small helpers the test modules share (once here rather than copied into each module).

use renraku_server::db::Db;
use renraku_sync::{DocId, PostId, RoomId, UserId};
use sqlx::Row;
use std::path::Path;

/// A fresh post id (a ULID), as the app makes them.
pub fn new_post_id() -> PostId {
    PostId::parse(&ulid::Ulid::new().to_string()).unwrap()
}

/// Unix time in milliseconds, the unit posts are dated in.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The stable `error` code of a JSON error answer (empty if it has none).
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rows in a room document's update log (not counting its snapshot).
pub async fn log_rows(db: &Db, room: RoomId) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM doc_updates WHERE doc = $1")
        .bind(DocId::Room(room).storage_key())
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n")
}

/// The id of the user with this login (in any municipality; the demo's logins are unique).
pub async fn user_id(db: &Db, login: &str) -> UserId {
    let row = sqlx::query("SELECT id FROM users WHERE login_id = $1")
        .bind(login)
        .fetch_one(db.pool())
        .await
        .unwrap();
    UserId::new(row.get("id"))
}

/// GETs `path` on `server` with `token`'s session.
pub async fn get(server: &crate::TestServer, token: &str, path: &str) -> reqwest::Response {
    server
        .client(token)
        .get(server.url(path))
        .send()
        .await
        .unwrap()
}

/// The header an upload names its file in (RFC 5987 `UTF-8''…`), as the app sends it.
pub const NAME_HEADER: &str = "x-renraku-file-name";

/// `name` percent-encoded for [`NAME_HEADER`].
pub fn percent(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Uploads `body` as attachment `id` of `room`, named `name`, as the app does.
pub async fn upload(
    server: &crate::TestServer,
    token: &str,
    room: impl std::fmt::Display,
    id: &str,
    name: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    server
        .client(token)
        .put(server.url(&format!("/api/rooms/{room}/attachments/{id}")))
        .header(NAME_HEADER, format!("UTF-8''{}", percent(name)))
        .body(body)
        .send()
        .await
        .expect("upload sent")
}

/// The smallest PDF file the upload checks accept.
pub fn tiny_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// An HTTP client that sends `token` as a bearer session, as the app's API clients do.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}")
        .parse()
        .expect("header-safe token");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("reqwest client")
}
