//! Test harness: the real Renraku server, in-process on a loopback port with a fresh
//! database per test (SQLite in a temporary directory, or a fresh PostgreSQL database),
//! plus clients and fixtures.
//!
//! Which backend a test's servers and storage use is the test's own: [`test_both_dbs!`]
//! runs one test body twice, once on each backend ([`backend`] tells the body which);
//! outside it, SQLite.

pub mod api;
pub mod cluster;
pub mod fixture;
pub mod fixtures;
pub mod helpers;
pub mod logs;
pub mod process;
pub mod python;
pub mod sync_client;

pub use fixtures::{
    crew_in, demo_args, flood_args, node_client, signin_at, signin_request, storage_args, team_at,
    team_in, Member, Team, TestStorage,
};

use anyhow::{bail, Context, Result};
use renraku_server::{AppState, Clock, Config, Db};
use renraku_sync::RoomId;
use sqlx::{Connection, Executor, PgConnection};
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The PostgreSQL server tests create their databases on (trust authentication).
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub use renraku_server::db::Backend;

tokio::task_local! {
    /// The backend of the test running on this task (set by [`on_backend`]).
    static BACKEND: Backend;
}

/// The backend the running test's servers and storage use: the one [`test_both_dbs!`]
/// chose for this run of the body, or SQLite outside it (and in tasks a test spawns).
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Runs `test` with `backend` as the backend of every server and storage it makes through
/// this crate ([`TestServer::start`], [`TestStorage::new`], …). Used by [`test_both_dbs!`].
pub async fn on_backend<F: std::future::Future>(backend: Backend, test: F) -> F::Output {
    BACKEND.scope(backend, test).await
}

/// One async test body, run on both backends: `test_both_dbs!(name);` beside
/// `async fn name() { … }` makes `mod name { #[tokio::test] async fn sqlite() … ;
/// #[tokio::test] async fn postgres() … }`, each running the body under [`on_backend`].
/// Arguments after the name go to `#[tokio::test(…)]`:
/// `test_both_dbs!(name, flavor = "multi_thread", worker_threads = 4);`.
///
/// PostgreSQL is the server at `RENRAKU_TEST_PG_URL` (default 127.0.0.1:5432, trust
/// authentication); its being unreachable fails the test, never skips it.
#[macro_export]
macro_rules! test_both_dbs {
    ($name:ident $(, $($args:tt)+)?) => {
        mod $name {
            #[tokio::test$(($($args)+))?]
            async fn sqlite() {
                $crate::on_backend($crate::Backend::Sqlite, super::$name()).await
            }

            #[tokio::test$(($($args)+))?]
            async fn postgres() {
                $crate::on_backend($crate::Backend::Postgres, super::$name()).await
            }
        }
    };
}

fn pg_admin_url() -> String {
    std::env::var("RENRAKU_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN_URL.to_owned())
}

/// A fresh PostgreSQL database, dropped (with its connections) when this value is dropped.
pub struct PgDatabase {
    name: String,
    admin_url: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin_url = pg_admin_url();
        let name = format!("renraku_t_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url}: {e}"));
        // Concurrent CREATE DATABASE can trip over template1 being in use; retry briefly.
        let mut attempt = 0;
        loop {
            match conn
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
            {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    note(&format!("CREATE DATABASE {name} failed ({e}); retrying"));
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("CREATE DATABASE {name}: {e}"),
            }
        }
        let _ = conn.close().await;
        PgDatabase { name, admin_url }
    }

    pub fn url(&self) -> String {
        match self.admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{}", self.name),
            None => unreachable!("the admin URL names a database"),
        }
    }
}

fn note(message: &str) {
    eprintln!("[renraku-tests] {message}");
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (name, admin_url) = (self.name.clone(), self.admin_url.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived
        // thread with its own runtime does the cleanup and is joined.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url).await?;
                // FORCE: the server's pool may still hold connections.
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                conn.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            note(&format!("could not drop test database {}: {e}", self.name));
        }
    }
}

