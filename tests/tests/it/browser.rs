//! Browser tests: each `tests/browser/*.test.mjs` runs under Node (`node:test` +
//! playwright-core driving Debian's Chromium) against the real server, started here
//! in-process on fresh storage with the demo data and serving the built app (`app/dist/`).
//!
//! One `#[test]` per file, so `cargo test` reports and filters them one by one; adding a file
//! is one line in `browser_tests!` (the last test fails for a file that has no line). The
//! shared JavaScript harness is `tests/browser/lib/browser.mjs`.
//!
//! Needs: `cargo xtask build-app` (app/dist/), `cargo xtask setup` (Chromium, npm packages).

use futures_util::future::BoxFuture;
use renraku_server::Config;
use renraku_tests::helpers::copy_dir;
use renraku_tests::TestServer;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// What a test file needs beyond the default server: a configuration change, and data or
/// environment variables for the script once the server runs. Both get a scratch directory
/// that lives as long as the test.
#[derive(Clone, Copy)]
struct Setup {
    config: fn(&mut Config, &Path),
    seed: Seed,
}

/// Seeds data once the server runs; returns environment variables for the script.
type Seed = for<'a> fn(&'a TestServer, &'a Path) -> BoxFuture<'a, Vec<(String, String)>>;

const DEFAULT: Setup = Setup {
    config: |_, _| {},
    seed: |_, _| Box::pin(async { Vec::new() }),
};

macro_rules! browser_tests {
    ($($name:ident: $file:literal $(with $setup:expr)?;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                #[allow(unused_mut, unused_assignments)]
                let mut setup = DEFAULT;
                $(setup = $setup;)?
                run_browser_test($file, setup).await;
            }
        )*
        /// Every file some test above runs.
        const FILES: &[&str] = &[$($file),*];
    };
}

// One line per file in tests/browser/: `name: "file.test.mjs";`, or with a Setup:
// `name: "file.test.mjs" with SOME_SETUP;`.
browser_tests! {
    pwa_network_cut: "pwa_network_cut.test.mjs";
    pwa_install: "pwa_install.test.mjs";
    pwa_offline_shell: "pwa_offline_shell.test.mjs";
    pwa_update: "pwa_update.test.mjs" with APP_COPY;
    push_notification: "push_notification.test.mjs";
    app_team: "app_team.test.mjs";
    kept_screen: "kept_screen.test.mjs";
    room_removed: "room_removed.test.mjs";
    attachments_photo: "attachments_photo.test.mjs";
    admin_screens: "admin_screens.test.mjs";
    admin_bundle: "admin_bundle.test.mjs";
    passkey: "passkey.test.mjs" with ON_LOCALHOST;
    passkey_policy: "passkey_policy.test.mjs" with SECOND_FACTOR_REQUIRED;
    app_lock: "app_lock.test.mjs" with QUICK_LOCK;
    app_lock_passkey: "app_lock_passkey.test.mjs" with QUICK_LOCK_ON_LOCALHOST;
    session_end: "session_end.test.mjs";
    signout: "signout.test.mjs";
    clock_fast: "clock_fast.test.mjs";
    conn_refused: "conn_refused.test.mjs" with ONE_CONNECTION_PER_USER;
    ack_urgent: "ack_urgent.test.mjs";
    room_daily: "room_daily.test.mjs";
    a11y: "a11y.test.mjs";
    templates: "templates.test.mjs";
    home_live: "home_live.test.mjs";
    record_export: "record_export.test.mjs";
    search: "search.test.mjs";
    register: "register.test.mjs" with DEMO_TILES;
    parking_staff: "parking_staff.test.mjs" with DEMO_TILES;
    parking_city: "parking_city.test.mjs" with DEMO_TILES;
}

