//! Several nodes of the real server (issue 19): `n` child processes of the test binary's
//! server on one fresh PostgreSQL database, sharing the secret key and an attachment
//! directory, talking through NATS under a prefix of their own, with nginx in front as the
//! load balancer. A test reaches the cluster as users do, through [`Cluster::lb_url`], or one
//! node directly ([`Cluster::node_url`], [`Cluster::node_ws_url`]) to put user A on node 0
//! and user B on node 2; it kills and restarts nodes ([`Cluster::kill_9`],
//! [`Cluster::restart`]). [`NatsProcess`] is a private NATS server to restart under load.
//!
//! Needs Debian's `nginx` and `nats-server` (`cargo xtask setup` installs both) and NATS
//! with JetStream at `RENRAKU_TEST_NATS_URL` (default `nats://127.0.0.1:4222`; `.ci/run`
//! starts it). A missing piece fails the test with what to run, never skips it.

use crate::process::ServerProcess;
use crate::{Member, PgDatabase, Team};
use anyhow::{anyhow, bail, Context, Result};
use renraku_server::db::Db;
use renraku_sync::RoomId;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Debian's nginx (`RENRAKU_NGINX` names another).
pub const NGINX: &str = "/usr/sbin/nginx";
/// Debian's nats-server (`RENRAKU_NATS_SERVER` names another).
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// The machine's NATS, which `.ci/run` starts (`RENRAKU_TEST_NATS_URL` names another).
pub const MACHINE_NATS_URL: &str = "nats://127.0.0.1:4222";

/// How long a node, nginx or NATS may take to start on a busy 2-core machine.
const START_PATIENCE: Duration = Duration::from_secs(60);

fn binary(env: &str, default: &str) -> String {
    let path = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    if !Path::new(&path).is_file() {
        panic!(
            "{path} is missing: the cluster tests need Debian's nginx and nats-server; \
             install them with `cargo xtask setup` (or set {env} to the binary)"
        );
    }
    path
}

/// The NATS the cluster tests use unless a test starts its own: the machine's.
pub fn machine_nats_url() -> String {
    std::env::var("RENRAKU_TEST_NATS_URL").unwrap_or_else(|_| MACHINE_NATS_URL.to_owned())
}

/// `nats://host:port` → `host:port`.
fn nats_addr(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host.trim_end_matches('/');
    if host.rsplit_once(':').is_some() {
        host.to_owned()
    } else {
        format!("{host}:4222")
    }
}

fn answers(addr: &str) -> bool {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
    })
}

/// A free loopback port, for a process that cannot be told "any" and report back (nginx).
/// Another process could take it before ours binds it; callers retry on "address in use".
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One node: its own data directory (uploads in progress, the SQLite file it never uses),
/// the address the load balancer knows it by, and the process while it runs.
struct Node {
    addr: SocketAddr,
    data_dir: tempfile::TempDir,
    process: Option<ServerProcess>,
}

/// `n` nodes on PostgreSQL and NATS behind nginx. Dropping it kills everything and drops
/// the database.
pub struct Cluster {
    bin: String,
    /// What every node is started with, after its `--data-dir`.
    node_args: Vec<String>,
    nodes: Vec<Node>,
    lb: LoadBalancer,
    nats_url: String,
    nats_prefix: String,
    /// The secret key file and the attachment directory every node shares.
    shared: tempfile::TempDir,
    // Last: dropped once the processes are gone.
    database: PgDatabase,
}

impl Cluster {
    /// `n` nodes of `bin` (the test's `BIN`) on the machine's NATS, with `extra_args` for
    /// every node (say [`crate::flood_args`]'s `--ws-message-burst`).
    pub async fn start(bin: &str, n: usize, extra_args: &[String]) -> Cluster {
        Self::start_on_nats(bin, n, extra_args, &machine_nats_url()).await
    }

