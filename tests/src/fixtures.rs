//! Fixtures shared by the sync tests: a care team in a fresh room, storage for a server
//! process, sign-in over HTTP, and the Node Yjs client.

use anyhow::{anyhow, bail, Context, Result};
use renraku_server::db::Db;
use renraku_sync::{RoomId, UserId};
use serde_json::json;
use sqlx::Row;
use std::path::PathBuf;
use tokio::sync::Mutex;

/// A signed-in professional.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: UserId,
    pub login: String,
    /// Session token (sent as a bearer header).
    pub token: String,
}

/// Two members of one fresh room, and a colleague of the same municipality outside it.
#[derive(Clone, Debug)]
pub struct Team {
    pub room: RoomId,
    pub a: Member,
    pub b: Member,
    pub outsider: Member,
}

/// Posts `body` to `/api/{slug}/signin` and returns the answer, whatever it is: the one
/// place tests build a sign-in request.
pub async fn signin_request(
    base_url: &str,
    slug: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{base_url}/api/{slug}/signin"))
        .json(body)
        .send()
        .await
}

/// Signs in to the demo municipality with the demo password; returns the session token.
pub async fn signin_at(base_url: &str, login: &str) -> String {
    try_signin(base_url, login)
        .await
        .unwrap_or_else(|e| panic!("sign-in of {login} failed: {e:#}"))
}

async fn try_signin(base_url: &str, login: &str) -> Result<String> {
    let body = json!({ "login_id": login, "password": renraku_server::demo::DEMO_PASSWORD });
    let response = signin_request(base_url, "demo", &body).await?;
    if !response.status().is_success() {
        bail!("status {}", response.status());
    }
    let body: serde_json::Value = response.json().await?;
    let token = body["session_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no session_token in {body}"))?;
    crate::logs::record_secret(&token);
    Ok(token)
}

/// Creates a patient room with two demo professionals as its only members.
pub async fn team_in(db: &Db, base_url: &str) -> Team {
    let (room, mut members) = room_in(db, base_url, 3, 2).await;
    let outsider = members.pop().unwrap();
    let b = members.pop().unwrap();
    let a = members.pop().unwrap();
    Team {
        room,
        a,
        b,
        outsider,
    }
}

/// A fresh patient room whose members are the first `n` demo professionals, all signed in
/// at `base_url` (the demo has ten): for tests that need more than [`team_in`]'s two.
pub async fn crew_in(db: &Db, base_url: &str, n: usize) -> (RoomId, Vec<Member>) {
    room_in(db, base_url, n, n).await
}

