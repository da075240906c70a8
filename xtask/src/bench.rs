//! `cargo xtask bench`: Renraku's sync server (on `/ws` and `/yjs`) beside the reference
//! y-websocket server and y-sweet, with the same load tool (`bench/`), into BENCHMARKS.md.

use crate::util::{build_release_server, cargo, root, run_cmd, step};
use anyhow::Result;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The y-sweet release the bench compares with.
const YSWEET_VERSION: &str = "0.9.1";

/// `cargo install --root` of y-sweet: a cache outside the repository, kept between runs (the
/// bench's own default for `--ysweet-bin`).
fn ysweet_root() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| root().join("target"));
    cache.join(format!("renraku/y-sweet-{YSWEET_VERSION}"))
}

/// Installs y-sweet unless the right version is there (a release build: many minutes).
fn ensure_ysweet() -> Result<PathBuf> {
    let dir = ysweet_root();
    let bin = dir.join("bin").join("y-sweet");
    let installed = Command::new(&bin).arg("version").output().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == YSWEET_VERSION
    });
    if !installed {
        step(&format!(
            "bench: cargo install y-sweet {YSWEET_VERSION} into {}",
            dir.display()
        ));
        run_cmd(
            Command::new(cargo())
                .args([
                    "install",
                    "--locked",
                    "y-sweet",
                    "--version",
                    YSWEET_VERSION,
                    "--root",
                ])
                .arg(&dir)
                // Built in a temporary directory, not among the project's own artefacts.
                .env_remove("CARGO_TARGET_DIR"),
        )?;
    }
    Ok(bin)
}

/// The reference servers (y-websocket's npm folder, y-sweet), then the release server, then
/// the load tool.
pub fn run(args: &[String]) -> Result<()> {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    // `--ysweet-bin` given: the caller brings their own.
    let given = args.iter().any(|a| a.starts_with("--ysweet-bin"));
    let ysweet = if given { None } else { Some(ensure_ysweet()?) };
    let dir = root().join("bench").join("node");
    if !dir.join("node_modules/@y/websocket-server").is_dir() {
        step("bench: npm ci in bench/node");
        run_cmd(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
    }
    build_release_server("bench")?;
    step("bench: cargo run --release -p renraku-bench --bin renraku-bench");
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
        bench_bin("renraku-bench")
            .args(
                ysweet
                    .iter()
                    .flat_map(|b| [std::ffi::OsStr::new("--ysweet-bin"), b.as_os_str()]),
            )
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
const KEPT_SECTIONS: [&str; 4] = ["app-bench", "attacks", "search", "nodes"];

/// `cargo xtask bench-nodes`: `renraku-nodes-bench` (1–3 nodes on PostgreSQL and NATS) in
/// release, into BENCHMARKS.md.
pub fn nodes(args: &[String]) -> Result<()> {
    build_release_server("bench-nodes")?;
    run_bench_bin("bench-nodes", "renraku-nodes-bench", args)
}

/// `cargo xtask bench-search`: `renraku-search-bench` in release, into BENCHMARKS.md.
pub fn search(args: &[String]) -> Result<()> {
    run_bench_bin("bench-search", "renraku-search-bench", args)
}

/// Runs one of `renraku-bench`'s binaries in release with the arguments after `--`.
fn run_bench_bin(label: &str, bin: &str, args: &[String]) -> Result<()> {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    step(&format!(
        "{label}: cargo run --release -p renraku-bench --bin {bin}"
    ));
    run_cmd(bench_bin(bin).args(args))
}

/// `cargo run --release` of one of `renraku-bench`'s binaries, ready for its arguments.
fn bench_bin(bin: &str) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root()).args([
        "run",
        "--release",
        "-p",
        "renraku-bench",
        "--bin",
        bin,
        "--",
    ]);
    cmd
}

fn kept_section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let (start_mark, end_mark) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = text.find(&start_mark)?;
    let end = text[start..].find(&end_mark)? + start + end_mark.len();
    Some(&text[start..end])
}
