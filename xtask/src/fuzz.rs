//! `cargo xtask fuzz [TARGET…]`: builds the libFuzzer targets of `fuzz/` with a stable
//! toolchain and runs each briefly (fuzz/README.md has the long-run instructions).
//!
//! cargo-fuzz needs nightly only for its sanitizer flags; the coverage instrumentation it
//! relies on is stable `-C` options, passed here the same way (with an explicit `--target`,
//! so build scripts and proc macros stay uninstrumented).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

pub const TARGETS: &[&str] = &["frame_decode", "update_validator", "import_parser"];
const DEFAULT_SECS: u64 = 20;

const COVERAGE_FLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing";

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("no host triple in rustc -vV")
}

pub fn run(root: &Path, target_dir: &Path, only: &[String]) -> Result<()> {
    let targets: Vec<&str> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        for t in only {
            if !TARGETS.contains(&t.as_str()) {
                bail!("no fuzz target {t:?} (there are: {})", TARGETS.join(", "));
            }
        }
        only.iter().map(String::as_str).collect()
    };
    let secs: u64 = match std::env::var("RENRAKU_FUZZ_SECS") {
        Ok(s) => s
            .parse()
            .context("RENRAKU_FUZZ_SECS must be a number of seconds")?,
        Err(_) => DEFAULT_SECS,
    };
    let host = host_triple()?;
    // Its own target directory: other RUSTFLAGS would invalidate the main build's cache.
    let build_dir = target_dir.join("fuzz");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root.join("fuzz"))
        .args(["build", "--release", "--bins", "--target", &host])
        .env("CARGO_TARGET_DIR", &build_dir)
        .env("RUSTFLAGS", COVERAGE_FLAGS)
        .env_remove("RUSTC_WRAPPER")
        .status()
        .context("building the fuzz targets")?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    let bin_dir = build_dir.join(&host).join("release");
    let mut failed = Vec::new();
    for target in targets {
        let corpus = target_dir.join("fuzz-corpus").join(target);
        let artifacts = target_dir.join("fuzz-artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let seeds = root.join("fuzz").join("corpus").join(target);
        let mut cmd = Command::new(bin_dir.join(target));
        cmd.arg(format!("-max_total_time={secs}"))
            .arg("-rss_limit_mb=2048")
            .arg("-malloc_limit_mb=1024")
            .arg("-timeout=10")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        println!("fuzz: {target} for {secs} s");
        let status = cmd.status().with_context(|| format!("running {target}"))?;
        if !status.success() {
            eprintln!(
                "fuzz: {target} FAILED; the input is in {} (see fuzz/README.md)",
                artifacts.display()
            );
            failed.push(target);
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}
