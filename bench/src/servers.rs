//! The servers under test, as child processes: Renraku's release binary on SQLite, with its
//! users, rooms, memberships and sessions written straight into the database, the reference
//! y-websocket server under Node, and y-sweet (a Rust Yjs server that stores documents).

use crate::load::Target;
use crate::procfs;
use anyhow::{anyhow, bail, Context, Result};
use renraku_server::db::Db;
use renraku_sync::{PostId, RoomDoc, UserId};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A user and the bearer token of a session of theirs.
#[derive(Clone, Debug)]
pub struct Cred {
    pub user: i64,
    pub token: String,
}

/// What the bench needs from a seeded database.
pub struct Seeded {
    /// Server room ids, one per bench room.
    pub rooms: Vec<i64>,
    /// One per client.
    pub creds: Vec<Cred>,
    /// The 10,000-post room and a member of it, if asked for.
    pub big_room: Option<(i64, Cred)>,
}

fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A room document of `posts` posts by `author`, as one v1 update.
pub fn big_room_state(posts: u32, author: i64, client_id: u64) -> Vec<u8> {
    let doc = RoomDoc::new(client_id);
    for i in 0..posts {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).expect("ULID");
        let text = format!("訪問記録 {i}: バイタル安定、服薬確認済み。");
        doc.start_thread(
            UserId::new(author),
            id,
            &text,
            1_700_000_000_000 + i64::from(i),
        );
    }
    doc.encode_state()
}

