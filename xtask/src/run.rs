//! `cargo xtask run`: installs only what building and running the server needs (not the
//! test tools), builds the app, and starts a demo server on SQLite.

use crate::util::{cargo, root, run_cmd, step};
use crate::{build_app, setup};
use anyhow::Result;
use std::process::Command;

pub fn run(args: &[String]) -> Result<()> {
    // `cargo xtask run -- --help` hands us the `--` too.
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    setup::for_running()?;
    build_app::run()?;
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