/// A fresh patient room with the first `members` of `people` demo professionals as its
/// members, and all `people` signed in at `base_url`.
async fn room_in(db: &Db, base_url: &str, people: usize, members: usize) -> (RoomId, Vec<Member>) {
    let pool = db.pool();
    let municipality: i64 = sqlx::query("SELECT id FROM municipalities WHERE slug = $1")
        .bind("demo")
        .fetch_one(pool)
        .await
        .expect("demo municipality")
        .get("id");
    let users: Vec<(i64, String)> = sqlx::query(
        "SELECT id, login_id FROM users WHERE municipality_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(municipality)
    .bind(i64::try_from(people).expect("a small number"))
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get("id"), r.get("login_id")))
    .collect();
    assert_eq!(
        users.len(),
        people,
        "the demo data has {people} professionals"
    );
    // Every team's room is the canary patient's: its name then travels through every test
    // (room lists, audits, sync), and must never show up in a server log (see `logs`).
    let patient: i64 = sqlx::query(
        "INSERT INTO patients (municipality_id, name, name_kana, birth_date) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(municipality)
    .bind(crate::logs::CANARY_PATIENT_NAME)
    .bind(crate::logs::CANARY_PATIENT_KANA)
    .bind("1938-04-01")
    .fetch_one(pool)
    .await
    .expect("canary patient")
    .get("id");
    let room: i64 = sqlx::query(
        "INSERT INTO rooms (municipality_id, kind, title, patient_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(municipality)
    .bind("patient")
    .bind(crate::logs::CANARY_PATIENT_NAME)
    .bind(patient)
    .bind(0_i64)
    .fetch_one(pool)
    .await
    .unwrap()
    .get("id");
    for (user, _) in &users[..members] {
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(room)
        .bind(*user)
        .bind("member")
        .bind(0_i64)
        .execute(pool)
        .await
        .unwrap();
    }
    let mut signed_in = Vec::new();
    for (id, login) in users {
        let token = signin_at(base_url, &login).await;
        signed_in.push(Member {
            id: UserId::new(id),
            login,
            token,
        });
    }
    (RoomId::new(room), signed_in)
}

/// Storage for a server: a data directory, and a fresh PostgreSQL database when the
/// backend is PostgreSQL (else SQLite in the data directory). Dropped with the test.
pub struct TestStorage {
    pub dir: tempfile::TempDir,
    pub postgres: Option<crate::PgDatabase>,
}

impl TestStorage {
    /// Fresh storage on the running test's backend ([`crate::backend`]).
    pub async fn new() -> TestStorage {
        Self::on(crate::backend()).await
    }

    /// Fresh storage on `backend`.
    pub async fn on(backend: crate::Backend) -> TestStorage {
        let postgres = match backend {
            crate::Backend::Postgres => Some(crate::PgDatabase::create().await),
            crate::Backend::Sqlite => None,
        };
        TestStorage {
            dir: tempfile::tempdir().unwrap(),
            postgres,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.url(),
            None => format!("sqlite://{}/renraku.db", self.dir.path().display()),
        }
    }
}

/// Command-line arguments that point `renraku serve` at this storage.
pub fn storage_args(storage: &TestStorage) -> Vec<String> {
    vec![
        "--data-dir".into(),
        storage.dir.path().display().to_string(),
        "--database-url".into(),
        storage.database_url(),
    ]
}

/// [`storage_args`] for a server with the demo municipality (which [`team_at`] needs).
pub fn demo_args(storage: &TestStorage) -> Vec<String> {
    let mut args = storage_args(storage);
    args.push("--demo".into());
    args
}

/// [`demo_args`] for a server that takes a flood: tests that stream hundreds of updates
/// without waiting (to crash the server in the middle) would otherwise meet the
/// per-connection rate limit (its own test: ws_limits.rs), which closes the socket first
/// when the sender outpaces the refill.
pub fn flood_args(storage: &TestStorage) -> Vec<String> {
    let mut args = demo_args(storage);
    args.extend(["--ws-message-burst".into(), "100000".into()]);
    args
}

/// `team_in` for a server running as a separate process on `storage`.
pub async fn team_at(base_url: &str, storage: &TestStorage) -> Team {
    let db = Db::connect(&storage.database_url()).await.unwrap();
    let team = team_in(&db, base_url).await;
    db.close().await;
    team
}

/// Runs the Node Yjs client (`tests/node/yclient.mjs`) against a server's `/yjs` endpoint and
/// returns what it printed.
pub async fn node_client(
    server: &crate::TestServer,
    room: RoomId,
    token: &str,
    args: &[&str],
) -> Result<String> {
    let dir = node_dir();
    ensure_node_modules(&dir).await?;
    let output = tokio::process::Command::new("node")
        .arg(dir.join("yclient.mjs"))
        .arg(server.yjs_url())
        .arg(room.to_string())
        .arg(token)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .context("running node (Node.js 20+ is needed for the Yjs compatibility tests)")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "yclient {args:?} failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Installs the pinned npm packages once, if `cargo xtask setup` has not.
async fn ensure_node_modules(dir: &std::path::Path) -> Result<()> {
    static INSTALL: Mutex<()> = Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    if dir.join("node_modules/yjs").exists() && dir.join("node_modules/y-websocket").exists() {
        return Ok(());
    }
    let status = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .await
        .context("running npm ci in tests/node")?;
    if !status.success() {
        bail!("npm ci in tests/node failed");
    }
    Ok(())
}
