//! `BENCHMARKS.md`: one table per scenario with a column per server (Renraku on `/ws` and on
//! `/yjs`, y-websocket, y-sweet), and the verdict against the performance targets
//! (ARCHITECTURE.md, "Performance targets", and issue 20's comparisons).

use crate::{Kind, LoadResult, Params, ServerResults};
use std::fmt::Write;

pub struct Meta {
    pub machine: String,
    pub commit: String,
    pub quick: bool,
    pub nofile: u64,
    pub elapsed_secs: f64,
    /// Generator cost per post built / per delivery read, µs.
    pub build_us: f64,
    pub read_us: f64,
    /// The disk's `fdatasync` of a 4 KiB append at scenario a's rate: its latency and CPU
    /// (`disk.rs`).
    pub disk_sync: Option<crate::disk::DiskSync>,
    /// What `y-sweet version` printed.
    pub ysweet_version: Option<String>,
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.digits$}"))
}

fn ratio(r: Option<f64>, y: Option<f64>) -> String {
    match (r, y) {
        (Some(r), Some(y)) if y != 0.0 => format!("{:.2}×", r / y),
        _ => "—".into(),
    }
}

/// The servers' results, looked up by kind (a kind not run has none).
struct Cols<'a>(&'a [(Kind, ServerResults)]);

impl<'a> Cols<'a> {
    fn get(&self, k: Kind) -> Option<&'a ServerResults> {
        self.0.iter().find(|(kind, _)| *kind == k).map(|(_, r)| r)
    }
    fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }
}

struct Table<'a> {
    text: String,
    cols: &'a Cols<'a>,
}

impl<'a> Table<'a> {
    fn new(cols: &'a Cols<'a>) -> Table<'a> {
        let mut text = String::from("| |");
        let mut rule = String::from("|---|");
        for k in cols.kinds() {
            let _ = write!(text, " {} |", k.name());
            rule.push_str("---:|");
        }
        Table {
            text: format!("{text}\n{rule}\n"),
            cols,
        }
    }

    fn row(&mut self, name: &str, digits: usize, v: impl Fn(&ServerResults) -> Option<f64>) {
        let _ = write!(self.text, "| {name} |");
        for (_, r) in self.cols.0 {
            let _ = write!(self.text, " {} |", f(v(r), digits));
        }
        self.text.push('\n');
    }

    fn text_row(&mut self, name: &str, v: impl Fn(Kind, &ServerResults) -> String) {
        let _ = write!(self.text, "| {name} |");
        for (k, r) in self.cols.0 {
            let _ = write!(self.text, " {} |", v(*k, r));
        }
        self.text.push('\n');
    }
}

/// The rows of one load window; `pick` chooses the window of a server's results.
fn load_rows(t: &mut Table, pick: fn(&ServerResults) -> Option<&LoadResult>) {
    let g = |f: fn(&LoadResult) -> f64| move |r: &ServerResults| pick(r).map(f);
    t.row("clients", 0, g(|l| l.clients as f64));
    t.row("updates/s sustained", 0, g(|l| l.updates_per_sec()));
    t.row("frames/s delivered", 0, g(|l| l.frames_per_sec()));
    t.row("fan-out latency p50 (ms)", 2, g(|l| l.check.latency.p50_ms));
    t.row("fan-out latency p99 (ms)", 2, g(|l| l.check.latency.p99_ms));
    t.row("fan-out latency max (ms)", 2, g(|l| l.check.latency.max_ms));
    t.row("deliveries owed", 0, g(|l| l.check.expected as f64));
    t.row("lost (never arrived)", 0, g(|l| l.check.missing as f64));
    t.row(
        "delivered late, through a resync",
        0,
        g(|l| l.check.resynced as f64),
    );
    t.row("late (> 1 s)", 0, g(|l| l.check.late as f64));
    t.row(
        "duplicate / misdelivered",
        0,
        g(|l| (l.check.duplicates + l.check.non_member + l.check.unknown) as f64),
    );
    t.row(
        "posts not sent (client offline or generator behind)",
        0,
        g(|l| l.not_sent as f64),
    );
    t.row(
        "disconnects during the window",
        0,
        g(|l| l.disconnects as f64),
    );
    t.text_row("`saved` ack p50 / p99 (ms)", |k, r| match pick(r) {
        Some(l) if k == Kind::Ws => format!("{:.2} / {:.2}", l.ack.p50_ms, l.ack.p99_ms),
        Some(_) => "(no acks)".into(),
        None => "—".into(),
    });
    t.row("server CPU (% of one core)", 0, g(|l| l.server.cpu_percent));
    t.row(
        "server CPU per update (µs)",
        1,
        g(|l| l.cpu_us_per_update()),
    );
    t.row("server RSS at end (MiB)", 1, g(|l| l.server.rss_end_mib));
    t.row("server RSS peak (MiB)", 1, g(|l| l.server.rss_peak_mib));
    t.row(
        "load generator CPU (% of one core)",
        0,
        g(|l| l.generator.cpu_percent),
    );
}

