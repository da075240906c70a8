//! `cargo xtask setup | build-app | run | test`: everything a newcomer or CI needs, from a
//! machine that has only the Rust toolchain, Node 20+ and (for the Postgres run) PostgreSQL.
//!
//! Deliberately std + anyhow only, so `cargo xtask` itself compiles in seconds.

use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::fs;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod canary;
mod fuzz;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The custom profile in the root `Cargo.toml` (release + lto, panic=abort, strip, opt "z").
const APP_PROFILE: &str = "wasm-release";
const POSTGRES_ADDR: &str = "127.0.0.1:5432";

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  setup       install what is missing: the wasm32 target, wasm-bindgen-cli (the version
              in Cargo.lock), rustfmt/clippy, the npm packages in tests/node/, and
              Chromium for the browser tests (Debian's package, via apt-get)
  build-app   build the Dioxus app for wasm32 into app/dist/ (embedded by the server)
  run [ARGS]  setup + build-app + `cargo run --release -p renraku-server -- serve --demo ARGS`
  test        setup + build-app + fmt + clippy + every test on SQLite, then on PostgreSQL
              (which must be reachable at 127.0.0.1:5432)
  bench [ARGS] npm ci in bench/node + release build + `cargo run --release -p renraku-bench
              -- ARGS`: Renraku beside y-websocket, written to BENCHMARKS.md (--quick: smoke)
  bench-app [ARGS] setup + build-app + release server, then bench/browser/app_bench.mjs in
              Chromium: first-load bytes, repeat load, a 1,000-post room's first paint at
              4x CPU slowdown; written to the app section of BENCHMARKS.md (--runs N)
  fuzz [TARGET…] build the fuzz/ targets (stable toolchain) and run each for
              RENRAKU_FUZZ_SECS (20) seconds; see fuzz/README.md";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let rest: Vec<String> = args.collect();
    let result = match cmd.as_deref() {
        Some("setup") => setup(),
        Some("build-app") => build_app(),
        Some("run") => run(&rest),
        Some("test") => test(),
        Some("bench") => bench(&rest),
        Some("bench-app") => bench_app(&rest),
        Some("fuzz") => target_dir().and_then(|t| fuzz::run(&root(), &t, &rest)),
        Some("help" | "-h" | "--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// setup

fn setup() -> Result<()> {
    let started = Instant::now();
    step("setup: Rust components");
    ensure_rust_components()?;
    step("setup: wasm32 target");
    ensure_wasm_target()?;
    step("setup: OpenSSL headers (webauthn-rs, ece)");
    ensure_openssl_dev()?;
    step("setup: wasm-bindgen-cli");
    ensure_wasm_bindgen()?;
    step("setup: npm packages for tests/node");
    ensure_node_packages()?;
    step("setup: Chromium for the browser tests");
    ensure_chromium()?;
    println!("setup done in {}", secs(started));
    Ok(())
}

fn ensure_rust_components() -> Result<()> {
    let installed = capture(Command::new("rustup").args(["component", "list", "--installed"]))
        .context("`rustup` is needed (https://rustup.rs)")?;
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !installed.lines().any(|l| l.starts_with(&format!("{c}-"))))
        .collect();
    if missing.is_empty() {
        println!("rustfmt and clippy: present");
        return Ok(());
    }
    run_cmd(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
}

fn ensure_wasm_target() -> Result<()> {
    let installed = capture(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("`rustup` is needed (https://rustup.rs)")?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("{WASM_TARGET}: present");
        return Ok(());
    }
    run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn ensure_wasm_bindgen() -> Result<()> {
    let want = locked_version("wasm-bindgen")?;
    if let Some(have) = wasm_bindgen_version() {
        if have == want {
            println!("wasm-bindgen {have}: present");
            return Ok(());
        }
        println!("wasm-bindgen {have} found, but Cargo.lock has {want}: installing {want}");
    }
    // No `--locked`: wasm-bindgen-cli's own lockfile pins a crate the registry mirror lacks.
    run_cmd(
        Command::new(cargo())
            .args(["install", "wasm-bindgen-cli", "--version", &want])
            .arg("--force"),
    )?;
    match wasm_bindgen_version() {
        Some(have) if have == want => Ok(()),
        Some(have) => bail!("installed wasm-bindgen-cli {want}, but the one found is {have}"),
        None => bail!("installed wasm-bindgen-cli {want}, but cannot run `wasm-bindgen`"),
    }
}

/// `wasm-bindgen` on PATH, else in cargo's bin directory (a fresh rustup install may not
/// have put it on this process's PATH).
fn wasm_bindgen_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("wasm-bindgen");
            if p.is_file() {
                return p;
            }
        }
    }
    cargo_home().join("bin").join("wasm-bindgen")
}

fn wasm_bindgen_version() -> Option<String> {
    let out = capture(Command::new(wasm_bindgen_bin()).arg("--version")).ok()?;
    // "wasm-bindgen 0.2.100"
    out.split_whitespace().nth(1).map(str::to_owned)
}

fn cargo_home() -> PathBuf {
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(h);
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
}

/// The version of `name` that Cargo.lock resolved (exactly one is expected).
fn locked_version(name: &str) -> Result<String> {
    let lock = fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                versions.push(v.trim_matches('"').to_owned());
            }
        }
    }
    match versions.as_slice() {
        [v] => Ok(v.clone()),
        [] => bail!("`{name}` is not in Cargo.lock"),
        _ => bail!("Cargo.lock has several versions of `{name}`: {versions:?}"),
    }
}