    /// [`start`](Self::start) on the NATS at `nats_url` (a [`NatsProcess`]'s, say).
    ///
    /// Every node gets: the cluster's database, the shared `--secret-key-file` (node 0
    /// creates it), `--attachment-store file://…` and `--tiles` (the demo map, made once
    /// per target directory), `--nats-url nats_url` and a `--nats-prefix` drawn for this
    /// cluster (so parallel tests on one NATS never hear each other), `--trust-proxy`
    /// (nginx appends the client's address to `X-Forwarded-For`), and `--demo`. The nodes
    /// start one after another, node 0 first (migrations, the demo data); nginx last.
    pub async fn start_on_nats(
        bin: &str,
        n: usize,
        extra_args: &[String],
        nats_url: &str,
    ) -> Cluster {
        assert!(n >= 1, "a cluster has nodes");
        crate::logs::init();
        let nginx = binary("RENRAKU_NGINX", NGINX);
        let addr = nats_addr(nats_url);
        if !answers(&addr) {
            panic!(
                "NATS is not answering at {addr} ({nats_url}). The cluster tests need NATS \
                 with JetStream: `.ci/run` starts the machine's (`start-stop-daemon --start \
                 --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd \
                 /var/lib/nats-server`); `cargo xtask setup` installs nats-server"
            );
        }
        let database = PgDatabase::create().await;
        let shared = tempfile::tempdir().expect("a temporary directory");
        let attachments = shared.path().join("attachments");
        std::fs::create_dir_all(&attachments).expect("the shared attachment directory");
        let nats_prefix = format!("rt{:016x}", rand::random::<u64>());
        let tiles = demo_tiles().await;
        let mut node_args = vec![
            "--tiles".to_owned(),
            tiles.display().to_string(),
            "--database-url".to_owned(),
            database.url(),
            "--secret-key-file".to_owned(),
            shared.path().join("secret.key").display().to_string(),
            "--attachment-store".to_owned(),
            format!("file://{}", attachments.display()),
            "--nats-url".to_owned(),
            nats_url.to_owned(),
            "--nats-prefix".to_owned(),
            nats_prefix.clone(),
            "--trust-proxy".to_owned(),
            "--demo".to_owned(),
        ];
        node_args.extend(extra_args.iter().cloned());
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let data_dir = tempfile::tempdir().expect("a temporary directory");
            let process = ServerProcess::spawn(bin, &with_data_dir(&node_args, data_dir.path()))
                .await
                .unwrap_or_else(|e| panic!("node {i} did not start: {e:#}"));
            let addr = process
                .base_url
                .trim_start_matches("http://")
                .parse()
                .unwrap_or_else(|e| panic!("node {i} listens on {}: {e}", process.base_url));
            nodes.push(Node {
                addr,
                data_dir,
                process: Some(process),
            });
        }
        let upstreams: Vec<SocketAddr> = nodes.iter().map(|node| node.addr).collect();
        let lb = LoadBalancer::start(&nginx, &upstreams)
            .await
            .unwrap_or_else(|e| panic!("nginx did not start: {e:#}"));
        Cluster {
            bin: bin.to_owned(),
            node_args,
            nodes,
            lb,
            nats_url: nats_url.to_owned(),
            nats_prefix,
            shared,
            database,
        }
    }

    /// How many nodes the cluster has (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The load balancer, `http://127.0.0.1:PORT`: what users reach.
    pub fn lb_url(&self) -> String {
        self.lb.base_url()
    }

    /// The sync endpoint through the load balancer, `ws://…/ws`.
    pub fn lb_ws_url(&self) -> String {
        format!("{}/ws", self.lb_url().replacen("http", "ws", 1))
    }

    /// Node `i` (0-based) directly, `http://127.0.0.1:PORT`, whether or not it runs: a
    /// test puts a user on one node by sending their requests here.
    pub fn node_url(&self, i: usize) -> String {
        format!("http://{}", self.nodes[i].addr)
    }

    /// Node `i`'s sync endpoint, `ws://…/ws`.
    pub fn node_ws_url(&self, i: usize) -> String {
        format!("ws://{}/ws", self.nodes[i].addr)
    }

    /// Whether node `i` runs (it was not killed, or was restarted).
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].process.is_some()
    }

    /// The database every node uses (`postgres://…`).
    pub fn database_url(&self) -> String {
        self.database.url()
    }

    /// A connection to the cluster's database, for fixtures and for checking what is stored.
    pub async fn db(&self) -> Db {
        Db::connect(&self.database_url())
            .await
            .expect("the cluster's database")
    }

    /// The NATS the nodes use, and the prefix of this cluster's subjects on it.
    pub fn nats(&self) -> (&str, &str) {
        (&self.nats_url, &self.nats_prefix)
    }

    /// The directory of attachments every node shares.
    pub fn attachment_dir(&self) -> PathBuf {
        self.shared.path().join("attachments")
    }

    /// nginx's log of requests, one line per request with the node that answered it
    /// (`upstream=127.0.0.1:PORT`), for a failing test to show where requests went.
    pub fn lb_access_log(&self) -> String {
        std::fs::read_to_string(self.lb.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Two members of a fresh room and an outsider ([`crate::team_in`]), signed in
    /// through the load balancer (a session is valid on every node).
    pub async fn team(&self) -> Team {
        let db = self.db().await;
        let team = crate::team_in(&db, &self.lb_url()).await;
        db.close().await;
        team
    }

    /// A fresh room whose members are the first `n` demo professionals
    /// ([`crate::fixtures::crew_in`]), signed in through the load balancer.
    pub async fn crew(&self, n: usize) -> (RoomId, Vec<Member>) {
        let db = self.db().await;
        let crew = crate::fixtures::crew_in(&db, &self.lb_url(), n).await;
        db.close().await;
        crew
    }

    /// SIGKILL of node `i`: no shutdown code runs, its sockets just end. The load balancer
    /// sends what would have gone to it to the other nodes.
    pub async fn kill_9(&mut self, i: usize) {
        let process = self.nodes[i]
            .process
            .take()
            .unwrap_or_else(|| panic!("node {i} is not running"));
        process
            .kill_9()
            .await
            .unwrap_or_else(|e| panic!("kill -9 of node {i}: {e:#}"));
    }

    /// Starts node `i` again on its address and data directory, killing it first (-9) if it
    /// still runs; returns once it listens. The load balancer gives it requests again once
    /// its `fail_timeout` (1 s) since the last refused connection has passed.
    pub async fn restart(&mut self, i: usize) {
        if self.nodes[i].process.is_some() {
            self.kill_9(i).await;
        }
        let node = &self.nodes[i];
        let args = with_data_dir(&self.node_args, node.data_dir.path());
        let process = ServerProcess::spawn_at(&self.bin, &node.addr.to_string(), &args)
            .await
            .unwrap_or_else(|e| panic!("node {i} did not restart on {}: {e:#}", node.addr));
        self.nodes[i].process = Some(process);
    }
}

/// The demo's map, made once and kept in the target directory: a node started with
/// `--demo` on an empty data directory would draw its own, which takes seconds in a debug
/// build, for each node of each cluster.
async fn demo_tiles() -> PathBuf {
    static TILES: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    TILES
        .get_or_init(|| async {
            // A test binary lives in <target>/<profile>/deps/.
            let exe = std::env::current_exe().expect("the test binary's path");
            let dir = exe
                .ancestors()
                .nth(3)
                .map_or_else(std::env::temp_dir, Path::to_path_buf)
                .join("renraku-cluster");
            let path = dir.join("demo-tiles.mbtiles");
            if !path.exists() {
                std::fs::create_dir_all(&dir).expect("a directory for the demo map");
                // Written aside and renamed: another test binary may be writing it too.
                let aside = dir.join(format!("demo-tiles.{:016x}.tmp", rand::random::<u64>()));
                renraku_server::tiles::demo::write(&aside)
                    .await
                    .expect("the demo map");
                std::fs::rename(&aside, &path).expect("the demo map in place");
            }
            path
        })
        .await
        .clone()
}

fn with_data_dir(args: &[String], dir: &Path) -> Vec<String> {
    let mut all = vec!["--data-dir".to_owned(), dir.display().to_string()];
    all.extend(args.iter().cloned());
    all
}

/// nginx as the test's own process (`daemon off`, one process: `master_process off` leaves
/// no orphaned worker behind when the test kills it), with a configuration generated in a
/// temporary directory that also holds its pid file, logs and temporary files.
struct LoadBalancer {
    port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

impl LoadBalancer {
    async fn start(nginx: &str, upstreams: &[SocketAddr]) -> Result<LoadBalancer> {
        let dir = tempfile::tempdir()?;
        // The port is chosen before nginx binds it; another test may take it in between.
        let mut attempt = 0;
        loop {
            let port = free_port();
            match Self::try_start(nginx, &dir, port, upstreams).await {
                Ok(child) => {
                    return Ok(LoadBalancer {
                        port,
                        dir,
                        _child: child,
                    })
                }
                Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_start(
        nginx: &str,
        dir: &tempfile::TempDir,
        port: u16,
        upstreams: &[SocketAddr],
    ) -> Result<Child> {
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, nginx_conf(dir.path(), port, upstreams))?;
        let error_log = dir.path().join("error.log");
        let output = std::fs::File::create(dir.path().join("nginx.out"))?;
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            // Before it reads the configuration nginx opens its built-in error log
            // (/var/log/nginx/), which a user other than root cannot write.
            .arg("-e")
            .arg(&error_log)
            .stdout(Stdio::from(output.try_clone()?))
            .stderr(Stdio::from(output))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {nginx}"))?;
        let health = format!("http://127.0.0.1:{port}/healthz");
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_PATIENCE;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                let out = std::fs::read_to_string(dir.path().join("nginx.out")).unwrap_or_default();
                bail!("nginx exited ({status}): {out}{log}");
            }
            // A node answering through nginx: the proxy is up and reaches the nodes.
            if let Ok(response) = client.get(&health).send().await {
                if response.status().is_success() {
                    return Ok(child);
                }
            }
            if tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                bail!("nginx did not answer on port {port} in time: {log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The load balancer's configuration: round robin over the nodes; a request whose node
/// refuses the connection or does not answer goes to the next node (`proxy_next_upstream`;
/// nginx retries a POST too when the node never got it), and that node is left out for a
/// second; WebSockets pass through with a long read timeout, as in the README's
/// deployment example.
fn nginx_conf(dir: &Path, port: u16, upstreams: &[SocketAddr]) -> String {
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|a| format!("        server {a} max_fails=1 fail_timeout=1s;\n"))
        .collect();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    log_format nodes '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {d}/access.log nodes;
    # The nodes check sizes themselves (RENRAKU_ATTACHMENT_MAX_BYTES).
    client_max_body_size 0;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream renraku {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://renraku;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 0;
        }}
    }}
}}
"#
    )
}

