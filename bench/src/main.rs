//! `cargo xtask bench`: Renraku's sync server, on `/ws` (its own frames) and on `/yjs/{room}`
//! (plain y-protocols), beside the reference y-websocket server and y-sweet, under the same
//! load, from the same tool, in the same run; results written to `BENCHMARKS.md`.
//!
//! Scenarios: (a) 1,000 clients / 100 rooms at 200 updates/s, then a rate sweep for the
//! highest rate with p99 < 50 ms and nothing lost; (d) a reconnect storm of those clients;
//! (b) 10,000 mostly idle clients / 1,000 rooms at 1,000 updates/s, with memory per idle
//! connection measured at 5,000; (c) opening a 10,000-post room.

mod disk;
mod load;
mod procfs;
mod report;
mod servers;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use load::{ClientSpec, Cmd, Shared, Target};
use servers::{Renraku, Seeded, YSweet, YWebsocket};
use stats::{Check, Delivery, Percentiles, Sent};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

#[derive(Parser, Debug, Clone)]
#[command(about = "Renraku's sync server measured side by side with y-websocket and y-sweet")]
pub struct Args {
    /// Small counts and short windows, for a smoke test (about a minute and a half).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, comma-separated: a (steady + sweep), b (10k clients), c (cold
    /// open), d (reconnect storm, runs with a).
    #[arg(long, default_value = "a,b,c,d", value_delimiter = ',')]
    only: Vec<String>,
    /// The rates of scenario a's sweep, comma-separated (updates/s), instead of the
    /// default steps: to measure one rate again without the whole sweep.
    #[arg(long, value_delimiter = ',')]
    sweep: Option<Vec<f64>>,
    /// Where to write the report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The `renraku` binary (default: `<cargo target dir>/release/renraku`).
    #[arg(long)]
    renraku_bin: Option<PathBuf>,
    /// The npm folder holding `@y/websocket-server` (default: `bench/node`).
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// The `y-sweet` 0.9.1 binary (default: `~/.cache/renraku/y-sweet-0.9.1/bin/y-sweet`,
    /// where `cargo xtask bench` installs it).
    #[arg(long)]
    ysweet_bin: Option<PathBuf>,
    /// Servers to measure, comma-separated: ws (Renraku /ws), yjs (Renraku /yjs),
    /// y-websocket, y-sweet.
    #[arg(
        long,
        default_value = "ws,yjs,y-websocket,y-sweet",
        value_delimiter = ','
    )]
    servers: Vec<String>,
}

/// Counts and durations of one run.
#[derive(Clone, Debug)]
pub struct Params {
    pub a_clients: u32,
    pub a_rooms: u32,
    pub a_rate: f64,
    pub a_secs: f64,
    pub sweep: Vec<f64>,
    pub sweep_secs: f64,
    pub drain_secs: f64,
    pub b_clients: u32,
    pub b_idle: u32,
    pub b_rooms: u32,
    pub b_rate: f64,
    pub b_secs: f64,
    pub big_posts: u32,
    pub opens: usize,
    /// Sockets that open the big room and stay open, for the memory each keeps.
    pub big_holders: usize,
    pub storm_first_max: Duration,
    pub late_ms: u64,
}

impl Params {
    fn new(quick: bool) -> Params {
        if quick {
            Params {
                a_clients: 100,
                a_rooms: 10,
                a_rate: 50.0,
                a_secs: 3.0,
                sweep: vec![200.0, 400.0],
                sweep_secs: 2.0,
                drain_secs: 3.0,
                b_clients: 400,
                b_idle: 200,
                b_rooms: 40,
                b_rate: 40.0,
                b_secs: 3.0,
                big_posts: 1_000,
                opens: 3,
                big_holders: 10,
                storm_first_max: Duration::from_millis(300),
                late_ms: 1_000,
            }
        } else {
            Params {
                a_clients: 1_000,
                a_rooms: 100,
                a_rate: 200.0,
                a_secs: 20.0,
                sweep: vec![250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0],
                sweep_secs: 8.0,
                drain_secs: 8.0,
                b_clients: 10_000,
                b_idle: 5_000,
                b_rooms: 1_000,
                b_rate: 1_000.0,
                b_secs: 20.0,
                big_posts: 10_000,
                opens: 7,
                big_holders: 500,
                storm_first_max: Duration::from_secs(1),
                late_ms: 1_000,
            }
        }
    }
}

