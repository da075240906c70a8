//! `cargo xtask setup | build-app | run | test | bench | bench-app | fuzz`: everything a
//! newcomer or CI needs, from a machine that has only the Rust toolchain, Node 20+ and (for
//! the Postgres run) PostgreSQL. One module per command; this file only dispatches.
//!
//! Deliberately std + anyhow only, so `cargo xtask` itself compiles in seconds.

use std::process::ExitCode;

mod bench;
mod bench_app;
mod build_app;
mod canary;
mod fuzz;
mod run;
mod setup;
mod test;
mod util;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  setup       install what is missing: the wasm32 target, wasm-bindgen-cli (the version
              in Cargo.lock), rustfmt/clippy, the npm packages in tests/node/,
              Chromium for the browser tests, nginx and nats-server for the cluster
              tests (Debian's packages, via apt-get)
  build-app   build the Dioxus app for wasm32 into app/dist/ (embedded by the server)
  run [ARGS]  install what running needs (the wasm32 target, wasm-bindgen-cli, OpenSSL
              headers; not the test tools) + build-app +
              `cargo run --release -p renraku-server -- serve --demo ARGS`
  test        setup + build-app + fmt + clippy + every test on SQLite, then on PostgreSQL
              (which must be reachable at 127.0.0.1:5432; the cluster tests also need
              NATS at 127.0.0.1:4222, which .ci/run starts)
  bench [ARGS] npm ci in bench/node + release build + `cargo run --release -p renraku-bench
              -- ARGS`: Renraku beside y-websocket, written to BENCHMARKS.md (--quick: smoke)
  bench-app [ARGS] setup + build-app + release server, then bench/browser/app_bench.mjs in
              Chromium: first-load bytes, repeat load, a 1,000-post room's first paint at
              4x CPU slowdown; written to the app section of BENCHMARKS.md (--runs N)
  bench-nodes [ARGS] the steady load on 1, 2 and 3 nodes (PostgreSQL + NATS): latency on the
              sender's node and across nodes, CPU per node; into BENCHMARKS.md
  bench-search [ARGS] search latency on 1,000,000 posts in 10,000 rooms for a member of 30,
              on SQLite and PostgreSQL (`renraku-search-bench -- ARGS`, e.g. --posts 100000),
              written to the search section of BENCHMARKS.md
  fuzz [TARGET…] build the fuzz/ targets (stable toolchain) and run each for
              RENRAKU_FUZZ_SECS (20) seconds; see fuzz/README.md";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let rest: Vec<String> = args.collect();
    let result = match cmd.as_deref() {
        Some("setup") => setup::everything(),
        Some("build-app") => build_app::run(),
        Some("run") => run::run(&rest),
        Some("test") => test::run(),
        Some("bench") => bench::run(&rest),
        Some("bench-app") => bench_app::run(&rest),
        Some("bench-search") => bench::search(&rest),
        Some("bench-nodes") => bench::nodes(&rest),
        Some("fuzz") => util::target_dir().and_then(|t| fuzz::run(&util::root(), &t, &rest)),
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