/// The server running in-process. Dropping it stops the server and deletes its database.
pub struct TestServer {
    addr: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    // Last field: dropped after the server task is stopped (shared with the other nodes on
    // the same storage: see [`TestServer::another_node`]).
    storage: std::sync::Arc<TestStorage>,
}

impl TestServer {
    /// A server with the default configuration on fresh storage with the demo data.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with the configuration adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with_clock(Clock::system(), adjust).await
    }

    /// Like [`TestServer::start_with`], with sessions and room tokens living by `clock` (a
    /// manual clock the test moves: see [`TestServer::clock`]).
    pub async fn start_with_clock(clock: Clock, adjust: impl FnOnce(&mut Config)) -> TestServer {
        logs::init();
        let storage = TestStorage::new().await;
        let mut config = Config::with_data_dir(storage.dir.path());
        config.database_url = Some(storage.database_url());
        config.insecure_cookies = true;
        // Most tests sign in as the demo's people; one without it says `config.demo = false`.
        config.demo = true;
        adjust(&mut config);
        Self::launch(std::sync::Arc::new(storage), config, clock).await
    }

    /// Another node of this server's deployment: a second server, in this process, on the
    /// same database and data directory (the key file and the attachments are shared, as
    /// several nodes behind a load balancer share them), with the same configuration and
    /// clock. Nothing else is shared: each node has its own hub, workers and memory. The
    /// storage lives until the last node on it is dropped.
    pub async fn another_node(&self) -> TestServer {
        let config = self.state.config.clone();
        Self::launch(self.storage.clone(), config, self.state.clock.clone()).await
    }

    async fn launch(
        storage: std::sync::Arc<TestStorage>,
        config: Config,
        clock: Clock,
    ) -> TestServer {
        let db = renraku_server::prepare(&config)
            .await
            .expect("database prepared");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::with_clock(config, db, clock);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(renraku_server::serve_state(
            state.clone(),
            listener,
            async {
                let _ = rx.await;
            },
        ));
        TestServer {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
            storage,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The multiplexed sync endpoint, `ws://…/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The y-websocket server URL (`ws://…/yjs`); providers append `/{room}`.
    pub fn yjs_url(&self) -> String {
        format!("ws://{}/yjs", self.addr)
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The clock sessions live by (move it with `advance` when the server has a manual one).
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    pub fn storage(&self) -> &TestStorage {
        &self.storage
    }

    /// Signs in a demo professional; returns the session token.
    pub async fn signin(&self, login_id: &str) -> String {
        signin_at(&self.base_url(), login_id).await
    }

    /// An HTTP client that sends `token` as its bearer session.
    pub fn client(&self, token: &str) -> reqwest::Client {
        helpers::bearer_client(token)
    }

    /// GETs `path` with `token`'s session and reads the answer as JSON (panics if it is not).
    pub async fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        self.client(token)
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `url` relative to this server: `server.url("/api/me")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// A `/yjs/{room}` token for the holder of `session`.
    pub async fn room_token(&self, session: &str, room: RoomId) -> Result<String> {
        let response = self
            .client(session)
            .post(self.url(&format!("/api/rooms/{room}/token")))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("room token: status {}", response.status());
        }
        let body: serde_json::Value = response.json().await?;
        let token = body["token"]
            .as_str()
            .map(str::to_owned)
            .context("no token in the answer")?;
        logs::record_secret(&token);
        Ok(token)
    }

    /// Number of audit entries with this action.
    pub async fn audit_count(&self, action: &str) -> i64 {
        self.db().audit_count(action).await.expect("audit count")
    }

    /// Stops the server gracefully and waits for it (within a few seconds).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open WebSockets would hold a graceful shutdown forever; don't wait on them.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Two members of a fresh room and an outsider, on an in-process server.
pub async fn team(server: &TestServer) -> Team {
    team_in(server.db(), &server.base_url()).await
}