/// One measured load window.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    pub clients: usize,
    pub rate: f64,
    pub window_secs: f64,
    pub sent: u64,
    pub not_sent: u64,
    pub check: Check,
    /// Renraku's `saved` acknowledgements, from the sender's clock.
    pub ack: Percentiles,
    pub disconnects: u64,
    pub refused: u64,
    pub server: procfs::Usage,
    pub generator: procfs::Usage,
}

impl LoadResult {
    pub fn updates_per_sec(&self) -> f64 {
        self.sent as f64 / self.window_secs
    }
    pub fn frames_per_sec(&self) -> f64 {
        self.check.delivered as f64 / self.window_secs
    }
    /// The server's CPU time (window and drain) per update sent, µs.
    pub fn cpu_us_per_update(&self) -> f64 {
        self.server.cpu_secs * 1e6 / self.sent.max(1) as f64
    }
    /// p99 < 50 ms, every post sent, every delivery exactly once.
    pub fn passes(&self) -> bool {
        self.check.latency.p99_ms < 50.0
            && self.check.exactly_once()
            && self.not_sent == 0
            && self.sent > 0
    }
}

#[derive(Clone, Debug, Default)]
pub struct Storm {
    pub clients: usize,
    pub resynced: usize,
    pub all_synced_secs: Option<f64>,
    pub failed_connects: u64,
    pub server: procfs::Usage,
}

#[derive(Clone, Debug, Default)]
pub struct Idle {
    pub clients: usize,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

impl Idle {
    pub fn per_conn_kib(&self) -> f64 {
        (self.rss_after_mib - self.rss_before_mib) * 1024.0 / self.clients.max(1) as f64
    }
}

#[derive(Clone, Debug, Default)]
pub struct Cold {
    pub posts: u32,
    pub step2_bytes: usize,
    /// Loaded room, fresh connection (connect + auth + open + step 2), median ms.
    pub loaded_fresh_ms: Option<f64>,
    /// Loaded room, open on an already open socket, median ms.
    pub loaded_socket_ms: Option<f64>,
    /// From storage after eviction, fresh connection, median ms.
    pub evicted_ms: Option<f64>,
    /// From storage, first open after a server restart, median ms.
    pub restart_ms: Option<f64>,
    /// Server memory each socket keeps once it has opened the room and sits idle, KiB.
    pub held_kib: Option<f64>,
}

impl Cold {
    /// What the "loaded" target is checked on: an open socket where there is one.
    pub fn loaded_ms(&self) -> Option<f64> {
        self.loaded_socket_ms.or(self.loaded_fresh_ms)
    }
}

/// Everything measured on one server.
#[derive(Clone, Debug, Default)]
pub struct ServerResults {
    pub a_connect_secs: Option<f64>,
    pub steady: Option<LoadResult>,
    pub sweep: Vec<LoadResult>,
    pub storm: Option<Storm>,
    pub b_connected: Option<(usize, f64)>,
    pub idle: Option<Idle>,
    pub big: Option<LoadResult>,
    pub cold: Option<Cold>,
    pub errors: Vec<String>,
    /// Renraku: warnings and errors it logged. y-sweet: messages it dropped (send queue full).
    pub log_problems: usize,
}

impl ServerResults {
    pub fn best_rate(&self) -> Option<f64> {
        self.sweep
            .iter()
            .filter(|r| r.passes())
            .map(|r| r.rate)
            .fold(None, |m, r| Some(m.map_or(r, |m: f64| m.max(r))))
    }

    /// Every load window run on this server.
    pub fn runs(&self) -> impl Iterator<Item = &LoadResult> {
        self.steady.iter().chain(&self.sweep).chain(&self.big)
    }
}

/// The server under test.
enum Server {
    /// Renraku, measured on `/yjs` when the flag is set.
    Renraku(Renraku, bool),
    Y(YWebsocket),
    Sweet(YSweet),
}

impl Server {
    fn pid(&self) -> u32 {
        match self {
            Server::Renraku(r, _) => r.pid(),
            Server::Y(y) => y.pid,
            Server::Sweet(y) => y.pid(),
        }
    }
    fn target(&self) -> Target {
        match self {
            Server::Renraku(r, false) => r.target(),
            Server::Renraku(r, true) => r.yjs_target(),
            Server::Y(y) => y.target(),
            Server::Sweet(y) => y.target(),
        }
    }
    async fn restart(&mut self) -> Result<()> {
        match self {
            Server::Renraku(r, _) => r.restart().await,
            Server::Sweet(y) => y.restart().await,
            Server::Y(_) => anyhow::bail!("y-websocket keeps nothing to restart from"),
        }
    }
    /// Stops the server; returns [`ServerResults::log_problems`].
    async fn stop(self) -> usize {
        match self {
            Server::Renraku(r, _) => {
                let n = r.log_problems();
                r.stop().await;
                n
            }
            Server::Y(y) => {
                y.stop().await;
                0
            }
            Server::Sweet(y) => {
                let n = y.dropped_messages();
                y.stop().await;
                n
            }
        }
    }
}

/// A server and endpoint measured: one column of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ws,
    Yjs,
    YWebsocket,
    YSweet,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Ws, Kind::Yjs, Kind::YWebsocket, Kind::YSweet];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ws => "Renraku /ws",
            Kind::Yjs => "Renraku /yjs",
            Kind::YWebsocket => "y-websocket",
            Kind::YSweet => "y-sweet",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Kind::Ws => "ws",
            Kind::Yjs => "yjs",
            Kind::YWebsocket => "y-websocket",
            Kind::YSweet => "y-sweet",
        }
    }

    fn renraku(self) -> bool {
        matches!(self, Kind::Ws | Kind::Yjs)
    }
}