fn node_dir() -> PathBuf {
    root().join("tests").join("node")
}

fn ensure_node_packages() -> Result<()> {
    let version = capture(Command::new("node").arg("--version"))
        .context("Node.js 20 or newer is needed (https://nodejs.org)")?;
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        bail!("Node.js 20 or newer is needed, found {}", version.trim());
    }
    let dir = node_dir();
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules").join(".package-lock.json");
    // npm writes node_modules/.package-lock.json on every install: if it is newer than both
    // manifests, the install is current.
    let current = |f: &Path| match (mtime(&installed), mtime(f)) {
        (Some(i), Some(m)) => i >= m,
        (_, None) => true,
        _ => false,
    };
    if current(&lock) && current(&dir.join("package.json")) {
        println!("tests/node/node_modules: up to date");
        return Ok(());
    }
    let sub = if lock.is_file() { "ci" } else { "install" };
    run_cmd(
        Command::new("npm")
            .args([sub, "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
}

/// The browser the browser tests drive (tests/browser/, via playwright-core).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `fonts-noto-cjk`.
const CJK_FONT_DIR: &str = "/usr/share/fonts/opentype/noto";
/// Debian's `fonts-noto-color-emoji`: the app's few icons (📌 📷 📎) are emoji, which a
/// phone draws and a bare Chromium shows as boxes in the screenshots.
const EMOJI_FONT: &str = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

/// Debian's `chromium` (and `chromium-driver`, for wasm-bindgen-test), installed with
/// apt-get when missing; `RENRAKU_CHROMIUM` names another Chromium instead.
fn ensure_chromium() -> Result<()> {
    if let Some(other) = std::env::var_os("RENRAKU_CHROMIUM") {
        if Path::new(&other).is_file() {
            println!(
                "chromium: {} (RENRAKU_CHROMIUM)",
                Path::new(&other).display()
            );
            return Ok(());
        }
        bail!(
            "RENRAKU_CHROMIUM={} is not a file",
            Path::new(&other).display()
        );
    }
    // Without a CJK font every Japanese glyph in the screenshots is a box.
    if Path::new(CHROMIUM).is_file()
        && Path::new(CJK_FONT_DIR).is_dir()
        && Path::new(EMOJI_FONT).is_file()
    {
        println!("chromium, a Japanese and an emoji font: present");
        return Ok(());
    }
    let installed = apt_install(&[
        "chromium",
        "chromium-driver",
        "fonts-noto-cjk",
        "fonts-noto-color-emoji",
    ]);
    if let Err(e) = installed {
        bail!(
            "could not install Chromium with apt-get ({e:#}). The browser tests need Debian's \
             `chromium` at {CHROMIUM}: install it as root (`apt-get install chromium \
             chromium-driver`), or set RENRAKU_CHROMIUM to a Chromium binary"
        );
    }
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium, but {CHROMIUM} is missing");
    }
    Ok(())
}

/// `apt-get update` and `apt-get install PACKAGES`, as root or with passwordless sudo.
fn apt_install(packages: &[&str]) -> Result<()> {
    let root_user = capture(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root_user {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_cmd(&mut cmd)
    };
    apt(&["update", "-q"]).and_then(|()| {
        let mut args = vec!["install", "-y", "-q"];
        args.extend_from_slice(packages);
        apt(&args)
    })
}

/// The server links OpenSSL (webauthn-rs for passkeys; ece in the push tests): openssl-sys
/// needs its headers and pkg-config. Debian's `libssl-dev` and `pkg-config`, installed with
/// apt-get when `pkg-config` cannot find OpenSSL.
fn ensure_openssl_dev() -> Result<()> {
    let found = Command::new("pkg-config")
        .args(["--exists", "openssl"])
        .status()
        .is_ok_and(|s| s.success());
    if found {
        println!("libssl-dev and pkg-config: present");
        return Ok(());
    }
    apt_install(&["libssl-dev", "pkg-config"]).context(
        "could not install libssl-dev and pkg-config with apt-get; the server needs OpenSSL's \
         headers to build (install them as root: `apt-get install libssl-dev pkg-config`)",
    )
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

// ---------------------------------------------------------------------------------------
// build-app

fn build_app() -> Result<()> {
    let started = Instant::now();
    step("build-app: cargo build (wasm32, profile wasm-release)");
    run_cmd(Command::new(cargo()).current_dir(root()).args([
        "build",
        "-p",
        "renraku-app",
        "--profile",
        APP_PROFILE,
        "--target",
        WASM_TARGET,
    ]))?;
    let wasm = target_dir()?
        .join(WASM_TARGET)
        .join(APP_PROFILE)
        .join("renraku-app.wasm");
    if !wasm.is_file() {
        bail!("the build did not produce {}", wasm.display());
    }

    step("build-app: wasm-bindgen → app/dist/");
    // Assemble in a staging directory, then update app/dist/ file by file: unchanged files
    // keep their mtimes, so the server (which embeds app/dist/) is not rebuilt for nothing.
    let stage = target_dir()?.join("renraku-app-dist");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    fs::create_dir_all(&stage)?;
    run_cmd(
        Command::new(wasm_bindgen_bin())
            .args(["--target", "web", "--no-typescript", "--out-name", "app"])
            .args(["--remove-name-section", "--remove-producers-section"])
            .arg("--out-dir")
            .arg(&stage)
            .arg(&wasm),
    )
    .context("wasm-bindgen failed (run `cargo xtask setup` first?)")?;

    // The page and its boot script from app/; everything in service-worker/ but the icon
    // generator.
    copy_web_files(&root().join("app"), &stage, &["html", "js", "css"])?;
    copy_web_files(
        &root().join("service-worker"),
        &stage,
        &["js", "webmanifest", "png", "svg"],
    )?;
    if !stage.join("index.html").is_file() || !stage.join("sw.js").is_file() {
        bail!("app/index.html or service-worker/sw.js is missing");
    }
    preload_snippets(&stage)?;
    stamp_service_worker(&stage)?;

    let dist = root().join("app").join("dist");
    let names_changed = sync_dir(&stage, &dist)?;
    // rust-embed (release builds) embeds app/dist/ at compile time. Cargo notices changed
    // files, but not files that appeared or vanished: when the set of names changes, bump
    // the mtime of assets.rs so the server's next build embeds the new set.
    if names_changed {
        let assets = root().join("server").join("src").join("assets.rs");
        if let Ok(f) = fs::File::options().append(true).open(&assets) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }

    print_sizes(&dist)?;
    println!("build-app done in {}", secs(started));
    Ok(())
}

/// Adds a `modulepreload` link to `index.html` for each module `app.js` imports
/// (wasm-bindgen's `snippets/…`, whose names change with every dependency update): without
/// them the browser learns of these only once app.js has arrived and been parsed, one more
/// round trip before the app can start.
fn preload_snippets(dist: &Path) -> Result<()> {
    let app_js = fs::read_to_string(dist.join("app.js")).context("reading app.js")?;
    let mut modules: Vec<&str> = app_js
        .lines()
        .filter(|l| l.starts_with("import "))
        .filter_map(|l| l.split(['\'', '"']).nth(1))
        .filter_map(|m| m.strip_prefix("./"))
        .collect();
    modules.sort_unstable();
    modules.dedup();
    let index = dist.join("index.html");
    let html = fs::read_to_string(&index).context("reading index.html")?;
    const ANCHOR: &str = r#"<link rel="modulepreload" href="/app.js">"#;
    if !html.contains(ANCHOR) {
        bail!("app/index.html lacks `{ANCHOR}`");
    }
    let links: String = modules
        .iter()
        .map(|m| format!("\n  <link rel=\"modulepreload\" href=\"/{m}\">"))
        .collect();
    fs::write(&index, html.replace(ANCHOR, &format!("{ANCHOR}{links}")))?;
    Ok(())
}

/// Fills in `sw.js`: the precache list becomes every built file (wasm-bindgen adds
/// `snippets/…` modules whose names change), and the build id a hash of them all, so each
/// new build installs a fresh shell cache (and the browser sees a changed `sw.js`).
fn stamp_service_worker(dist: &Path) -> Result<()> {
    let sw = dist.join("sw.js");
    let text = fs::read_to_string(&sw).with_context(|| format!("reading {}", sw.display()))?;
    const BUILD: &str = "__RENRAKU_BUILD__";
    const LIST_START: &str = "const SHELL = [";
    const LIST_END: &str = "]; // end of SHELL";
    let (Some(start), Some(end)) = (text.find(LIST_START), text.find(LIST_END)) else {
        bail!("{} lacks `{LIST_START}` … `{LIST_END}`", sw.display());
    };
    if !text.contains(BUILD) {
        bail!("{} has no {BUILD} placeholder", sw.display());
    }
    let files: Vec<String> = files(dist).into_iter().filter(|f| f != "sw.js").collect();
    // FNV-1a, 64 bit: stable across Rust versions, unlike std's DefaultHasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in &files {
        for byte in name.bytes().chain([0]).chain(fs::read(dist.join(name))?) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut list = String::from("\n");
    for f in &files {
        list.push_str(&format!("  \"/{f}\",\n"));
    }
    let text = format!("{}{LIST_START}{list}{}", &text[..start], &text[end..])
        .replace(BUILD, &format!("{hash:016x}"));
    fs::write(&sw, text)?;
    Ok(())
}

/// Every file under `dir`, as sorted `/`-separated paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), &format!("{name}/"), out),
                Ok(_) => out.push(name),
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// Makes `to` hold exactly the files of `from`, writing only files whose bytes differ.
/// Returns whether the set of file names changed.
fn sync_dir(from: &Path, to: &Path) -> Result<bool> {
    let (want, have) = (files(from), files(to));
    for name in &have {
        if !want.contains(name) {
            fs::remove_file(to.join(name))?;
        }
    }
    for name in &want {
        let (src, dst) = (from.join(name), to.join(name));
        let bytes = fs::read(&src)?;
        if fs::read(&dst).ok().as_deref() != Some(bytes.as_slice()) {
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&dst, bytes).with_context(|| format!("writing {}", dst.display()))?;
        }
    }
    remove_empty_dirs(to);
    Ok(want != have)
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
                let _ = fs::remove_dir(e.path()); // fails unless empty: fine
            }
        }
    }
}