/// A NATS server with JetStream of the test's own, on a free loopback port with its own
/// store directory, for a test that stops or restarts NATS under load (the machine's is
/// shared by every test). Dropping it kills it.
pub struct NatsProcess {
    bin: String,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsProcess {
    /// Starts `nats-server -js` on a port it picks; returns once it is ready.
    pub async fn start() -> NatsProcess {
        let bin = binary("RENRAKU_NATS_SERVER", NATS_SERVER);
        let store = tempfile::tempdir().expect("a temporary directory");
        let (child, port) = spawn_nats(&bin, store.path(), None)
            .await
            .unwrap_or_else(|e| panic!("nats-server did not start: {e:#}"));
        NatsProcess {
            bin,
            port,
            store,
            child: Some(child),
        }
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL: NATS vanishes mid-message, as on a crash.
    pub async fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Starts it again on the same port and store (JetStream keeps its streams); returns
    /// once it is ready.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "nats-server is running");
        let (child, _) = spawn_nats(&self.bin, self.store.path(), Some(self.port))
            .await
            .unwrap_or_else(|e| panic!("nats-server did not restart on {}: {e:#}", self.port));
        self.child = Some(child);
    }

    /// [`kill_9`](Self::kill_9), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) {
        self.kill_9().await;
        self.start_again().await;
    }
}