/// Paths the run needs.
struct Env {
    bin: PathBuf,
    node_dir: PathBuf,
    ysweet_bin: PathBuf,
}

/// The others have no accounts: rooms are document names, anyone may join.
fn anonymous(clients: u32, rooms: u32, big: Option<u32>) -> Seeded {
    let cred = |user| servers::Cred {
        user,
        token: String::new(),
    };
    Seeded {
        rooms: (0..i64::from(rooms)).collect(),
        creds: (0..clients).map(|i| cred(i64::from(i) + 1)).collect(),
        big_room: big.map(|_| (999_999, cred(999_999))),
    }
}

/// Starts a fresh server with `clients` users over `rooms` rooms.
async fn start(
    env: &Env,
    kind: Kind,
    dir: &Path,
    clients: u32,
    rooms: u32,
    big: Option<u32>,
    extra: &[String],
) -> Result<(Server, Seeded)> {
    match kind {
        Kind::Ws | Kind::Yjs => {
            let seeded = servers::seed(&Renraku::database_url(dir), clients, rooms, big).await?;
            let r = Renraku::start(&env.bin, dir, extra).await?;
            Ok((Server::Renraku(r, kind == Kind::Yjs), seeded))
        }
        Kind::YWebsocket => {
            let y = YWebsocket::start(&env.node_dir).await?;
            Ok((Server::Y(y), anonymous(clients, rooms, big)))
        }
        Kind::YSweet => {
            let seeded = anonymous(clients, rooms, big);
            let y = YSweet::start(&env.ysweet_bin, &dir.join("store"), extra, false).await?;
            y.create_docs(&seeded.rooms).await?;
            Ok((Server::Sweet(y), seeded))
        }
    }
}

/// The load clients of one server.
struct Fleet {
    shared: Arc<Shared>,
    target: Arc<Target>,
    specs: Vec<ClientSpec>,
    clients: Vec<(mpsc::Sender<Cmd>, tokio::task::JoinHandle<()>)>,
}

impl Fleet {
    /// Client i is in room i % rooms; `total` is how many will exist in the end.
    fn new(target: Target, seeded: &Seeded, rooms: u32, total: u32) -> Fleet {
        let per_room = |r: u32| (0..total).filter(|i| i % rooms == r).count() as u32;
        let sizes: Vec<u32> = (0..rooms).map(per_room).collect();
        let specs = (0..total)
            .map(|i| {
                let room = i % rooms;
                ClientSpec {
                    idx: i,
                    room,
                    room_id: seeded.rooms[room as usize],
                    user: seeded.creds[i as usize].user,
                    token: seeded.creds[i as usize].token.clone(),
                    peers: sizes[room as usize] - 1,
                }
            })
            .collect();
        Fleet {
            shared: Shared::new(128),
            target: Arc::new(target),
            specs,
            clients: Vec::new(),
        }
    }

    /// Starts clients up to `n` and waits until they are synced (or the time is up).
    async fn grow(&mut self, n: usize, limit: Duration) -> (usize, f64) {
        let t0 = Instant::now();
        while self.clients.len() < n.min(self.specs.len()) {
            let spec = self.specs[self.clients.len()].clone();
            self.clients.push(load::spawn_client(
                spec,
                self.target.clone(),
                self.shared.clone(),
            ));
        }
        let reached = self.wait_synced(n, t0 + limit).await;
        (reached, t0.elapsed().as_secs_f64())
    }