fn yes(b: bool) -> &'static str {
    if b {
        "**met**"
    } else {
        "**not met**"
    }
}

/// `/ws **met**, /yjs **not met**` for the endpoints that were measured.
fn per_endpoint(c: &Cols, ok: impl Fn(Kind, &ServerResults) -> Option<bool>) -> String {
    let v: Vec<String> = [Kind::Ws, Kind::Yjs]
        .into_iter()
        .filter_map(|k| {
            let verdict = c.get(k).and_then(|r| ok(k, r));
            c.get(k).map(|_| {
                format!(
                    "{} {}",
                    &k.name()["Renraku ".len()..],
                    verdict.map_or("not measured", yes)
                )
            })
        })
        .collect();
    if v.is_empty() {
        "Renraku not measured".into()
    } else {
        v.join(", ")
    }
}

/// `/ws 1.2, /yjs 3.4, y-websocket 5.6, y-sweet 7.8` for the servers that have a value.
fn values(
    c: &Cols,
    digits: usize,
    unit: &str,
    v: impl Fn(&ServerResults) -> Option<f64>,
) -> String {
    c.0.iter()
        .map(|(k, r)| {
            let name = if k.renraku() {
                &k.name()["Renraku ".len()..]
            } else {
                k.name()
            };
            format!("{name} {}{unit}", f(v(r), digits))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn render(m: &Meta, p: &Params, results: &[(Kind, ServerResults)]) -> String {
    let c = Cols(results);
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask bench{}` — do not edit by hand; rerun it.\n",
        if m.quick { " --quick" } else { "" }
    );
    let _ = writeln!(s, "- date: {}", date());
    let _ = writeln!(s, "- commit: `{}`", m.commit);
    let _ = writeln!(s, "- machine: {}", m.machine);
    let _ = writeln!(
        s,
        "- mode: {}; open-files limit {} (raised to the hard limit, inherited by the servers); run time {:.0} s",
        if m.quick { "**quick (smoke test, small counts: not comparable with the targets)**" } else { "full" },
        m.nofile,
        m.elapsed_secs
    );
    let _ = writeln!(
        s,
        "- servers: Renraku release build on SQLite (WAL, `synchronous=FULL`: every update committed before `saved` and broadcast), \
         on `/ws` (Renraku frames) and on `/yjs/{{room}}` (plain y-protocols with a room token); \
         y-websocket = `npx y-websocket` from `@y/websocket-server@0.1.1` + `yjs@13.6.33` (memory only); \
         y-sweet {} (`cargo install y-sweet --version 0.9.1`; `y-sweet serve` on a fresh data directory, documents saved there every checkpoint).",
        m.ysweet_version.as_deref().unwrap_or("0.9.1")
    );
    let _ = writeln!(
        s,
        "- load generator: one Rust process, one tokio task per WebSocket, on the same 2 cores as the server; \
         its own cost: {:.1} µs to build and frame a post, {:.1} µs to read a delivery (single core).\n",
        m.build_us, m.read_us
    );
    if let Some(d) = &m.disk_sync {
        let _ = writeln!(
            s,
            "- the disk under the servers' data (the system temp directory), alone, before the runs: `fdatasync` of a 4 KiB append, {} times at {} /s: p50 {:.2}, p99 {:.2}, max {:.2} ms, and {:.0} µs of CPU each (the probing thread's CPU time with the syncs, less the same appends without them). \
             Every Renraku update waits for one (a group commit shares it among the updates it carries) before `saved` and the broadcast; \
             y-websocket and y-sweet wait for none, so this p99 is a floor under Renraku's p99, and this CPU a part of Renraku's CPU per update at a steady rate, that theirs do not have.\n",
            d.latency.count, p.a_rate, d.latency.p50_ms, d.latency.p99_ms, d.latency.max_ms, d.cpu_us
        );
    }

    // Verdicts first.
    let _ = writeln!(
        s,
        "## Against the targets (ARCHITECTURE.md, \"Performance targets\"; issue 20)\n"
    );
    let yws_best = c.get(Kind::YWebsocket).and_then(|r| r.best_rate());
    let _ = writeln!(
        s,
        "- Highest rate with p99 < 50 ms and nothing lost, {} clients / {} rooms, at least 2× y-websocket's: {} /s; Renraku ÷ y-websocket: /ws {}, /yjs {}: {}",
        p.a_clients,
        p.a_rooms,
        values(&c, 0, "", |r| r.best_rate()),
        ratio(c.get(Kind::Ws).and_then(|r| r.best_rate()), yws_best),
        ratio(c.get(Kind::Yjs).and_then(|r| r.best_rate()), yws_best),
        per_endpoint(&c, |_, r| {
            // Without y-websocket in the run there is nothing to be twice: not measured.
            Some(r.best_rate()? >= 2.0 * yws_best?)
        })
    );
    let p99 = |r: &ServerResults| r.steady.as_ref().map(|l| l.check.latency.p99_ms);
    let sweet_p99 = c.get(Kind::YSweet).and_then(p99);
    let _ = writeln!(
        s,
        "- p99 fan-out latency at {} updates/s at most y-sweet's: {} ms: {}{}",
        p.a_rate,
        values(&c, 2, "", p99),
        per_endpoint(&c, |_, r| Some(p99(r)? <= sweet_p99?)),
        m.disk_sync.map_or(String::new(), |d| format!(
            " (the disk's own p99 `fdatasync` here: {:.2} ms)",
            d.latency.p99_ms
        ))
    );
    let cpu = |r: &ServerResults| r.steady.as_ref().map(LoadResult::cpu_us_per_update);
    let yws_cpu = c.get(Kind::YWebsocket).and_then(cpu);
    let _ = writeln!(
        s,
        "- server CPU per update at {} updates/s at most y-websocket's: {} µs: {}{}",
        p.a_rate,
        values(&c, 1, "", cpu),
        per_endpoint(&c, |_, r| Some(cpu(r)? <= yws_cpu?)),
        // At this rate each update is a group commit of its own, with its own sync.
        m.disk_sync.map_or(String::new(), |d| format!(
            " (the disk's own CPU per `fdatasync` here: {:.0} µs)",
            d.cpu_us
        ))
    );
    let _ = writeln!(
        s,
        "- {} concurrent clients at {} updates/s with p99 < 50 ms: p99 {} ms: {}",
        p.b_clients,
        p.b_rate,
        values(&c, 1, "", |r| r
            .big
            .as_ref()
            .map(|l| l.check.latency.p99_ms)),
        per_endpoint(&c, |_, r| {
            let big = r.big.as_ref()?;
            Some(big.clients as u32 >= p.b_clients && big.passes())
        })
    );
    let idle = |r: &ServerResults| r.idle.as_ref().map(crate::Idle::per_conn_kib);
    let _ = writeln!(
        s,
        "- memory per idle connection < 8 KiB on both endpoints: {} KiB: {}",
        values(&c, 1, "", idle),
        per_endpoint(&c, |_, r| Some(idle(r)? < 8.0))
    );
    let cold = |r: &ServerResults, f: fn(&crate::Cold) -> Option<f64>| r.cold.as_ref().and_then(f);
    let _ = writeln!(
        s,
        "- a {}-post room opens in ≤ 4 ms loaded ({} ms; on an open socket for /ws) and ≤ 15 ms from storage ({} ms): {}",
        p.big_posts,
        values(&c, 1, "", |r| cold(r, crate::Cold::loaded_ms)),
        values(&c, 1, "", |r| cold(r, |c| c.evicted_ms)),
        per_endpoint(&c, |_, r| {
            let loaded = cold(r, crate::Cold::loaded_ms)?;
            let stored = cold(r, |c| c.evicted_ms)?;
            Some(loaded <= 4.0 && stored <= 15.0)
        })
    );
    let lost = |r: &ServerResults| {
        (r.steady.is_some() || r.big.is_some())
            .then(|| r.runs().map(|l| l.check.missing).sum::<u64>() as f64)
    };
    let late = |r: &ServerResults| {
        (r.steady.is_some() || r.big.is_some())
            .then(|| r.runs().map(|l| l.check.resynced).sum::<u64>() as f64)
    };
    let _ = writeln!(
        s,
        "- no delivery lost, at any rate (a client may be slowed or disconnected past saturation, but gets what it missed when it resyncs): \
         lost in all windows {}; delivered late through a resync {}: {}\n",
        values(&c, 0, "", lost),
        values(&c, 0, "", late),
        per_endpoint(&c, |_, r| Some(lost(r)? == 0.0))
    );

    let _ = writeln!(
        s,
        "## (a) {} clients / {} rooms, {} updates/s for {} s\n",
        p.a_clients, p.a_rooms, p.a_rate, p.a_secs
    );
    let _ = writeln!(
        s,
        "One sender per room posts a new thread; every other member of the room must receive it. \
         Latency is from the sender's clock just before `send` to the receiver's read of the frame (one process, one clock).\n"
    );
    let mut t = Table::new(&c);
    t.row("time to connect and sync all clients (s)", 1, |r| {
        r.a_connect_secs
    });
    load_rows(&mut t, |r| r.steady.as_ref());
    s.push_str(&t.text);

    let _ = writeln!(
        s,
        "\n### Rate sweep ({} s per step; each server stops at its first failing step)\n",
        p.sweep_secs
    );
    let _ = writeln!(
        s,
        "| target updates/s | server | sent/s | p50 / p99 / max (ms) | lost | late, through a resync | disconnects | server CPU % | CPU per update (µs) | |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (i, rate) in p.sweep.iter().enumerate() {
        for (k, r) in results {
            let Some(l) = r.sweep.get(i) else { continue };
            let _ = writeln!(
                s,
                "| {rate:.0} | {} | {:.0} | {:.1} / {:.1} / {:.0} | {} | {} | {} | {:.0} | {:.1} | {} |",
                k.name(),
                l.updates_per_sec(),
                l.check.latency.p50_ms,
                l.check.latency.p99_ms,
                l.check.latency.max_ms,
                l.check.missing,
                l.check.resynced,
                l.disconnects,
                l.server.cpu_percent,
                l.cpu_us_per_update(),
                if l.passes() { "pass" } else { "**fail**" }
            );
        }
    }
    let _ = writeln!(
        s,
        "\nHighest passing rate: {} /s.\n",
        values(&c, 0, "", |r| r.best_rate())
    );

    let _ = writeln!(
        s,
        "## (b) {} mostly idle clients / {} rooms, {} updates/s for {} s\n",
        p.b_clients, p.b_rooms, p.b_rate, p.b_secs
    );
    let mut t = Table::new(&c);
    t.row("clients connected and synced", 0, |r| {
        r.b_connected.map(|c| c.0 as f64)
    });
    t.row("time to connect them (s)", 1, |r| {
        r.b_connected.map(|c| c.1)
    });
    load_rows(&mut t, |r| r.big.as_ref());
    s.push_str(&t.text);

    let _ = writeln!(s, "\n### Memory per idle connection\n");
    let _ = writeln!(
        s,
        "Server RSS before any client, then with the idle clients connected and synced ({} rooms loaded, empty), after 2 s to settle.\n",
        p.b_rooms
    );
    let mut t = Table::new(&c);
    let i = |f: fn(&crate::Idle) -> f64| move |r: &ServerResults| r.idle.as_ref().map(f);
    t.row("idle clients", 0, i(|i| i.clients as f64));
    t.row("RSS before (MiB)", 1, i(|i| i.rss_before_mib));
    t.row("RSS with clients (MiB)", 1, i(|i| i.rss_after_mib));
    t.row("per connection (KiB)", 1, i(crate::Idle::per_conn_kib));
    s.push_str(&t.text);

    let _ = writeln!(s, "\n## (c) Opening a {}-post room\n", p.big_posts);
    let _ = writeln!(
        s,
        "Median of {} opens (3 after restarts); time from starting to connect (or, \"on an open socket\", from sending `open`) until the server's sync step 2 has arrived whole. \
         Renraku's fresh connection includes the session (or room token) lookup, the membership check and the audit row written for every room open; \
         \"loaded\" means another member holds the room open.\n",
        p.opens
    );
    let mut t = Table::new(&c);
    let cd =
        |f: fn(&crate::Cold) -> Option<f64>| move |r: &ServerResults| r.cold.as_ref().and_then(f);
    t.row(
        "sync step 2 size (KB)",
        0,
        cd(|c| Some(c.step2_bytes as f64 / 1e3)),
    );
    t.row(
        "loaded, fresh connection (ms)",
        2,
        cd(|c| c.loaded_fresh_ms),
    );
    t.row(
        "loaded, on an open socket (ms)",
        2,
        cd(|c| c.loaded_socket_ms),
    );
    t.row("from storage after eviction (ms)", 2, cd(|c| c.evicted_ms));
    t.row(
        "from storage, first open after a restart (ms)",
        2,
        cd(|c| c.restart_ms),
    );
    t.row(
        &format!(
            "server memory per socket that opened it, {} held open idle (KiB)",
            p.big_holders
        ),
        0,
        cd(|c| c.held_kib),
    );
    s.push_str(&t.text);
    let _ = writeln!(
        s,
        "\nThe memory row: that many sockets open the loaded room one after another, each reads the sync step 2 whole, then all stay open and idle; the server's RSS growth divided by their number (what a socket keeps of having sent a large room; Renraku's per-user socket cap is raised for it, one seeded member holding them all). Only `/ws` opens several rooms on one socket. y-websocket keeps nothing on disk: it has no \"from storage\" case. \
         The room is seeded into storage before the server starts (Renraku: a snapshot row; y-sweet: `y-sweet convert-from-update`); \
         Renraku unloads a room 300 ms after its last socket (`--room-evict-ms 300`), y-sweet after two checkpoints without one (1 s each here), \
         which the bench waits for in its log.\n"
    );

    let _ = writeln!(s, "## (d) Reconnect storm\n");
    let _ = writeln!(
        s,
        "All clients of (a) dropped at once (sockets closed without a goodbye); each reconnects after a random 0–{} ms, \
         then with capped exponential backoff (200 ms × 2ⁿ, at most 5 s, × 0.5–1 jitter) on failure, and resyncs its room.\n",
        p.storm_first_max.as_millis()
    );
    let mut t = Table::new(&c);
    let st =
        |f: fn(&crate::Storm) -> Option<f64>| move |r: &ServerResults| r.storm.as_ref().and_then(f);
    t.row("clients", 0, st(|s| Some(s.clients as f64)));
    t.row("resynced", 0, st(|s| Some(s.resynced as f64)));
    t.row(
        "time until all synced again (s)",
        2,
        st(|s| s.all_synced_secs),
    );
    t.row(
        "failed connection attempts",
        0,
        st(|s| Some(s.failed_connects as f64)),
    );
    t.row(
        "server CPU (% of one core)",
        0,
        st(|s| Some(s.server.cpu_percent)),
    );
    t.row(
        "server RSS peak (MiB)",
        1,
        st(|s| Some(s.server.rss_peak_mib)),
    );
    s.push_str(&t.text);

    let _ = writeln!(s, "\n## Notes\n");
    for (k, x) in results {
        for e in &x.errors {
            let _ = writeln!(s, "- {}: a scenario did not finish: {e}", k.name());
        }
        if x.log_problems > 0 {
            let what = if k.renraku() {
                "warnings or errors logged (its stderr)"
            } else {
                "messages dropped because a connection's send queue was full (its log)"
            };
            let _ = writeln!(s, "- {}: {} {what}.", k.name(), x.log_problems);
        }
    }
    for line in crate::report_notes() {
        let _ = writeln!(s, "- {line}");
    }
    s
}