/// The demo tile set the project generates (`renraku tiles demo`), served as the operator's
/// MBTiles file would be; the server opens it on first use, after the seed has written it.
const DEMO_TILES: Setup = Setup {
    config: |config, scratch| {
        // The server checks the file as it starts, before any seed runs: written here, on a
        // runtime of its own (this closure is synchronous, inside the test's runtime).
        let path = scratch.join("tiles.mbtiles");
        let target = path.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("a runtime")
                .block_on(renraku_server::tiles::demo::write(&target))
                .expect("the demo tile set is written")
        })
        .join()
        .expect("the tile writer finished");
        config.tiles = Some(path);
    },
    seed: |_, _| Box::pin(async { Vec::new() }),
};

/// WebAuthn refuses IP addresses as relying-party ids: the script opens the app at
/// `http://localhost:PORT` (the server's relying party without a public URL is `localhost`).
const ON_LOCALHOST: Setup = Setup {
    config: |_, _| {},
    seed: |server, _| {
        let url = server.base_url().replace("127.0.0.1", "localhost");
        Box::pin(async move { vec![("RENRAKU_BASE_URL".to_owned(), url)] })
    },
};

/// As [`ON_LOCALHOST`], with the demo municipality requiring a second factor.
const SECOND_FACTOR_REQUIRED: Setup = Setup {
    config: |_, _| {},
    seed: |server, _| {
        let url = server.base_url().replace("127.0.0.1", "localhost");
        Box::pin(async move {
            let demo = server
                .db()
                .municipality_by_slug("demo")
                .await
                .unwrap()
                .expect("demo municipality");
            server
                .db()
                .set_require_second_factor(demo.id, true)
                .await
                .unwrap();
            vec![("RENRAKU_BASE_URL".to_owned(), url)]
        })
    },
};

/// One WebSocket per user: a second device of the same person is over the cap.
const ONE_CONNECTION_PER_USER: Setup = Setup {
    config: |config, _| config.ws_connections_per_user = 1,
    seed: |_, _| Box::pin(async { Vec::new() }),
};

/// The app locks after 6 idle seconds instead of the session's idle timeout.
const QUICK_LOCK: Setup = Setup {
    config: |config, _| config.app_lock_seconds = Some(6),
    seed: |_, _| Box::pin(async { Vec::new() }),
};

/// The server serves a copy of app/dist (`--app-dir`) that the script may change, as a new
/// deployment would: RENRAKU_APP_COPY names it.
const APP_COPY: Setup = Setup {
    config: |config, scratch| {
        let copy = scratch.join("app");
        copy_dir(&root().join("app").join("dist"), &copy);
        config.app_dir = Some(copy);
    },
    seed: |_, scratch| {
        let copy = scratch.join("app").to_string_lossy().into_owned();
        Box::pin(async move { vec![("RENRAKU_APP_COPY".to_owned(), copy)] })
    },
};

/// [`QUICK_LOCK`] at `http://localhost:PORT`, for passkeys.
const QUICK_LOCK_ON_LOCALHOST: Setup = Setup {
    config: QUICK_LOCK.config,
    seed: ON_LOCALHOST.seed,
};

#[test]
fn every_browser_test_file_is_run() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(browser_dir()).expect("tests/browser exists") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".test.mjs") && !FILES.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "browser test files no #[test] runs (add a line to browser_tests! in \
         tests/tests/browser.rs): {missing:?}"
    );
    for file in FILES {
        assert!(
            browser_dir().join(file).is_file(),
            "browser_tests! names {file}, which is not in tests/browser/"
        );
    }
}