/// Writes `clients` users (client i in room i % rooms), their sessions and memberships, and
/// optionally a room holding `big_posts` posts as a snapshot, in one transaction.
pub async fn seed(
    db_url: &str,
    clients: u32,
    rooms: u32,
    big_posts: Option<u32>,
) -> Result<Seeded> {
    let db = Db::connect(db_url).await?;
    db.migrate().await?;
    let pool = db.pool();
    let now = now_ms();
    // PostgreSQL (several nodes) is always on today's schema; an old SQLite file may not be.
    let public_id = db_url.starts_with("postgres") || {
        let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('sessions')")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<Result<_, _>>()?;
        columns.iter().any(|c| c == "public_id")
    };
    let mut tx = pool.begin().await?;
    let municipality: i64 = sqlx::query(
        "INSERT INTO municipalities (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind("bench")
    .bind("ベンチ市")
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let mut room_ids = Vec::with_capacity(rooms as usize);
    for r in 0..rooms + u32::from(big_posts.is_some()) {
        let id: i64 = sqlx::query(
            "INSERT INTO rooms (municipality_id, kind, title, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(municipality)
        .bind("project")
        .bind(format!("bench room {r}"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        room_ids.push(id);
    }
    let big_id = big_posts.map(|_| room_ids.pop().expect("the big room"));
    let mut creds = Vec::with_capacity(clients as usize);
    for i in 0..clients + u32::from(big_posts.is_some()) {
        let user: i64 = sqlx::query(
            "INSERT INTO users (municipality_id, login_id, password_hash, display_name, \
             display_name_kana, profession, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(municipality)
        .bind(format!("bench{i}"))
        .bind("!no-password-sign-in")
        .bind(format!("ベンチ {i}"))
        .bind("べんち")
        .bind("nurse")
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let token = new_token();
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        // Later migrations may add columns: fill the ones we know, in any case.
        let (cols, vals) = if public_id {
            (", public_id, user_agent", ", $6, $7")
        } else {
            ("", "")
        };
        let sql = format!(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at{cols}) \
             VALUES ($1, $2, $3, $4, $5{vals})"
        );
        let mut q = sqlx::query(&sql)
            .bind(hash)
            .bind(user)
            .bind(now)
            .bind(now)
            .bind(now + 24 * 3600 * 1000);
        if public_id {
            q = q.bind(ulid::Ulid::new().to_string()).bind("renraku-bench");
        }
        q.execute(&mut *tx).await?;
        let room = match big_id {
            Some(big) if i == clients => big,
            _ => room_ids[(i % rooms) as usize],
        };
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(room)
        .bind(user)
        .bind("member")
        .bind(now)
        .execute(&mut *tx)
        .await?;
        creds.push(Cred { user, token });
    }
    let big_room = match (big_id, big_posts) {
        (Some(room), Some(posts)) => {
            let member = creds.pop().expect("the big room's member");
            let state = big_room_state(posts, member.user, 900_000_001);
            sqlx::query(
                "INSERT INTO doc_snapshots (doc, state, up_to_seq, updated_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(format!("room/{room}"))
            .bind(state)
            .bind(0_i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            Some((room, member))
        }
        _ => None,
    };
    tx.commit().await?;
    db.close().await;
    Ok(Seeded {
        rooms: room_ids,
        creds,
        big_room,
    })
}

/// The `renraku` release binary as a child process.
pub struct Renraku {
    child: Child,
    bin: PathBuf,
    pub data_dir: PathBuf,
    extra: Vec<String>,
    pub addr: String,
}

impl Renraku {
    pub async fn start(bin: &Path, data_dir: &Path, extra: &[String]) -> Result<Renraku> {
        let (child, addr) = spawn_renraku(bin, data_dir, extra).await?;
        Ok(Renraku {
            child,
            bin: bin.to_owned(),
            data_dir: data_dir.to_owned(),
            extra: extra.to_vec(),
            addr,
        })
    }

    pub fn database_url(data_dir: &Path) -> String {
        format!("sqlite://{}/renraku.db", data_dir.display())
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn target(&self) -> Target {
        Target::Renraku {
            ws_url: format!("ws://{}/ws", self.addr),
        }
    }

    /// The same server on `/yjs/{room}`.
    pub fn yjs_target(&self) -> Target {
        Target::RenrakuYjs {
            addr: self.addr.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// SIGKILL and start again on the same storage.
    pub async fn restart(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        let (child, addr) = spawn_renraku(&self.bin, &self.data_dir, &self.extra).await?;
        self.child = child;
        self.addr = addr;
        Ok(())
    }

    /// Warnings and errors the server logged (its stderr).
    pub fn log_problems(&self) -> usize {
        std::fs::read_to_string(self.data_dir.join("server.log"))
            .map(|s| {
                s.lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn spawn_renraku(bin: &Path, data_dir: &Path, extra: &[String]) -> Result<(Child, String)> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"))?;
    let mut child = Command::new(bin)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return Ok(rest.trim().trim_end_matches('/').to_owned());
            }
        }
        Err(anyhow!("renraku exited before listening"))
    })
    .await
    .map_err(|_| anyhow!("renraku did not start in time"))??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

/// `HOST=127.0.0.1 PORT=… npx y-websocket`, in its own process group.
pub struct YWebsocket {
    child: Child,
    pgid: u32,
    /// The node process that serves (a descendant of npx).
    pub pid: u32,
    pub port: u16,
}

impl YWebsocket {
    pub async fn start(node_dir: &Path) -> Result<YWebsocket> {
        if !node_dir.join("node_modules/@y/websocket-server").exists() {
            bail!(
                "{}/node_modules is missing: run `npm ci` there (cargo xtask bench does)",
                node_dir.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("npx")
            .args(["--no-install", "y-websocket"])
            .current_dir(node_dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("starting npx y-websocket (Node.js 20+ is needed)")?;
        let pgid = child.id().unwrap_or(0);
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("running at") {
                    return Ok(());
                }
            }
            Err(anyhow!("y-websocket exited before listening"))
        })
        .await
        .map_err(|_| anyhow!("y-websocket did not start in time"))??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = procfs::descendants(pgid)
            .into_iter()
            .rfind(|p| {
                let c = procfs::cmdline(*p);
                c.contains("node") && c.contains("websocket")
            })
            .unwrap_or(pgid);
        Ok(YWebsocket {
            child,
            pgid,
            pid,
            port,
        })
    }

    pub fn target(&self) -> Target {
        Target::YWebsocket {
            base_url: format!("ws://127.0.0.1:{}", self.port),
        }
    }

    pub async fn stop(mut self) {
        procfs::kill_group(self.pgid);
        let _ = self.child.wait().await;
    }
}

impl Drop for YWebsocket {
    fn drop(&mut self) {
        // npx's children are not killed with npx: end the whole group.
        procfs::kill_group(self.pgid);
    }
}

/// `y-sweet serve` on a store directory: documents kept in memory while in use, written to
/// the store every `--checkpoint-freq-seconds` (10 by default) and unloaded two checkpoints
/// after their last connection closes.
pub struct YSweet {
    child: Child,
    bin: PathBuf,
    pub store: PathBuf,
    extra: Vec<String>,
    /// Logs at INFO from y-sweet's own crate (document loads and unloads).
    verbose: bool,
    pub addr: String,
}

impl YSweet {
    pub async fn start(
        bin: &Path,
        store: &Path,
        extra: &[String],
        verbose: bool,
    ) -> Result<YSweet> {
        let (child, addr) = spawn_ysweet(bin, store, extra, verbose).await?;
        Ok(YSweet {
            child,
            bin: bin.to_owned(),
            store: store.to_owned(),
            extra: extra.to_vec(),
            verbose,
            addr,
        })
    }

    /// Waits until y-sweet has unloaded the document it last loaded (needs `verbose`): its
    /// log's last load or unload line is an unload.
    pub async fn wait_unloaded(&self, limit: Duration) -> Result<()> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let log = std::fs::read_to_string(self.store.with_extension("log")).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| l.contains("Loading doc") || l.contains("GCing doc"));
            if last.is_some_and(|l| l.contains("GCing doc")) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                bail!("y-sweet did not unload the document in {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn target(&self) -> Target {
        Target::YSweet {
            addr: self.addr.clone(),
        }
    }

    /// Creates the documents through the HTTP API, as an application's backend does before
    /// handing out connection URLs, and checks that the URL y-sweet gives a client is the one
    /// the load clients use.
    pub async fn create_docs(&self, room_ids: &[i64]) -> Result<()> {
        let http = reqwest::Client::new();
        for &room in room_ids {
            let doc = crate::load::doc_name(room);
            let resp = http
                .post(format!("http://{}/doc/new", self.addr))
                .json(&serde_json::json!({ "docId": doc }))
                .send()
                .await?;
            anyhow::ensure!(
                resp.status().is_success(),
                "y-sweet /doc/new: {}",
                resp.status()
            );
        }
        if let Some(&room) = room_ids.first() {
            let doc = crate::load::doc_name(room);
            let token: serde_json::Value = http
                .post(format!("http://{}/doc/{doc}/auth", self.addr))
                .json(&serde_json::json!({}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let want = format!("ws://{}/d/{doc}/ws", self.addr);
            anyhow::ensure!(
                token["url"].as_str() == Some(want.as_str()),
                "y-sweet hands out {}, the bench connects to {want}/{doc}",
                token["url"]
            );
        }
        Ok(())
    }

    /// Writes a document into the store with `y-sweet convert-from-update`, server stopped
    /// or not yet started.
    pub async fn store_doc(bin: &Path, store: &Path, room_id: i64, update: &[u8]) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut child = Command::new(bin)
            .arg("convert-from-update")
            .arg(store)
            .arg(crate::load::doc_name(room_id))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(update).await?;
        drop(stdin);
        let status = child.wait().await?;
        anyhow::ensure!(status.success(), "y-sweet convert-from-update: {status}");
        Ok(())
    }

    /// SIGKILL and start again on the same store.
    pub async fn restart(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        let (child, addr) = spawn_ysweet(&self.bin, &self.store, &self.extra, self.verbose).await?;
        self.child = child;
        self.addr = addr;
        Ok(())
    }

    /// Messages y-sweet dropped because a connection's send queue (1,024 messages) was full:
    /// it logs each at WARN and keeps the connection.
    pub fn dropped_messages(&self) -> usize {
        std::fs::read_to_string(self.store.with_extension("log"))
            .map(|s| {
                s.lines()
                    .filter(|l| l.contains("Error sending message"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn spawn_ysweet(
    bin: &Path,
    store: &Path,
    extra: &[String],
    verbose: bool,
) -> Result<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(store.with_extension("log"))?;
    let child = Command::new(bin)
        .arg("serve")
        .arg(store)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(extra)
        // Its INFO level logs every save: WARN is what a production server would run with.
        .env(
            "RUST_LOG",
            if verbose { "warn,y_sweet=info" } else { "warn" },
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} (cargo xtask bench installs it)", bin.display()))?;
    let addr = format!("127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(r) = http.get(format!("http://{addr}/ready")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    ready.map_err(|_| anyhow!("y-sweet did not start in time"))?;
    Ok((child, addr))
}
