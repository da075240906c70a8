//! README "Deploying", followed on a fresh data directory: its commands, exactly as written
//! there, run by `sh` against the real binary (named `renraku` on the PATH), on SQLite and on
//! PostgreSQL. An operator gets no demo municipality and no demo login, creates the first
//! municipality administrator and a system administrator with one-time passwords that must
//! be changed at the first sign-in, cannot run `init` twice for a slug, and makes a backup
//! that leaves the secret key out.

use renraku_server::Db;
use renraku_tests::{logs, Backend, TestStorage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BIN;
/// What the README's environment file sets; the test's operator sets the same.
const PUBLIC_URL: &str = "https://renraku.example.jp";
const SECURITY_CONTACT: &str = "mailto:security@example.jp";
/// The README's backup directory, which the test puts in a temporary directory.
const README_BACKUPS: &str = "/var/backups/renraku";

/// The README's "Deploying" section.
fn deploying() -> String {
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(readme).expect("README.md");
    let start = text.find("\n## Deploying\n").expect("a Deploying section");
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

/// The command lines of the section's ```sh blocks (not the environment file's settings).
fn commands(section: &str) -> Vec<String> {
    let setting = |line: &str| {
        line.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
    };
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in section.lines().map(str::trim) {
        if let Some(lang) = line.strip_prefix("```") {
            in_sh = !in_sh && lang == "sh";
        } else if in_sh && !line.is_empty() && !line.starts_with('#') && !setting(line) {
            out.push(line.to_owned());
        }
    }
    out
}

/// A fresh server machine: the data directory (or database), a backup directory, and a
/// PATH on which `renraku` is the binary under test.
struct Operator {
    storage: TestStorage,
    bin_dir: tempfile::TempDir,
    backups: tempfile::TempDir,
    commands: Vec<String>,
}

impl Operator {
    async fn new() -> Operator {
        let bin_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(BIN, bin_dir.path().join("renraku")).unwrap();
        Operator {
            storage: TestStorage::new().await,
            bin_dir,
            backups: tempfile::tempdir().unwrap(),
            commands: commands(&deploying()),
        }
    }

    fn data_dir(&self) -> &Path {
        self.storage.dir.path()
    }

    /// The README's one command line that starts with `prefix`.
    fn readme_command(&self, prefix: &str) -> String {
        let found: Vec<&String> = self
            .commands
            .iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "README Deploying: one `{prefix}…` command expected in {:?}",
            self.commands
        );
        found[0].clone()
    }

    /// The environment file's settings (README step 2), on this machine; behind a proxy.
    fn command(&self, line: &str) -> Command {
        let line = line.replace(README_BACKUPS, &self.backups.path().display().to_string());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(line);
        let path = format!(
            "{}:{}",
            self.bin_dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("RENRAKU_DATA_DIR", self.data_dir())
            .env("RENRAKU_PUBLIC_URL", PUBLIC_URL)
            .env("RENRAKU_SECURITY_CONTACT", SECURITY_CONTACT)
            .env("RENRAKU_TRUST_PROXY", "true")
            .env("RENRAKU_LISTEN", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env_remove("DATABASE_URL")
            .kill_on_drop(true);
        if let Some(pg) = &self.storage.postgres {
            cmd.env("DATABASE_URL", pg.url());
        }
        // At the level every test server logs at; where it goes is up to the caller.
        cmd.env("RUST_LOG", logs::child_filter());
        cmd
    }

    /// Runs the README's command starting with `prefix`: whether it succeeded, its stdout
    /// and its stderr.
    async fn run(&self, prefix: &str) -> (bool, String, String) {
        let line = self.readme_command(prefix);
        let mut cmd = self.command(&line);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().await.expect("sh runs");
        // Kept for the canary check, like every server log: a one-time password must not
        // show up in what a command logs.
        // (A command that logged nothing leaves no file: the check refuses empty logs.)
        if !stderr.is_empty() {
            if let Some((mut file, _)) = logs::child_log() {
                std::io::Write::write_all(&mut file, &stderr).unwrap();
            }
        }
        (
            status.success(),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    }

    /// `renraku serve` as the systemd unit runs it (README step 4).
    async fn serve(&self) -> Served {
        let section = deploying();
        assert!(
            section.contains("ExecStart=/usr/local/bin/renraku serve\n"),
            "the README's unit starts `renraku serve`"
        );
        let mut cmd = self.command("exec renraku serve");
        cmd.stdout(Stdio::piped());
        // What the server logs goes where the canary check reads it.
        if let Some((file, _)) = logs::child_log() {
            cmd.stderr(Stdio::from(file));
        }
        let mut child = cmd.spawn().expect("renraku serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, rx) = oneshot::channel();
        // Every line the server prints, until it exits; the address as soon as it listens.
        let printed = tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut all = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
                all.push(line);
            }
            all
        });
        let base = tokio::time::timeout(std::time::Duration::from_secs(60), rx)
            .await
            .expect("the server listens within a minute")
            .expect("the server printed where it listens");
        Served {
            child,
            base,
            printed,
        }
    }
}

struct Served {
    child: Child,
    base: String,
    printed: JoinHandle<Vec<String>>,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server; everything it printed.
    async fn stop(mut self) -> Vec<String> {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.printed.await.unwrap()
    }
}

/// What `init` printed after `label`.
fn field(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {stdout}"))
        .trim()
        .to_owned()
}

async fn signin(server: &Served, slug: &str, login: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(&format!("/api/{slug}/signin")))
        .json(&json!({"login_id": login, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Signs in with a one-time password, is held to changing it, changes it; the new session.
async fn first_sign_in(server: &Served, slug: &str, login: &str, once: &str, new: &str) -> String {
    let response = signin(server, slug, login, once).await;
    assert_eq!(
        response.status(),
        200,
        "{login} signs in with the one-time password"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["password_change_required"], true, "{body}");
    let token = body["session_token"].as_str().unwrap().to_owned();
    logs::record_secret(&token);
    let http = renraku_tests::helpers::bearer_client(&token);
    let me = http.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 403, "nothing before the password is changed");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["error"], "password_change_required");
    let change = http
        .post(server.url("/api/me/password"))
        .json(&json!({"current": once, "new": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 204);
    let me = http.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    // The one-time password is spent.
    let again = signin(server, slug, login, once).await;
    assert_eq!(again.status(), 401, "the one-time password works once");
    token
}

test_both_dbs!(the_operators_first_hour_as_the_readme_says);
async fn the_operators_first_hour_as_the_readme_says() {
    let op = Operator::new().await;

    let (ok, out, err) = op.run("renraku migrate").await;
    assert!(ok, "migrate: {out}{err}");

    let (ok, out, err) = op.run("renraku init municipality ").await;
    assert!(ok, "init municipality: {out}{err}");
    let admin_password = field(&out, "one-time password:");
    logs::record_secret(&admin_password);
    assert_eq!(field(&out, "login id:"), "sakura-admin");
    assert_eq!(field(&out, "sign in at:"), format!("{PUBLIC_URL}/sakura/"));

    let (ok, out, err) = op.run("renraku init system-admin ").await;
    assert!(ok, "init system-admin: {out}{err}");
    let operator_password = field(&out, "one-time password:");
    logs::record_secret(&operator_password);
    assert_ne!(admin_password, operator_password);

    // Running init again for the same slug is refused and changes nothing.
    let db = Db::connect(&op.storage.database_url()).await.unwrap();
    let before = db.municipalities().await.unwrap();
    let (ok, out, err) = op.run("renraku init municipality ").await;
    assert!(!ok, "a second init for sakura succeeded: {out}");
    assert!(err.contains("already exists"), "{err}");
    assert!(!out.contains("one-time password"), "{out}");
    let after = db.municipalities().await.unwrap();
    assert_eq!(before.len(), after.len());
    assert_eq!(db.audit_count("init.municipality").await.unwrap(), 1);
    assert_eq!(db.audit_count("init.account").await.unwrap(), 2);

    let server = op.serve().await;
    let admin_token = first_sign_in(
        &server,
        "sakura",
        "sakura-admin",
        &admin_password,
        "さくらの新しい合言葉-2026",
    )
    .await;
    let me: Value = renraku_tests::helpers::bearer_client(&admin_token)
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "municipality_admin", "{me}");
    assert_eq!(me["user"]["display_name"], "佐藤 一郎", "{me}");
    assert_eq!(me["municipality"]["name"], "さくら市", "{me}");

    // The system administrator sees every municipality: sakura, and no demo.
    let operator_token = first_sign_in(
        &server,
        "sakura",
        "operator",
        &operator_password,
        "運用担当の合言葉-2026",
    )
    .await;
    let all: Value = renraku_tests::helpers::bearer_client(&operator_token)
        .get(server.url("/api/admin/municipalities"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["sakura"]);
    let demo = signin(
        &server,
        "demo",
        "city1",
        renraku_server::demo::DEMO_PASSWORD,
    )
    .await;
    assert_eq!(demo.status(), 404, "a demo municipality answers");

    // security.txt names the operator's contact.
    let security_txt = reqwest::get(server.url("/.well-known/security.txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        security_txt.contains(&format!("Contact: {SECURITY_CONTACT}\n")),
        "{security_txt}"
    );

    // Backups (README step 5): SQLite's own command, or pg_dump.
    if renraku_tests::backend() == Backend::Postgres {
        let (ok, out, err) = op.run("pg_dump ").await;
        assert!(ok, "pg_dump: {out}{err}");
        let dumps: Vec<_> = std::fs::read_dir(op.backups.path()).unwrap().collect();
        assert_eq!(dumps.len(), 1, "one dump file");
    } else {
        let (ok, out, err) = op.run("renraku backup ").await;
        assert!(ok, "backup: {out}{err}");
        let made: Vec<PathBuf> = std::fs::read_dir(op.backups.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(made.len(), 1, "one dated backup directory");
        let backup = &made[0];
        assert!(backup.join("MANIFEST.json").is_file());
        assert!(backup.join("renraku.db").is_file());
        assert!(
            !backup.join("secret.key").exists(),
            "the secret key must stay out of backups"
        );
    }
    assert!(
        op.data_dir().join("secret.key").is_file(),
        "the README tells the operator to copy the secret key made at the first start"
    );

    // The recommended policy: the admin's next sign-in must enrol a second factor.
    let (ok, out, err) = op.run("renraku second-factor-policy ").await;
    assert!(ok, "second-factor-policy: {out}{err}");
    let next = signin(
        &server,
        "sakura",
        "sakura-admin",
        "さくらの新しい合言葉-2026",
    )
    .await;
    assert_eq!(next.status(), 200);
    let next: Value = next.json().await.unwrap();
    assert_eq!(next["enrolment_required"], true, "{next}");
    logs::record_secret(next["session_token"].as_str().unwrap());

    let printed = server.stop().await;
    assert!(
        printed.contains(&format!("public URL: {PUBLIC_URL}")),
        "{printed:?}"
    );
    assert!(
        !printed
            .iter()
            .any(|l| l.starts_with("demo:") || l.contains(renraku_server::demo::DEMO_PASSWORD)),
        "a real deployment printed demo logins: {printed:?}"
    );
    db.close().await;
}

test_both_dbs!(the_demo_exists_only_when_asked_for);
/// `migrate` then `serve` on an empty database makes no demo; `renraku demo` (what a newcomer
/// asks for) does, and only then does `serve` print the demo logins.
async fn the_demo_exists_only_when_asked_for() {
    let op = Operator::new().await;
    let migrate = op.command("renraku migrate").output().await.unwrap();
    assert!(migrate.status.success());
    let server = op.serve().await;
    let refused = signin(
        &server,
        "demo",
        "city1",
        renraku_server::demo::DEMO_PASSWORD,
    )
    .await;
    assert_eq!(refused.status(), 404);
    let printed = server.stop().await;
    assert!(
        !printed.iter().any(|l| l.starts_with("demo:")),
        "{printed:?}"
    );
    let db = Db::connect(&op.storage.database_url()).await.unwrap();
    assert_eq!(db.municipality_count().await.unwrap(), 0);
    db.close().await;

    let demo = op.command("renraku demo").output().await.unwrap();
    assert!(demo.status.success());
    let server = op.serve().await;
    let welcome = signin(
        &server,
        "demo",
        "city1",
        renraku_server::demo::DEMO_PASSWORD,
    )
    .await;
    assert_eq!(welcome.status(), 200);
    let body: Value = welcome.json().await.unwrap();
    logs::record_secret(body["session_token"].as_str().unwrap());
    let printed = server.stop().await;
    assert!(
        printed.iter().any(|l| l.starts_with("demo:")),
        "{printed:?}"
    );
}