/// Copies the files directly in `from` whose extension is one of `exts` into `to_dir`.
fn copy_web_files(from: &Path, to_dir: &Path, exts: &[&str]) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let p = entry?.path();
        let ext = p.extension().and_then(OsStr::to_str).unwrap_or("");
        if p.is_file() && exts.contains(&ext) {
            copy_file(&p, to_dir)?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to_dir: &Path) -> Result<()> {
    let name = from.file_name().context("file name")?;
    fs::copy(from, to_dir.join(name))
        .with_context(|| format!("copying {} to {}", from.display(), to_dir.display()))?;
    Ok(())
}

fn print_sizes(dist: &Path) -> Result<()> {
    println!("\napp/dist (first load = index.html + every .js but sw.js + app_bg.wasm):");
    println!("  {:<72} {:>10} {:>10}", "file", "raw", "gzip -9");
    let (mut raw_total, mut gz_total) = (0u64, 0u64);
    for name in files(dist) {
        let p = dist.join(&name);
        let raw = fs::metadata(&p)?.len();
        let gz = gzip_size(&p);
        println!(
            "  {:<72} {:>10} {:>10}",
            name,
            kb(raw),
            gz.map(kb).unwrap_or_else(|| "n/a".into())
        );
        let first_load =
            name != "sw.js" && [".html", ".js", ".wasm"].iter().any(|e| name.ends_with(e));
        if first_load {
            raw_total += raw;
            gz_total += gz.unwrap_or(raw);
        }
    }
    println!(
        "  {:<72} {:>10} {:>10}",
        "first load",
        kb(raw_total),
        kb(gz_total)
    );
    Ok(())
}

