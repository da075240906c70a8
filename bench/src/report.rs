//! `BENCHMARKS.md`: one table per scenario, Renraku beside y-websocket with the ratio, and
//! the verdict against the performance targets (ARCHITECTURE.md, "Performance targets").

use crate::{LoadResult, Params, ServerResults};
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

struct Table(String);

impl Table {
    fn new() -> Table {
        Table("| | Renraku | y-websocket | Renraku ÷ y-websocket |\n|---|---:|---:|---:|\n".into())
    }
    fn row(&mut self, name: &str, r: Option<f64>, y: Option<f64>, digits: usize) {
        let _ = writeln!(
            self.0,
            "| {name} | {} | {} | {} |",
            f(r, digits),
            f(y, digits),
            ratio(r, y)
        );
    }
}

fn load_rows(t: &mut Table, r: Option<&LoadResult>, y: Option<&LoadResult>) {
    let g = |x: Option<&LoadResult>, f: &dyn Fn(&LoadResult) -> f64| x.map(f);
    t.row(
        "clients",
        g(r, &|l| l.clients as f64),
        g(y, &|l| l.clients as f64),
        0,
    );
    t.row(
        "updates/s sustained",
        g(r, &|l| l.updates_per_sec()),
        g(y, &|l| l.updates_per_sec()),
        0,
    );
    t.row(
        "frames/s delivered",
        g(r, &|l| l.frames_per_sec()),
        g(y, &|l| l.frames_per_sec()),
        0,
    );
    t.row(
        "fan-out latency p50 (ms)",
        g(r, &|l| l.check.latency.p50_ms),
        g(y, &|l| l.check.latency.p50_ms),
        2,
    );
    t.row(
        "fan-out latency p99 (ms)",
        g(r, &|l| l.check.latency.p99_ms),
        g(y, &|l| l.check.latency.p99_ms),
        2,
    );
    t.row(
        "fan-out latency max (ms)",
        g(r, &|l| l.check.latency.max_ms),
        g(y, &|l| l.check.latency.max_ms),
        2,
    );
    t.row(
        "deliveries owed",
        g(r, &|l| l.check.expected as f64),
        g(y, &|l| l.check.expected as f64),
        0,
    );
    t.row(
        "lost (never arrived)",
        g(r, &|l| l.check.missing as f64),
        g(y, &|l| l.check.missing as f64),
        0,
    );
    t.row(
        "late (> 1 s)",
        g(r, &|l| l.check.late as f64),
        g(y, &|l| l.check.late as f64),
        0,
    );
    t.row(
        "duplicate / misdelivered",
        g(r, &|l| {
            (l.check.duplicates + l.check.non_member + l.check.unknown) as f64
        }),
        g(y, &|l| {
            (l.check.duplicates + l.check.non_member + l.check.unknown) as f64
        }),
        0,
    );
    t.row(
        "posts not sent (client offline or generator behind)",
        g(r, &|l| l.not_sent as f64),
        g(y, &|l| l.not_sent as f64),
        0,
    );
    t.row(
        "disconnects during the window",
        g(r, &|l| l.disconnects as f64),
        g(y, &|l| l.disconnects as f64),
        0,
    );
    if let Some(l) = r {
        let _ = writeln!(
            t.0,
            "| `saved` ack p50 / p99 (ms) | {:.2} / {:.2} | (no acks) | |",
            l.ack.p50_ms, l.ack.p99_ms
        );
    }
    t.row(
        "server CPU (% of one core)",
        g(r, &|l| l.server.cpu_percent),
        g(y, &|l| l.server.cpu_percent),
        0,
    );
    t.row(
        "server RSS at end (MiB)",
        g(r, &|l| l.server.rss_end_mib),
        g(y, &|l| l.server.rss_end_mib),
        1,
    );
    t.row(
        "server RSS peak (MiB)",
        g(r, &|l| l.server.rss_peak_mib),
        g(y, &|l| l.server.rss_peak_mib),
        1,
    );
    t.row(
        "load generator CPU (% of one core)",
        g(r, &|l| l.generator.cpu_percent),
        g(y, &|l| l.generator.cpu_percent),
        0,
    );
}

fn yes(b: bool) -> &'static str {
    if b {
        "**met**"
    } else {
        "**not met**"
    }
}

