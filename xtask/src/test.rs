//! `cargo xtask test`: every check and test, as CI runs it (`.ci/run`), ending with a
//! summary; it fails if any step failed.

use crate::util::{cargo, root, run_cmd, secs, secs_d, step, target_dir};
use crate::{build_app, canary, fuzz, setup, WASM_TARGET};
use anyhow::{bail, Result};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::{Duration, Instant};

const POSTGRES_ADDR: &str = "127.0.0.1:5432";
/// The machine's NATS, which the cluster tests' nodes talk through (`.ci/run` starts it).
const NATS_ADDR: &str = "127.0.0.1:4222";

struct Outcome {
    name: &'static str,
    ok: bool,
    took: Duration,
    note: String,
}

pub fn run() -> Result<()> {
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
    let prepared = record("setup", &setup::everything) && record("build-app", &build_app::run);
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
        // One pass: every database test runs on SQLite and on PostgreSQL
        // (`test_both_dbs!` in tests/src/lib.rs); the browser tests run once, on SQLite.
        record("cargo test (SQLite and PostgreSQL)", &|| {
            postgres_reachable()?;
            nats_reachable()?;
            run_cmd(
                // --no-fail-fast: one failing suite must not hide the others' results.
                c().args(["test", "--no-fail-fast"])
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
/// 127.0.0.1:5432) accepts TCP connections: checked before the tests, so an unreachable
/// server is one clear message rather than every PostgreSQL test failing alike.
fn postgres_reachable() -> Result<()> {
    let (addr, from) = match std::env::var("RENRAKU_TEST_PG_URL") {
        Ok(url) => (pg_host_port(&url), "RENRAKU_TEST_PG_URL"),
        Err(_) => (POSTGRES_ADDR.to_owned(), "the default"),
    };
    if !reachable(&addr) {
        bail!(
            "PostgreSQL is not reachable at {addr} ({from}). The PostgreSQL test run needs a \
             server there with trust authentication for local connections; start one and run \
             `cargo xtask test` again. The PostgreSQL tests are never skipped."
        );
    }
    Ok(())
}

/// Fails clearly unless NATS (`RENRAKU_TEST_NATS_URL`, by default 127.0.0.1:4222) accepts
/// TCP connections: the cluster tests need it, as the PostgreSQL tests need PostgreSQL.
fn nats_reachable() -> Result<()> {
    let (addr, from) = match std::env::var("RENRAKU_TEST_NATS_URL") {
        Ok(url) => (host_port(&url, 4222), "RENRAKU_TEST_NATS_URL"),
        Err(_) => (NATS_ADDR.to_owned(), "the default"),
    };
    if !reachable(&addr) {
        bail!(
            "NATS is not reachable at {addr} ({from}). The cluster tests need a NATS server \
             with JetStream there: `.ci/run` starts one (`nats-server -a 127.0.0.1 -p 4222 -js \
             -sd /var/lib/nats-server`; `cargo xtask setup` installs Debian's nats-server)."
        );
    }
    Ok(())
}

fn reachable(addr: &str) -> bool {
    addr.to_socket_addrs()
        .map(|addrs| {
            addrs
                .into_iter()
                .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok())
        })
        .unwrap_or(false)
}

/// `postgres://user@host:port/db` → `host:port` (port 5432 if absent).
fn pg_host_port(url: &str) -> String {
    host_port(url, 5432)
}

/// `scheme://user@host:port/…` → `host:port` (`default_port` if absent).
fn host_port(url: &str, default_port: u16) -> String {
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
        format!("{host}:{default_port}")
    }
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
        assert_eq!(host_port("nats://127.0.0.1:4223", 4222), "127.0.0.1:4223");
        assert_eq!(
            host_port("nats://nats.internal", 4222),
            "nats.internal:4222"
        );
    }
}