fn gzip_size(p: &Path) -> Option<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(p)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------
// run

fn run(args: &[String]) -> Result<()> {
    // `cargo xtask run -- --help` hands us the `--` too.
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    setup()?;
    build_app()?;
    // A newcomer's server: the demo municipality is added (a real one never is, unasked).
    step("run: cargo run --release -p renraku-server -- serve --demo");
    run_cmd(
        Command::new(cargo())
            .current_dir(root())
            .args(["run", "--release", "-p", "renraku-server", "--", "serve"])
            .arg("--demo")
            .args(args),
    )
}

// ---------------------------------------------------------------------------------------
// bench

/// The reference server's npm folder, then the release server, then the load tool.
fn bench(args: &[String]) -> Result<()> {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    let dir = root().join("bench").join("node");
    if !dir.join("node_modules/@y/websocket-server").is_dir() {
        step("bench: npm ci in bench/node");
        run_cmd(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
    }
    step("bench: cargo build --release -p renraku-server");
    run_cmd(Command::new(cargo()).current_dir(root()).args([
        "build",
        "--release",
        "-p",
        "renraku-server",
    ]))?;
    step("bench: cargo run --release -p renraku-bench");
    let report = root().join("BENCHMARKS.md");
    let kept: Vec<(&str, String)> = fs::read_to_string(&report)
        .map(|t| {
            KEPT_SECTIONS
                .iter()
                .filter_map(|name| Some((*name, kept_section(&t, name)?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let ran = run_cmd(
        Command::new(cargo())
            .current_dir(root())
            .args(["run", "--release", "-p", "renraku-bench", "--"])
            .args(args),
    );
    // renraku-bench writes the file whole: put back what `bench-app` and
    // `renraku-attacks` measured.
    for (name, section) in kept {
        if let Ok(text) = fs::read_to_string(&report) {
            if kept_section(&text, name).is_none() {
                fs::write(&report, format!("{}\n\n{section}\n", text.trim_end()))?;
            }
        }
    }
    ran
}

/// Sections of BENCHMARKS.md written by other tools (between `<!-- NAME:start -->` and
/// `<!-- NAME:end -->`), kept when `renraku-bench` rewrites the file.
const KEPT_SECTIONS: [&str; 2] = ["app-bench", "attacks"];

fn kept_section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let (start_mark, end_mark) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = text.find(&start_mark)?;
    let end = text[start..].find(&end_mark)? + start + end_mark.len();
    Some(&text[start..end])
}

/// The app's budgets (issue 3) in Chromium against the release server.
fn bench_app(args: &[String]) -> Result<()> {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    setup()?;
    build_app()?;
    step("bench-app: cargo build --release -p renraku-server");
    run_cmd(Command::new(cargo()).current_dir(root()).args([
        "build",
        "--release",
        "-p",
        "renraku-server",
    ]))?;
    step("bench-app: node bench/browser/app_bench.mjs");
    let bin = target_dir()?.join("release").join("renraku");
    run_cmd(
        Command::new("node")
            .current_dir(root())
            .arg("bench/browser/app_bench.mjs")
            .arg("--renraku")
            .arg(&bin)
            .args(["--out", "BENCHMARKS.md"])
            .args(args),
    )
}

// ---------------------------------------------------------------------------------------
// test

struct Outcome {
    name: &'static str,
    ok: bool,
    took: Duration,
    note: String,
}

fn test() -> Result<()> {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut record = |name: &'static str, f: &dyn Fn() -> Result<()>| {
        step(name);
        let t = Instant::now();
        let r = f();
        let note = match &r {
            Ok(()) => String::new(),
            Err(e) => {
                eprintln!("\nxtask: {name} FAILED: {e:#}");
                format!("{e:#}")
            }
        };
        outcomes.push(Outcome {
            name,
            ok: r.is_ok(),
            took: t.elapsed(),
            note,
        });
        r.is_ok()
    };

    // Everything after these needs them: stop at once if they fail.
    let prepared = record("setup", &setup) && record("build-app", &build_app);
    if prepared {
        let c = || {
            let mut c = Command::new(cargo());
            c.current_dir(root());
            c
        };
        record("cargo fmt --check", &|| {
            run_cmd(c().args(["fmt", "--all", "--", "--check"]))
        });
        record("clippy (native, all targets)", &|| {
            run_cmd(c().args(["clippy", "--all-targets", "--", "-D", "warnings"]))
        });
        record("clippy (app, wasm32)", &|| {
            run_cmd(c().args([
                "clippy",
                "-p",
                "renraku-app",
                "--target",
                WASM_TARGET,
                "--",
                "-D",
                "warnings",
            ]))
        });
        // Every in-process server logs into this directory; the canary check reads it last.
        let logs = target_dir().map(|t| canary::log_dir(&t));
        record("reset the test log directory", &|| {
            canary::reset(logs.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?)
        });
        let logs = logs.unwrap_or_else(|_| root().join("target").join("renraku-test-logs"));
        record("cargo test (SQLite)", &|| {
            run_cmd(
                // --no-fail-fast: one failing suite must not hide the others' results.
                c().args(["test", "--no-fail-fast"])
                    .env_remove("RENRAKU_TEST_BACKEND")
                    .env("RENRAKU_TEST_LOG_DIR", &logs),
            )
        });
        record("cargo test -p renraku-tests (PostgreSQL)", &|| {
            postgres_reachable()?;
            run_cmd(
                c().args(["test", "--no-fail-fast", "-p", "renraku-tests"])
                    .env("RENRAKU_TEST_BACKEND", "postgres")
                    .env("RENRAKU_TEST_LOG_DIR", &logs),
            )
        });
        record("canary: no secret or patient name in server logs", &|| {
            canary::check(&logs)
        });
        record("fuzz: every target briefly", &|| {
            fuzz::run(&root(), &target_dir()?, &[])
        });
    }

    println!("\n==== cargo xtask test: summary ====");
    for o in &outcomes {
        let mark = if o.ok { "ok  " } else { "FAIL" };
        println!("  {mark}  {:<44} {:>8}", o.name, secs_d(o.took));
        if !o.ok {
            let first = o.note.lines().next().unwrap_or("");
            println!("        {first}");
        }
    }
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    println!("  total {}", secs(started));
    if !prepared {
        bail!("setup or build-app failed; nothing else was run");
    }
    if failed > 0 {
        bail!("{failed} step(s) failed");
    }
    println!("all steps passed");
    Ok(())
}

/// Fails clearly unless the PostgreSQL the tests use (`RENRAKU_TEST_PG_URL`, by default
/// 127.0.0.1:5432) accepts TCP connections.
fn postgres_reachable() -> Result<()> {
    let (addr, from) = match std::env::var("RENRAKU_TEST_PG_URL") {
        Ok(url) => (pg_host_port(&url), "RENRAKU_TEST_PG_URL"),
        Err(_) => (POSTGRES_ADDR.to_owned(), "the default"),
    };
    let reachable = addr
        .to_socket_addrs()
        .map(|addrs| {
            addrs
                .into_iter()
                .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok())
        })
        .unwrap_or(false);
    if !reachable {
        bail!(
            "PostgreSQL is not reachable at {addr} ({from}). The PostgreSQL test run needs a \
             server there with trust authentication for local connections; start one and run \
             `cargo xtask test` again. This run is never skipped."
        );
    }
    Ok(())
}

/// `postgres://user@host:port/db` → `host:port` (port 5432 if absent).
fn pg_host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host.ends_with(']')
    {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

// ---------------------------------------------------------------------------------------
// helpers

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too: prefer that to the compile-time
    // path, which is another clone's when clones share a target dir (cargo then reuses a
    // build made in the other clone).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// The cargo that runs us (`cargo xtask` sets `CARGO`), so toolchain overrides carry over.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Cargo's target directory, wherever `CARGO_TARGET_DIR` or cargo's config put it.
fn target_dir() -> Result<PathBuf> {
    let json = capture(Command::new(cargo()).current_dir(root()).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
    ]))?;
    let key = "\"target_directory\":\"";
    let start = json
        .find(key)
        .context("no target_directory in cargo metadata")?
        + key.len();
    let mut out = String::new();
    let mut chars = json[start..].chars();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => return Ok(PathBuf::from(out)),
            '\\' => out.push(chars.next().context("bad escape in cargo metadata")?),
            c => out.push(c),
        }
    }
    bail!("unterminated target_directory in cargo metadata")
}

