//! The Rust side: rustfmt and clippy, the wasm32 target, and the wasm-bindgen CLI of the
//! exact version Cargo.lock resolved.

use crate::util::{capture, cargo, root, run_cmd};
use crate::WASM_TARGET;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub fn ensure_rust_components() -> Result<()> {
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

pub fn ensure_wasm_target() -> Result<()> {
    let installed = capture(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("`rustup` is needed (https://rustup.rs)")?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("{WASM_TARGET}: present");
        return Ok(());
    }
    run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

pub fn ensure_wasm_bindgen() -> Result<()> {
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
pub fn wasm_bindgen_bin() -> PathBuf {
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

#[cfg(test)]
mod tests {
    use super::*;

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
