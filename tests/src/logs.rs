//! The servers' logs during the tests, kept for the canary check.
//!
//! Every in-process server of a test binary logs at debug level (trace for Renraku's own
//! crates) into one file per test binary (both backends), `<dir>/<binary>.log`; servers
//! started as child processes log into `<binary>.child-<n>.log`. Next to them,
//! `<binary>.needles` lists what must never appear in any of those logs: the canary
//! patient's name, the demo password, and every session token, room token and TOTP secret
//! the tests were handed. `cargo xtask test` scans all of them after the suites
//! (xtask/src/canary.rs) and fails naming the file and line of a leak.
//!
//! `<dir>` is `RENRAKU_TEST_LOG_DIR`, or `renraku-test-logs` in cargo's target directory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The planted patient: a name no real code path has any business logging.
pub const CANARY_PATIENT_NAME: &str = "金糸雀カナリア太郎";
pub const CANARY_PATIENT_KANA: &str = "カナリアタロウ";

/// What the in-process servers log, unless `RENRAKU_TEST_LOG` says otherwise. The test
/// clients' own HTTP libraries are left out: their logs are not the server's (and
/// cookie_store logs every Set-Cookie it stores, session tokens included, at debug level).
const DEFAULT_FILTER: &str =
    "debug,renraku_server=trace,renraku_sync=trace,reqwest=off,cookie_store=off";

struct Logs {
    dir: PathBuf,
    /// `<binary>`
    stem: String,
    needles: Mutex<File>,
}

static LOGS: OnceLock<Option<Logs>> = OnceLock::new();

fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RENRAKU_TEST_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    // A test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("renraku-test-logs"))
}

fn stem() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let name = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tests".into());
    // Cargo appends `-<hash>` to test binaries.
    let name = match name.rsplit_once('-') {
        Some((base, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => base.to_owned(),
        _ => name,
    };
    // One binary runs its tests on both backends, into one log.
    name
}

/// Installs the log file as this process's tracing output (once) and starts the needle
/// list with the fixed secrets. Called by every server the harness starts.
pub fn init() {
    LOGS.get_or_init(|| {
        let dir = dir()?;
        std::fs::create_dir_all(&dir).ok()?;
        let stem = stem();
        let log = File::create(dir.join(format!("{stem}.log"))).ok()?;
        let filter = std::env::var("RENRAKU_TEST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
        let installed = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_writer(Mutex::new(log))
            .try_init();
        if installed.is_err() {
            eprintln!("[renraku-tests] a tracing subscriber was already set; logs not kept");
        }
        let needles = File::create(dir.join(format!("{stem}.needles"))).ok()?;
        let logs = Logs {
            dir,
            stem,
            needles: Mutex::new(needles),
        };
        for fixed in [
            CANARY_PATIENT_NAME,
            CANARY_PATIENT_KANA,
            renraku_server::demo::DEMO_PASSWORD,
        ] {
            logs.write_needle(fixed);
        }
        Some(logs)
    });
}

impl Logs {
    fn write_needle(&self, secret: &str) {
        if let Ok(mut file) = self.needles.lock() {
            let _ = writeln!(file, "{secret}");
        }
    }
}

/// Adds a secret the tests were handed (a token, a TOTP secret, a recovery code) to the
/// list of what must never appear in a server log.
pub fn record_secret(secret: &str) {
    init();
    if secret.is_empty() || secret.contains('\n') {
        return;
    }
    if let Some(Some(logs)) = LOGS.get() {
        logs.write_needle(secret);
    }
}

/// This binary's log file and its needles so far, for a test that checks them itself.
pub fn current() -> Option<(PathBuf, Vec<String>)> {
    let logs = LOGS.get()?.as_ref()?;
    let needles = std::fs::read_to_string(logs.dir.join(format!("{}.needles", logs.stem)))
        .ok()?
        .lines()
        .map(str::to_owned)
        .collect();
    Some((logs.dir.join(format!("{}.log", logs.stem)), needles))
}

/// The `RUST_LOG` filter a server run as a child process gets.
pub fn child_filter() -> String {
    std::env::var("RENRAKU_TEST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into())
}

/// A fresh log file for a server run as a child process, with the filter to give it.
pub fn child_log() -> Option<(File, String)> {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    init();
    let logs = LOGS.get()?.as_ref()?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = logs.dir.join(format!("{}.child-{n}.log", logs.stem));
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .ok()?;
    Some((file, child_filter()))
}