/// Starts nats-server on `port` (or one it picks) and reads its log until it is ready;
/// returns the process and its port. The log goes on into `<store>/nats.log`.
async fn spawn_nats(bin: &str, store: &Path, port: Option<u16>) -> Result<(Child, u16)> {
    let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    let mut child = Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut log = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(store.join("nats.log"))
        .await?;
    let mut seen = String::new();
    let ready = tokio::time::timeout(START_PATIENCE, async {
        let mut port = port;
        while let Some(line) = lines.next_line().await? {
            log.write_all(format!("{line}\n").as_bytes()).await?;
            seen.push_str(&line);
            seen.push('\n');
            if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
                let p = addr.trim().rsplit_once(':').map(|(_, p)| p.parse::<u16>());
                port = Some(p.context("a port")??);
            }
            if line.contains("Server is ready") {
                return port.context("nats-server did not say its port");
            }
        }
        Err(anyhow!("nats-server exited: {seen}"))
    })
    .await
    .map_err(|_| anyhow!("nats-server was not ready in time"))??;
    // Keep its log, and never let a full pipe block it.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log.write_all(format!("{line}\n").as_bytes()).await;
        }
    });
    Ok((child, ready))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_urls_give_host_and_port() {
        assert_eq!(nats_addr("nats://127.0.0.1:4222"), "127.0.0.1:4222");
        assert_eq!(nats_addr("nats://u:p@nats.internal"), "nats.internal:4222");
    }
}
