//! What every command shares: where the workspace and its target directory are, and running
//! other programs with their commands echoed.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
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
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Cargo's target directory, wherever `CARGO_TARGET_DIR` or cargo's config put it.
pub fn target_dir() -> Result<PathBuf> {
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

pub fn step(name: &str) {
    println!("\n==> {name}");
}

pub fn secs(since: Instant) -> String {
    secs_d(since.elapsed())
}

pub fn secs_d(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited stdio; fails unless it exits 0.
pub fn run_cmd(cmd: &mut Command) -> Result<()> {
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
pub fn capture(cmd: &mut Command) -> Result<String> {
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

pub fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Both benches measure the release server; `label` names the step for the log.
pub fn build_release_server(label: &str) -> Result<()> {
    step(&format!("{label}: cargo build --release -p renraku-server"));
    run_cmd(Command::new(cargo()).current_dir(root()).args([
        "build",
        "--release",
        "-p",
        "renraku-server",
    ]))
}
