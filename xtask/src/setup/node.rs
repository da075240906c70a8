//! npm packages: those of `tests/node/` (a stock Yjs client, playwright-core) that the tests
//! and the app bench drive, and the map library of `app/map/` that `build-app` copies into
//! the app (so `run` needs Node too).

use crate::util::{capture, mtime, root, run_cmd};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

fn node_dir() -> PathBuf {
    root().join("tests").join("node")
}

pub fn ensure_node_packages() -> Result<()> {
    ensure_npm_packages(&node_dir())
}

/// Installs `dir`'s npm packages as its lock file pins them, unless they are current.
pub fn ensure_npm_packages(dir: &Path) -> Result<()> {
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
        println!("{}/node_modules: up to date", dir.display());
        return Ok(());
    }
    let sub = if lock.is_file() { "ci" } else { "install" };
    run_cmd(
        Command::new("npm")
            .args([sub, "--no-audit", "--no-fund"])
            .current_dir(dir),
    )
}