    async fn wait_synced(&self, n: usize, until: Instant) -> usize {
        loop {
            let s = self.shared.synced.load(Ordering::Relaxed);
            if s >= n || Instant::now() >= until {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn collect(&self) -> (Vec<Sent>, Vec<Delivery>, Vec<u64>, Vec<u64>) {
        let mut waits = Vec::with_capacity(self.clients.len());
        for (tx, _) in &self.clients {
            let (otx, orx) = oneshot::channel();
            if tx.send(Cmd::Collect(otx)).await.is_ok() {
                waits.push(orx);
            }
        }
        let (mut sent, mut del, mut acks, mut synced) = (vec![], vec![], vec![], vec![]);
        for w in waits {
            if let Ok(Ok(log)) = tokio::time::timeout(Duration::from_secs(30), w).await {
                sent.extend(log.sent);
                del.extend(log.deliveries);
                acks.extend(log.acks_ns);
                synced.push(log.synced_at_ns);
            }
        }
        (sent, del, acks, synced)
    }

    fn members(&self) -> HashMap<u32, Vec<u32>> {
        let mut m: HashMap<u32, Vec<u32>> = HashMap::new();
        for s in &self.specs[..self.clients.len()] {
            m.entry(s.room).or_default().push(s.idx);
        }
        m
    }

    /// Senders: the first client of each room.
    fn senders(&self, rooms: u32) -> Vec<usize> {
        (0..rooms as usize)
            .filter(|&i| i < self.clients.len())
            .collect()
    }

    /// One measured window at `rate` updates/s, then a drain until every owed delivery has
    /// arrived or `drain` has passed.
    #[allow(clippy::too_many_arguments)]
    async fn run_load(
        &self,
        server_pid: u32,
        senders: &[usize],
        seqs: &mut [u32],
        rate: f64,
        secs: f64,
        drain: f64,
        late_ms: u64,
    ) -> LoadResult {
        let sh = &self.shared;
        sh.phase.fetch_add(1, Ordering::Relaxed);
        let _ = self.collect().await; // forget what came before
        for c in [
            &sh.delivered,
            &sh.expected,
            &sh.not_sent,
            &sh.disconnects,
            &sh.refused,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        let server_meter = procfs::Meter::start(server_pid);
        let self_meter = procfs::Meter::start(std::process::id());
        let t0 = Instant::now();
        let window = Duration::from_secs_f64(secs);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u64 = 0;
        let mut generator_backlog = 0u64;
        while t0.elapsed() < window {
            tick.tick().await;
            let due = (t0.elapsed().min(window).as_secs_f64() * rate) as u64;
            while n < due {
                let s = senders[(n % senders.len() as u64) as usize];
                seqs[s] += 1;
                if self.clients[s]
                    .0
                    .try_send(Cmd::Post { seq: seqs[s] })
                    .is_err()
                {
                    generator_backlog += 1;
                }
                n += 1;
            }
        }
        let window_secs = t0.elapsed().as_secs_f64();
        // Until every owed delivery is in. Past `drain`, only while deliveries still come in
        // (a client the server disconnected is back within its backoff, at most 5 s, and
        // resyncs), and a minute at most: what has not arrived then is lost.
        let drain_start = Instant::now();
        let drain = Duration::from_secs_f64(drain);
        let (stall, cap) = (Duration::from_secs(6), drain.max(Duration::from_secs(60)));
        let mut progress = (0, Instant::now());
        // Posts still queued in client tasks count towards `expected` when they go out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        loop {
            let delivered = sh.delivered.load(Ordering::Relaxed);
            if delivered >= sh.expected.load(Ordering::Relaxed) {
                break;
            }
            if delivered != progress.0 {
                progress = (delivered, Instant::now());
            }
            let waited = drain_start.elapsed();
            if waited >= cap || (waited >= drain && progress.1.elapsed() >= stall) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let server = server_meter.finish();
        let generator = self_meter.finish();
        let (sent, deliveries, acks, _) = self.collect().await;
        let check = stats::check(&sent, &deliveries, &self.members(), late_ms * 1_000_000);
        LoadResult {
            clients: self.clients.len(),
            rate,
            window_secs,
            sent: sent.len() as u64,
            not_sent: sh.not_sent.load(Ordering::Relaxed) + generator_backlog,
            check,
            ack: stats::percentiles(acks),
            disconnects: sh.disconnects.load(Ordering::Relaxed),
            refused: sh.refused.load(Ordering::Relaxed),
            server,
            generator,
        }
    }

    /// Drops every connection at once; they come back with backoff and jitter.
    async fn storm(&self, server_pid: u32, first_max: Duration, limit: Duration) -> Storm {
        let sh = &self.shared;
        let n = self.clients.len();
        sh.failed_connects.store(0, Ordering::Relaxed);
        let meter = procfs::Meter::start(server_pid);
        let t_drop = sh.now_ns();
        let t0 = Instant::now();
        for (tx, _) in &self.clients {
            let _ = tx
                .send(Cmd::Drop {
                    first_delay_max: first_max,
                })
                .await;
        }
        // Every client gets a fresh sync after the drop: wait for all of them.
        let until = t0 + limit;
        let mut resynced = 0;
        loop {
            let (_, _, _, synced_at) = self.collect().await;
            let fresh = synced_at.iter().filter(|&&t| t > t_drop).count();
            resynced = resynced.max(fresh);
            if (fresh >= n && sh.synced.load(Ordering::Relaxed) >= n) || Instant::now() >= until {
                let last = synced_at.iter().copied().max().unwrap_or(t_drop);
                let server = meter.finish();
                return Storm {
                    clients: n,
                    resynced,
                    all_synced_secs: (fresh >= n).then(|| last.saturating_sub(t_drop) as f64 / 1e9),
                    failed_connects: sh.failed_connects.load(Ordering::Relaxed),
                    server,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for (tx, _) in &self.clients {
            let _ = tx.try_send(Cmd::Stop);
        }
        for (_, join) in self.clients {
            if tokio::time::timeout(Duration::from_secs(2), join)
                .await
                .is_err()
            {
                // A client stuck on a dead socket: its task is dropped with the runtime.
            }
        }
    }
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// Scenario (a), then (d) on the same clients, then the sweep.
async fn suite_a(
    env: &Env,
    kind: Kind,
    p: &Params,
    run_d: bool,
    res: &mut ServerResults,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, seeded) = start(env, kind, dir.path(), p.a_clients, p.a_rooms, None, &[]).await?;
    let mut fleet = Fleet::new(server.target(), &seeded, p.a_rooms, p.a_clients);
    let (reached, secs) = fleet
        .grow(p.a_clients as usize, Duration::from_secs(120))
        .await;
    log(format!(
        "{kind:?} (a): {reached} clients synced in {secs:.1} s"
    ));
    res.a_connect_secs = Some(secs);
    let senders = fleet.senders(p.a_rooms);
    let mut seqs = vec![0u32; fleet.clients.len()];
    let pid = server.pid();
    let steady = fleet
        .run_load(
            pid,
            &senders,
            &mut seqs,
            p.a_rate,
            p.a_secs,
            p.drain_secs,
            p.late_ms,
        )
        .await;
    log(format!(
        "{kind:?} (a) steady {}/s: p99 {:.2} ms, missing {}",
        p.a_rate, steady.check.latency.p99_ms, steady.check.missing
    ));
    res.steady = Some(steady);
    if run_d {
        let storm = fleet
            .storm(
                pid,
                p.storm_first_max,
                Duration::from_secs(if p.a_clients > 100 { 120 } else { 30 }),
            )
            .await;
        log(format!(
            "{kind:?} (d) storm: {} of {} resynced, all in {:?} s",
            storm.resynced, storm.clients, storm.all_synced_secs
        ));
        res.storm = Some(storm);
    }
    for &rate in &p.sweep {
        let r = fleet
            .run_load(
                pid,
                &senders,
                &mut seqs,
                rate,
                p.sweep_secs,
                p.drain_secs,
                p.late_ms,
            )
            .await;
        log(format!(
            "{kind:?} sweep {rate}/s: sent {:.0}/s p99 {:.1} ms missing {} dup {} disc {} → {}",
            r.updates_per_sec(),
            r.check.latency.p99_ms,
            r.check.missing,
            r.check.duplicates,
            r.disconnects,
            if r.passes() { "pass" } else { "FAIL" }
        ));
        let failed = !r.passes();
        res.sweep.push(r);
        if failed {
            break;
        }
        // Let a server that fell behind catch up before the next step.
        fleet
            .wait_synced(
                fleet.clients.len(),
                Instant::now() + Duration::from_secs(30),
            )
            .await;
    }
    fleet.stop().await;
    res.log_problems += server.stop().await;
    Ok(())
}

/// Scenario (b): memory per idle connection at `b_idle`, then all clients under load.
async fn suite_b(env: &Env, kind: Kind, p: &Params, res: &mut ServerResults) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, seeded) = start(env, kind, dir.path(), p.b_clients, p.b_rooms, None, &[]).await?;
    let pid = server.pid();
    let mut fleet = Fleet::new(server.target(), &seeded, p.b_rooms, p.b_clients);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = procfs::rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    let split_before = procfs::rss_split_kib(pid).unwrap_or_default();
    let (idle_reached, secs) = fleet
        .grow(p.b_idle as usize, Duration::from_secs(180))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procfs::rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    let split_after = procfs::rss_split_kib(pid).unwrap_or_default();
    log(format!(
        "{kind:?} (b) {idle_reached} idle in {secs:.1} s: RSS {before:.1} → {after:.1} MiB \
         (anonymous {} → {} KiB, file-backed {} → {} KiB)",
        split_before.0, split_after.0, split_before.1, split_after.1
    ));
    res.idle = Some(Idle {
        clients: idle_reached,
        rss_before_mib: before,
        rss_after_mib: after,
    });
    let (reached, secs2) = fleet
        .grow(p.b_clients as usize, Duration::from_secs(240))
        .await;
    log(format!(
        "{kind:?} (b) {reached} clients synced (+{secs2:.1} s)"
    ));
    res.b_connected = Some((reached, secs + secs2));
    let senders = fleet.senders(p.b_rooms);
    let mut seqs = vec![0u32; fleet.clients.len()];
    let r = fleet
        .run_load(
            pid,
            &senders,
            &mut seqs,
            p.b_rate,
            p.b_secs,
            p.drain_secs,
            p.late_ms,
        )
        .await;
    log(format!(
        "{kind:?} (b) {}/s: p99 {:.1} ms missing {}",
        p.b_rate, r.check.latency.p99_ms, r.check.missing
    ));
    res.big = Some(r);
    fleet.stop().await;
    res.log_problems += server.stop().await;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Scenario (c): opening a room of `big_posts` posts: loaded (a member holds it open), and
/// from storage where the server stores (after eviction, and first after a restart).
async fn suite_c(env: &Env, kind: Kind, p: &Params, res: &mut ServerResults) -> Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let dir = tempfile::tempdir()?;
    let mut cold = Cold {
        posts: p.big_posts,
        ..Cold::default()
    };
    let (mut server, room, token) = match kind {
        Kind::Ws | Kind::Yjs => {
            // One seeded member holds every socket of the memory row: the per-user cap raised.
            let evict = [
                "--room-evict-ms".to_owned(),
                "300".to_owned(),
                "--ws-connections-per-user".to_owned(),
                (p.big_holders + 8).to_string(),
            ];
            let (server, seeded) =
                start(env, kind, dir.path(), 0, 1, Some(p.big_posts), &evict).await?;
            let (room, cred) = seeded.big_room.clone().expect("seeded big room");
            let token = if kind == Kind::Yjs {
                // Minted once and reused, as y-websocket reconnects with the same URL.
                load::mint_room_token(&server.target(), &cred.token, room).await?
            } else {
                cred.token
            };
            (server, room, token)
        }
        Kind::YWebsocket => {
            let (server, seeded) =
                start(env, kind, dir.path(), 0, 1, Some(p.big_posts), &[]).await?;
            let (room, cred) = seeded.big_room.clone().expect("big room");
            // y-websocket keeps nothing: a holder puts the posts in and stays connected.
            let state = servers::big_room_state(p.big_posts, cred.user, 900_000_001);
            let mut holder = load::connect(&server.target(), "", room).await?;
            let update = renraku_sync::yrs::sync::Message::Sync(
                renraku_sync::yrs::sync::SyncMessage::Update(state),
            );
            use renraku_sync::yrs::updates::encoder::Encode;
            holder
                .send(WsMessage::Binary(update.encode_v1().into()))
                .await?;
            keep_reading(holder);
            (server, room, String::new())
        }
        Kind::YSweet => {
            // The room is written into the store first (as Renraku's is seeded into its
            // database); a 1 s checkpoint lets y-sweet unload it 2–3 s after its last socket.
            let room = 999_999;
            let store = dir.path().join("store");
            let state = servers::big_room_state(p.big_posts, 999_999, 900_000_001);
            YSweet::store_doc(&env.ysweet_bin, &store, room, &state).await?;
            let extra = ["--checkpoint-freq-seconds".to_owned(), "1".to_owned()];
            let y = YSweet::start(&env.ysweet_bin, &store, &extra, true).await?;
            (Server::Sweet(y), room, String::new())
        }
    };
    if kind != Kind::YWebsocket {
        let mut restart = Vec::new();
        for i in 0..p.opens.min(3) {
            if i > 0 || kind != Kind::YSweet {
                server.restart().await?;
            }
            let (d, _) = load::time_open(&server.target(), &token, room, None).await?;
            restart.push(ms(d));
        }
        cold.restart_ms = Some(stats::median(restart));
        let mut evicted = Vec::new();
        for _ in 0..p.opens {
            if let Server::Sweet(y) = &server {
                y.wait_unloaded(Duration::from_secs(15)).await?;
            } else {
                tokio::time::sleep(Duration::from_millis(1_000)).await;
            }
            let (d, bytes) = load::time_open(&server.target(), &token, room, None).await?;
            cold.step2_bytes = bytes;
            evicted.push(ms(d));
        }
        cold.evicted_ms = Some(stats::median(evicted));
        // Loaded: one member holds the room open while others open it.
        let mut holder = load::connect(&server.target(), &token, room).await?;
        let frames = if kind == Kind::Ws {
            load::renraku_open_frames(room, load::empty_step1(), true)
        } else {
            vec![load::empty_step1()]
        };
        for f in frames {
            holder.send(WsMessage::Binary(f.into())).await?;
        }
        keep_reading(holder);
    }
    let target = server.target();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One unmeasured open: the room is loaded by now either way.
    load::time_open(&target, &token, room, None).await?;
    let mut fresh = Vec::new();
    for _ in 0..p.opens {
        let (d, bytes) = load::time_open(&target, &token, room, None).await?;
        cold.step2_bytes = bytes;
        fresh.push(ms(d));
    }
    cold.loaded_fresh_ms = Some(stats::median(fresh));
    if kind == Kind::Ws {
        let mut ws = load::connect(&target, &token, room).await?;
        let hello = renraku_sync::Frame::Hello {
            version: renraku_sync::frame::PROTOCOL_VERSION,
        };
        ws.send(WsMessage::Binary(hello.encode().into())).await?;
        let mut on_socket = Vec::new();
        for _ in 0..p.opens {
            let (d, _) = load::time_open(&target, &token, room, Some(&mut ws)).await?;
            on_socket.push(ms(d));
        }
        cold.loaded_socket_ms = Some(stats::median(on_socket));
    }
    // What a socket keeps once it has opened the room: sockets open it, each reads the sync
    // step 2 whole, and all then sit idle (still reading, as a phone's app does).
    // Many sockets, and a wait first: what the opens above left is freed meanwhile and
    // would otherwise be counted against the sockets.
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = procfs::rss_kib(pid).unwrap_or(0) as f64;
    for _ in 0..p.big_holders {
        keep_reading(load::open_held(&target, &token, room).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procfs::rss_kib(pid).unwrap_or(0) as f64;
    cold.held_kib = Some((after - before) / p.big_holders.max(1) as f64);
    log(format!("{kind:?} (c): {cold:?}"));
    res.cold = Some(cold);
    res.log_problems += server.stop().await;
    Ok(())
}

/// Keeps a socket alive (answering pings) until the server goes away.
fn keep_reading(mut ws: load::Ws) {
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = ws.next().await {}
    });
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is in the workspace")
        .to_owned()
}

/// `<target dir>/release/renraku`, the target dir as cargo reports it.
fn default_bin(root: &Path) -> PathBuf {
    let target = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["target_directory"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| root.join("target"));
    target.join("release").join("renraku")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let root = workspace_root();
    let env = Env {
        bin: args
            .renraku_bin
            .clone()
            .unwrap_or_else(|| default_bin(&root)),
        node_dir: args
            .node_dir
            .clone()
            .unwrap_or_else(|| root.join("bench/node")),
        ysweet_bin: args.ysweet_bin.clone().unwrap_or_else(default_ysweet_bin),
    };
    anyhow::ensure!(
        env.bin.exists(),
        "{} is missing: `cargo build --release -p renraku-server` (cargo xtask bench does)",
        env.bin.display()
    );
    let nofile = procfs::raise_nofile_limit();
    let mut p = Params::new(args.quick);
    if let Some(sweep) = &args.sweep {
        p.sweep.clone_from(sweep);
    }
    let want = |s: &str| args.only.iter().any(|o| o == s);
    log(format!("open-files limit {nofile}; params {p:?}"));
    let started = Instant::now();
    let (build_us, read_us) = load::self_cost(5_000);
    // Before any server starts, on the quiet machine, where `start` puts their data.
    let sync_count = (p.a_rate * if args.quick { 1.0 } else { 5.0 }) as usize;
    let disk_sync = disk::probe(&std::env::temp_dir(), p.a_rate, sync_count)
        .map_err(|e| log(format!("the disk's sync latency not measured: {e}")))
        .ok();
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| args.servers.iter().any(|s| s == k.arg()))
        .collect();
    let mut results: Vec<(Kind, ServerResults)> = kinds
        .iter()
        .map(|&k| (k, ServerResults::default()))
        .collect();
    for (kind, res) in results.iter_mut() {
        let kind = *kind;
        if want("a") || want("d") {
            if let Err(e) = suite_a(&env, kind, &p, want("d"), res).await {
                log(format!("{kind:?} (a): {e:#}"));
                res.errors.push(format!("scenario a: {e:#}"));
            }
        }
    }
    for (kind, res) in results.iter_mut() {
        let kind = *kind;
        if want("b") {
            if let Err(e) = suite_b(&env, kind, &p, res).await {
                log(format!("{kind:?} (b): {e:#}"));
                res.errors.push(format!("scenario b: {e:#}"));
            }
        }
        if want("c") {
            if let Err(e) = suite_c(&env, kind, &p, res).await {
                log(format!("{kind:?} (c): {e:#}"));
                res.errors.push(format!("scenario c: {e:#}"));
            }
        }
    }
    let meta = report::Meta {
        machine: procfs::machine(),
        commit: git_commit(&root),
        quick: args.quick,
        nofile,
        elapsed_secs: started.elapsed().as_secs_f64(),
        build_us,
        read_us,
        disk_sync,
        ysweet_version: kinds
            .contains(&Kind::YSweet)
            .then(|| tool_version(&env.ysweet_bin, "version"))
            .flatten(),
    };
    let text = report::render(&meta, &p, &results);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("BENCHMARKS.md"));
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!("{text}");
    log(format!(
        "wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Where `cargo xtask bench` installs y-sweet (`cargo install --root`).
fn default_ysweet_bin() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("renraku/y-sweet-0.9.1/bin/y-sweet")
}

/// What `BIN ARG` prints, trimmed.
fn tool_version(bin: &Path, arg: &str) -> Option<String> {
    std::process::Command::new(bin)
        .arg(arg)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn git_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Method notes printed under every report.
pub fn report_notes() -> Vec<&'static str> {
    vec![
        "Every server gets the same clients, posts and checks; they run one after the other, never at the same time, each on a fresh data directory. Renraku is measured twice: on `/ws` (its own frames, through the protocol's `ClientSession` as the app uses it) and on `/yjs/{room}` (plain y-protocols, one room per socket, as a y-websocket client would use it), each time on a fresh server.",
        "A client the server disconnects (for being slow, say) reconnects after a capped, jittered backoff and resyncs its room; the posts it missed are read from the server's sync step 2 and count as delivered late (\"through a resync\"), with their latency. \"Lost\" counts only what never arrived: the drain after each window waits until every owed delivery is in, or, past its set time, until none has come in for 6 s (a minute at most). A step passes only with nothing lost, nothing duplicated or misdelivered, every post sent (a client offline at its turn cannot send) and p99 < 50 ms.",
        "Receivers read the marker `#B<phase>:<sender>:<seq>:<ns>;` from the post text in the raw update bytes (every marker, for a sync step 2) instead of applying each update to a replica, to keep the generator cheap; the marker is checked against real `RoomDoc` updates and states in the unit tests, and every delivery is checked exactly once against the room's membership.",
        "y-websocket and y-sweet echo each update to its sender as well; the echo is ignored. Only Renraku's `/ws` acknowledges (`saved`). Renraku commits every batch to SQLite (fsync) before it acknowledges or broadcasts, on both endpoints; y-websocket keeps everything in memory and saves nothing; y-sweet broadcasts at once and writes a changed document to its data directory (no fsync) every checkpoint, 10 s by default (the bench runs it with its defaults and no auth key, except a 1 s checkpoint in (c) so that a document is unloaded 2–3 s after its last socket closes).",
        "y-sweet's documents are created through its HTTP API (`POST /doc/new`) before the clients connect, as an application's backend would; clients connect to the URL its `/doc/<id>/auth` returns plus the document id, as y-websocket's provider does. y-sweet queues at most 1,024 messages per connection and drops (with a warning) what does not fit, keeping the connection: the count is in the notes when it happened.",
        "Renraku's users, rooms, memberships and sessions are written straight into its database before it starts (no argon2 sign-ins); `/yjs` clients mint their room token over HTTP (`POST /api/rooms/<id>/token`) before they first connect, and reuse it on reconnects while it is valid, so connecting includes one HTTP request and one durable write each. Every Renraku room open writes an audit row.",
        "Server CPU and memory come from /proc/<pid>/stat and /proc/<pid>/status of the server process (the node process under npx for y-websocket), sampled every 50 ms for peaks. CPU per update is the server's CPU time over the window and its drain, divided by the updates sent.",
    ]
}