fn step(name: &str) {
    println!("\n==> {name}");
}

fn secs(since: Instant) -> String {
    secs_d(since.elapsed())
}

fn secs_d(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited stdio; fails unless it exits 0.
fn run_cmd(cmd: &mut Command) -> Result<()> {
    let what = describe(cmd);
    println!("$ {what}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{what}`"))?;
    if !status.success() {
        bail!("`{what}` failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its stdout; fails unless it exits 0.
fn capture(cmd: &mut Command) -> Result<String> {
    let what = describe(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{what}`"))?;
    if !out.status.success() {
        bail!("`{what}` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_give_host_and_port() {
        for (url, want) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "127.0.0.1:5432",
            ),
            (
                "postgres://u:pw@db.example:6543/x?sslmode=disable",
                "db.example:6543",
            ),
            ("postgresql://localhost/renraku", "localhost:5432"),
            ("postgres://u@[::1]/x", "[::1]:5432"),
        ] {
            assert_eq!(pg_host_port(url), want, "{url}");
        }
    }

    #[test]
    fn cargo_lock_has_one_wasm_bindgen() {
        let v = locked_version("wasm-bindgen").unwrap();
        assert!(v.starts_with("0.2."), "{v}");
        // app/Cargo.toml pins the same version, so crate and CLI never drift.
        let app = fs::read_to_string(root().join("app").join("Cargo.toml")).unwrap();
        assert!(
            app.contains(&format!("wasm-bindgen = \"={v}\"")),
            "app/Cargo.toml must pin wasm-bindgen = \"={v}\""
        );
    }
}