/// Longest a test file may take before it is killed and failed (a hang, not a slow test:
/// each file is meant to take seconds).
const FILE_TIMEOUT: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn browser_dir() -> PathBuf {
    root().join("tests").join("browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("RENRAKU_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Clear failures for what `cargo xtask` would have prepared.
fn check_prerequisites() {
    let index = root().join("app/dist/index.html");
    assert!(
        index.is_file(),
        "{} is missing: the browser tests need the built app; run `cargo xtask build-app`",
        index.display()
    );
    assert!(
        chromium().is_file(),
        "{} is missing: the browser tests need Chromium; run `cargo xtask setup` (it installs \
         Debian's chromium), or point RENRAKU_CHROMIUM at a Chromium binary",
        chromium().display()
    );
    let playwright = root().join("tests/node/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `cargo xtask setup` (npm ci in tests/node)",
        playwright.display()
    );
}

/// Browser tests share two cores with everything else: one at a time keeps each fast and
/// their timings meaningful.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_browser_test(file: &str, setup: Setup) {
    check_prerequisites();
    let _turn = ONE_AT_A_TIME.lock().await;

    let scratch = tempfile::tempdir().expect("scratch directory");
    let profiles = scratch.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let server = TestServer::start_with(|c| (setup.config)(c, scratch.path())).await;
    let extra_env = (setup.seed)(&server, scratch.path()).await;

    let stem = file.trim_end_matches(".test.mjs");
    let artifacts = root().join("tests").join("artifacts").join(stem);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let mut command = Command::new("node");
    command
        .arg("--test-reporter=spec")
        .arg(browser_dir().join(file))
        .current_dir(root())
        .env("RENRAKU_BASE_URL", server.base_url())
        .env("RENRAKU_ARTIFACTS", &artifacts)
        .env("RENRAKU_BROWSER_TMP", &profiles)
        .env("RENRAKU_CHROMIUM", chromium())
        .env("NO_COLOR", "1")
        .envs(extra_env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so everything it starts can be ended together.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .expect("cannot start `node` (Node.js 20+ is needed)");
    let guard = Cleanup {
        group: child.id().expect("node has a pid"),
        profiles: profiles.clone(),
    };
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read_out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s).await;
        s
    });
    let read_err = tokio::spawn(async move {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        s
    });
    let status = tokio::time::timeout(FILE_TIMEOUT, child.wait()).await;
    drop(guard); // ends stragglers before the output is read to its end
    let (stdout, stderr) = (
        read_out.await.unwrap_or_default(),
        read_err.await.unwrap_or_default(),
    );
    let report = format!(
        "---- node {file} (artifacts: {}) ----\n{stdout}\n---- stderr ----\n{stderr}",
        artifacts.display()
    );
    // A failure in CI leaves only this output (the artifacts of the next backend's run
    // replace these): add the end of each browser's console log.
    let consoles = || browser_consoles(&artifacts);
    match status {
        Err(_) => panic!(
            "{file} did not finish within {FILE_TIMEOUT:?}; killed\n{report}{}",
            consoles()
        ),
        Ok(Err(e)) => panic!("waiting for node: {e}\n{report}"),
        Ok(Ok(s)) if !s.success() => panic!("{file} failed ({s})\n{report}{}", consoles()),
        Ok(Ok(_)) => println!("{report}"),
    }
    server.shutdown().await;
}

/// The last lines of every `console-*.log` the script wrote into `artifacts`.
fn browser_consoles(artifacts: &Path) -> String {
    const LINES: usize = 60;
    let mut out = String::new();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(artifacts)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("console-"))
        })
        .collect();
    logs.sort();
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LINES)..];
        out.push_str(&format!(
            "\n---- {} (last {} lines) ----\n{}",
            log.display(),
            tail.len(),
            tail.join("\n")
        ));
    }
    out
}

/// Ends node's process group, then any Chromium still using one of this test's profiles
/// (playwright starts browsers in process groups of their own).
struct Cleanup {
    group: u32,
    profiles: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let group = format!("-{}", self.group);
        // TERM first: playwright's handler closes its browsers properly.
        if signal("-TERM", &group) {
            std::thread::sleep(Duration::from_millis(500));
            signal("-KILL", &group);
        }
        let needle = self.profiles.to_string_lossy().into_owned();
        for pid in processes_mentioning(&needle) {
            signal("-KILL", &pid.to_string());
        }
    }
}

/// `kill SIG -- TARGET`; whether a process received it.
fn signal(sig: &str, target: &str) -> bool {
    std::process::Command::new("kill")
        .args([sig, "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Processes whose command line contains `needle` (from /proc).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}
