//! `cargo xtask bench-app`: the app in Chromium against the release server
//! (`bench/browser/app_bench.mjs`), into the app section of BENCHMARKS.md.

use crate::util::{build_release_server, root, run_cmd, step, target_dir};
use crate::{build_app, setup};
use anyhow::Result;
use std::process::Command;

/// The app's budgets (issue 3) in Chromium against the release server.
pub fn run(args: &[String]) -> Result<()> {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    // Chromium and the npm packages too: the bench drives the browser through playwright-core.
    setup::everything()?;
    build_app::run()?;
    build_release_server("bench-app")?;
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