pub fn render(m: &Meta, p: &Params, r: &ServerResults, y: &ServerResults) -> String {
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
        "- servers: Renraku release build on SQLite (WAL, `synchronous=FULL`: every update committed before `saved` and broadcast); \
         y-websocket = `npx y-websocket` from `@y/websocket-server@0.1.1` + `yjs@13.6.33` (memory only)."
    );
    let _ = writeln!(
        s,
        "- load generator: one Rust process, one tokio task per WebSocket, on the same 2 cores as the server; \
         its own cost: {:.1} µs to build and frame a post, {:.1} µs to read a delivery (single core).\n",
        m.build_us, m.read_us
    );

    // Verdicts first.
    let _ = writeln!(
        s,
        "## Against the targets (ARCHITECTURE.md, \"Performance targets\")\n"
    );
    let (rb, yb) = (r.best_rate(), y.best_rate());
    let _ = writeln!(
        s,
        "- Highest rate with p99 < 50 ms and nothing lost, {} clients / {} rooms: Renraku {} /s, y-websocket {} /s → {} (target ≥ 2×): {}",
        p.a_clients,
        p.a_rooms,
        f(rb, 0),
        f(yb, 0),
        ratio(rb, yb),
        yes(matches!((rb, yb), (Some(a), Some(b)) if a >= 2.0 * b) || (rb.is_some() && yb.is_none()))
    );
    if let Some(big) = &r.big {
        let _ = writeln!(
            s,
            "- {} concurrent clients at {} updates/s with p99 < 50 ms: {} clients reached, p99 {:.1} ms, lost {}: {}",
            p.b_clients,
            p.b_rate,
            big.clients,
            big.check.latency.p99_ms,
            big.check.missing,
            yes(big.clients as u32 >= p.b_clients && big.passes())
        );
    }
    if let Some(idle) = &r.idle {
        let _ = writeln!(
            s,
            "- memory per idle connection < 8 KiB: {:.1} KiB (y-websocket {}): {}",
            idle.per_conn_kib(),
            y.idle
                .as_ref()
                .map_or("—".into(), |i| format!("{:.1} KiB", i.per_conn_kib())),
            yes(idle.per_conn_kib() < 8.0)
        );
    }
    if let Some(c) = &r.cold {
        let loaded = c.loaded_socket_ms.or(c.loaded_fresh_ms).unwrap_or(f64::MAX);
        let stored = c.evicted_ms.unwrap_or(f64::MAX);
        let _ = writeln!(
            s,
            "- {}-post room opens in ≤ 4 ms loaded ({} ms on an open socket) and ≤ 15 ms from storage ({} ms): {}",
            c.posts,
            f(c.loaded_socket_ms, 1),
            f(c.evicted_ms, 1),
            yes(loaded <= 4.0 && stored <= 15.0)
        );
    }
    let dropped: u64 = r
        .steady
        .iter()
        .chain(r.big.iter())
        .chain(r.sweep.iter().filter(|l| l.disconnects == 0))
        .map(|l| l.check.missing)
        .sum();
    let _ = writeln!(
        s,
        "- no delivery silently dropped: {} deliveries lost to connected clients in the runs where no client was disconnected: {}\n",
        dropped,
        yes(dropped == 0)
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
    let mut t = Table::new();
    t.row(
        "time to connect and sync all clients (s)",
        r.a_connect_secs,
        y.a_connect_secs,
        1,
    );
    load_rows(&mut t, r.steady.as_ref(), y.steady.as_ref());
    s.push_str(&t.0);

    let _ = writeln!(
        s,
        "\n### Rate sweep ({} s per step; stops at the first failing step)\n",
        p.sweep_secs
    );
    let _ = writeln!(
        s,
        "| target updates/s | Renraku sent/s | p50 / p99 / max (ms) | lost | disconnects | server CPU % | | y-websocket sent/s | p50 / p99 / max (ms) | lost | disconnects | server CPU % |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    );
    let cell = |l: Option<&LoadResult>| match l {
        Some(l) => format!(
            "{:.0} | {:.1} / {:.1} / {:.0} | {} | {} | {:.0} | {}",
            l.updates_per_sec(),
            l.check.latency.p50_ms,
            l.check.latency.p99_ms,
            l.check.latency.max_ms,
            l.check.missing,
            l.disconnects,
            l.server.cpu_percent,
            if l.passes() { "pass" } else { "**fail**" }
        ),
        None => "— | — | — | — | — | not run".into(),
    };
    for (i, rate) in p.sweep.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {rate:.0} | {} | {} |",
            cell(r.sweep.get(i)),
            cell(y.sweep.get(i))
        );
    }
    let _ = writeln!(
        s,
        "\nHighest passing rate: Renraku **{}**/s, y-websocket **{}**/s ({}).\n",
        f(rb, 0),
        f(yb, 0),
        ratio(rb, yb)
    );

    let _ = writeln!(
        s,
        "## (b) {} mostly idle clients / {} rooms, {} updates/s for {} s\n",
        p.b_clients, p.b_rooms, p.b_rate, p.b_secs
    );
    let mut t = Table::new();
    t.row(
        "clients connected and synced",
        r.b_connected.map(|c| c.0 as f64),
        y.b_connected.map(|c| c.0 as f64),
        0,
    );
    t.row(
        "time to connect them (s)",
        r.b_connected.map(|c| c.1),
        y.b_connected.map(|c| c.1),
        1,
    );
    load_rows(&mut t, r.big.as_ref(), y.big.as_ref());
    s.push_str(&t.0);

    let _ = writeln!(s, "\n### Memory per idle connection\n");
    let _ = writeln!(
        s,
        "Server RSS before any client, then with the idle clients connected and synced ({} rooms loaded, empty), after 2 s to settle.\n",
        p.b_rooms
    );
    let mut t = Table::new();
    let idle = |x: &ServerResults, f: &dyn Fn(&crate::Idle) -> f64| x.idle.as_ref().map(f);
    t.row(
        "idle clients",
        idle(r, &|i| i.clients as f64),
        idle(y, &|i| i.clients as f64),
        0,
    );
    t.row(
        "RSS before (MiB)",
        idle(r, &|i| i.rss_before_mib),
        idle(y, &|i| i.rss_before_mib),
        1,
    );
    t.row(
        "RSS with clients (MiB)",
        idle(r, &|i| i.rss_after_mib),
        idle(y, &|i| i.rss_after_mib),
        1,
    );
    t.row(
        "per connection (KiB)",
        idle(r, &|i| i.per_conn_kib()),
        idle(y, &|i| i.per_conn_kib()),
        1,
    );
    s.push_str(&t.0);

    let _ = writeln!(s, "\n## (c) Opening a {}-post room\n", p.big_posts);
    let _ = writeln!(
        s,
        "Median of {} opens; time from starting to connect (or, \"on an open socket\", from sending `open`) until the server's sync step 2 has arrived whole. \
         Renraku's fresh connection includes the session lookup, the membership check and the audit row written for every room open.\n",
        p.opens
    );
    let mut t = Table::new();
    let c =
        |x: &ServerResults, f: &dyn Fn(&crate::Cold) -> Option<f64>| x.cold.as_ref().and_then(f);
    t.row(
        "sync step 2 size (KB)",
        c(r, &|c| Some(c.step2_bytes as f64 / 1e3)),
        c(y, &|c| Some(c.step2_bytes as f64 / 1e3)),
        0,
    );
    t.row(
        "loaded, fresh connection (ms)",
        c(r, &|c| c.loaded_fresh_ms),
        c(y, &|c| c.loaded_fresh_ms),
        2,
    );
    t.row(
        "loaded, on an open socket (ms)",
        c(r, &|c| c.loaded_socket_ms),
        None,
        2,
    );
    t.row(
        "from storage after eviction (ms)",
        c(r, &|c| c.evicted_ms),
        None,
        2,
    );
    t.row(
        "from storage, first open after a restart (ms)",
        c(r, &|c| c.restart_ms),
        None,
        2,
    );
    s.push_str(&t.0);
    let _ = writeln!(
        s,
        "\ny-websocket keeps nothing on disk: it has no \"from storage\" case.\n"
    );

    let _ = writeln!(s, "## (d) Reconnect storm\n");
    let _ = writeln!(
        s,
        "All clients of (a) dropped at once (sockets closed without a goodbye); each reconnects after a random 0–{} ms, \
         then with capped exponential backoff (200 ms × 2ⁿ, at most 5 s, × 0.5–1 jitter) on failure, and resyncs its room.\n",
        p.storm_first_max.as_millis()
    );
    let mut t = Table::new();
    let st =
        |x: &ServerResults, f: &dyn Fn(&crate::Storm) -> Option<f64>| x.storm.as_ref().and_then(f);
    t.row(
        "clients",
        st(r, &|s| Some(s.clients as f64)),
        st(y, &|s| Some(s.clients as f64)),
        0,
    );
    t.row(
        "resynced",
        st(r, &|s| Some(s.resynced as f64)),
        st(y, &|s| Some(s.resynced as f64)),
        0,
    );
    t.row(
        "time until all synced again (s)",
        st(r, &|s| s.all_synced_secs),
        st(y, &|s| s.all_synced_secs),
        2,
    );
    t.row(
        "failed connection attempts",
        st(r, &|s| Some(s.failed_connects as f64)),
        st(y, &|s| Some(s.failed_connects as f64)),
        0,
    );
    t.row(
        "server CPU (% of one core)",
        st(r, &|s| Some(s.server.cpu_percent)),
        st(y, &|s| Some(s.server.cpu_percent)),
        0,
    );
    t.row(
        "server RSS peak (MiB)",
        st(r, &|s| Some(s.server.rss_peak_mib)),
        st(y, &|s| Some(s.server.rss_peak_mib)),
        1,
    );
    s.push_str(&t.0);

    let _ = writeln!(s, "\n## Notes\n");
    for (name, x) in [("Renraku", r), ("y-websocket", y)] {
        for e in &x.errors {
            let _ = writeln!(s, "- {name}: a scenario did not finish: {e}");
        }
    }
    if r.log_problems > 0 {
        let _ = writeln!(
            s,
            "- Renraku logged {} warnings or errors during the run (its stderr).",
            r.log_problems
        );
    }
    for line in crate::report_notes() {
        let _ = writeln!(s, "- {line}");
    }
    s
}
