//! `cargo xtask bench`: Renraku's sync server and the reference y-websocket server under the
//! same load, from the same tool, in the same run; results written to `BENCHMARKS.md`.
//!
//! Scenarios: (a) 1,000 clients / 100 rooms at 200 updates/s, then a rate sweep for the
//! highest rate with p99 < 50 ms and nothing lost; (d) a reconnect storm of those clients;
//! (b) 10,000 mostly idle clients / 1,000 rooms at 1,000 updates/s, with memory per idle
//! connection measured at 5,000; (c) opening a 10,000-post room.

mod load;
mod procfs;
mod report;
mod servers;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use load::{ClientSpec, Cmd, Shared, Target};
use servers::{Renraku, Seeded, YWebsocket};
use stats::{Check, Delivery, Percentiles, Sent};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

#[derive(Parser, Debug, Clone)]
#[command(about = "Renraku's sync server measured side by side with y-websocket")]
pub struct Args {
    /// Small counts and short windows, for a smoke test (about a minute).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, comma-separated: a (steady + sweep), b (10k clients), c (cold
    /// open), d (reconnect storm, runs with a).
    #[arg(long, default_value = "a,b,c,d", value_delimiter = ',')]
    only: Vec<String>,
    /// Where to write the report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The `renraku` binary (default: `<cargo target dir>/release/renraku`).
    #[arg(long)]
    renraku_bin: Option<PathBuf>,
    /// The npm folder holding `@y/websocket-server` (default: `bench/node`).
    #[arg(long)]
    node_dir: Option<PathBuf>,
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
                storm_first_max: Duration::from_millis(300),
                late_ms: 1_000,
            }
        } else {
            Params {
                a_clients: 1_000,
                a_rooms: 100,
                a_rate: 200.0,
                a_secs: 20.0,
                sweep: vec![250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0],
                sweep_secs: 8.0,
                drain_secs: 8.0,
                b_clients: 10_000,
                b_idle: 5_000,
                b_rooms: 1_000,
                b_rate: 1_000.0,
                b_secs: 20.0,
                big_posts: 10_000,
                opens: 7,
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
}

/// The server under test.
enum Server {
    Renraku(Renraku),
    Y(YWebsocket),
}

impl Server {
    fn pid(&self) -> u32 {
        match self {
            Server::Renraku(r) => r.pid(),
            Server::Y(y) => y.pid,
        }
    }
    fn target(&self) -> Target {
        match self {
            Server::Renraku(r) => r.target(),
            Server::Y(y) => y.target(),
        }
    }
    async fn stop(self) -> usize {
        match self {
            Server::Renraku(r) => {
                let n = r.log_problems();
                r.stop().await;
                n
            }
            Server::Y(y) => {
                y.stop().await;
                0
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Renraku,
    Y,
}

/// Paths the run needs.
struct Env {
    bin: PathBuf,
    node_dir: PathBuf,
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
        Kind::Renraku => {
            let seeded = servers::seed(&Renraku::database_url(dir), clients, rooms, big).await?;
            let r = Renraku::start(&env.bin, dir, extra).await?;
            Ok((Server::Renraku(r), seeded))
        }
        Kind::Y => {
            let y = YWebsocket::start(&env.node_dir).await?;
            // y-websocket has no accounts: rooms are names, anyone may join.
            let seeded = Seeded {
                rooms: (0..i64::from(rooms)).collect(),
                creds: (0..clients)
                    .map(|i| servers::Cred {
                        user: i64::from(i) + 1,
                        token: String::new(),
                    })
                    .collect(),
                big_room: big.map(|_| {
                    (
                        999_999,
                        servers::Cred {
                            user: 999_999,
                            token: String::new(),
                        },
                    )
                }),
            };
            Ok((Server::Y(y), seeded))
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
        let drain_until = Instant::now() + Duration::from_secs_f64(drain);
        // Posts still queued in client tasks count towards `expected` when they go out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        while Instant::now() < drain_until
            && sh.delivered.load(Ordering::Relaxed) < sh.expected.load(Ordering::Relaxed)
        {
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
    let (idle_reached, secs) = fleet
        .grow(p.b_idle as usize, Duration::from_secs(180))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procfs::rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    log(format!(
        "{kind:?} (b) {idle_reached} idle in {secs:.1} s: RSS {before:.1} → {after:.1} MiB"
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

/// Scenario (c): opening a room of `big_posts` posts.
async fn suite_c(env: &Env, kind: Kind, p: &Params, res: &mut ServerResults) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let evict = ["--room-evict-ms".to_owned(), "300".to_owned()];
    let (mut server, seeded) =
        start(env, kind, dir.path(), 0, 1, Some(p.big_posts), &evict).await?;
    let (room, cred) = seeded.big_room.clone().expect("seeded big room");
    let mut cold = Cold {
        posts: p.big_posts,
        ..Cold::default()
    };
    let target = server.target();
    if kind == Kind::Renraku {
        // From storage: the room is evicted between opens.
        let mut evicted = Vec::new();
        for _ in 0..p.opens {
            let (d, bytes) = load::time_open(&target, &cred.token, room, None).await?;
            cold.step2_bytes = bytes;
            evicted.push(ms(d));
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
        cold.evicted_ms = Some(stats::median(evicted));
        let mut restart = Vec::new();
        for _ in 0..p.opens.min(3) {
            if let Server::Renraku(r) = &mut server {
                r.restart().await?;
            }
            let (d, _) = load::time_open(&server.target(), &cred.token, room, None).await?;
            restart.push(ms(d));
        }
        cold.restart_ms = Some(stats::median(restart));
    } else {
        // y-websocket keeps nothing: a holder puts the posts in and stays connected.
        let state = servers::big_room_state(p.big_posts, cred.user, 900_000_001);
        let mut holder = load::connect(&target, "", room).await?;
        let update = renraku_sync::yrs::sync::Message::Sync(
            renraku_sync::yrs::sync::SyncMessage::Update(state),
        );
        use futures_util::SinkExt;
        use renraku_sync::yrs::updates::encoder::Encode;
        holder
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                update.encode_v1().into(),
            ))
            .await?;
        keep_reading(holder);
    }
    let target = server.target();
    if kind == Kind::Renraku {
        // Loaded: one member holds the room open while others open it.
        let mut holder = load::connect(&target, &cred.token, room).await?;
        use futures_util::SinkExt;
        for f in load::renraku_open_frames(room, load::empty_step1(), true) {
            holder
                .send(tokio_tungstenite::tungstenite::Message::Binary(f.into()))
                .await?;
        }
        keep_reading(holder);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One unmeasured open: the room is loaded by now either way.
    load::time_open(&target, &cred.token, room, None).await?;
    let mut fresh = Vec::new();
    for _ in 0..p.opens {
        let (d, bytes) = load::time_open(&target, &cred.token, room, None).await?;
        cold.step2_bytes = bytes;
        fresh.push(ms(d));
    }
    cold.loaded_fresh_ms = Some(stats::median(fresh));
    if kind == Kind::Renraku {
        let mut ws = load::connect(&target, &cred.token, room).await?;
        {
            use futures_util::SinkExt;
            let hello = renraku_sync::Frame::Hello {
                version: renraku_sync::frame::PROTOCOL_VERSION,
            };
            ws.send(tokio_tungstenite::tungstenite::Message::Binary(
                hello.encode().into(),
            ))
            .await?;
        }
        let mut on_socket = Vec::new();
        for _ in 0..p.opens {
            let (d, _) = load::time_open(&target, &cred.token, room, Some(&mut ws)).await?;
            on_socket.push(ms(d));
        }
        cold.loaded_socket_ms = Some(stats::median(on_socket));
    }
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
    };
    anyhow::ensure!(
        env.bin.exists(),
        "{} is missing: `cargo build --release -p renraku-server` (cargo xtask bench does)",
        env.bin.display()
    );
    let nofile = procfs::raise_nofile_limit();
    let p = Params::new(args.quick);
    let want = |s: &str| args.only.iter().any(|o| o == s);
    log(format!("open-files limit {nofile}; params {p:?}"));
    let started = Instant::now();
    let (build_us, read_us) = load::self_cost(5_000);
    let mut results = [ServerResults::default(), ServerResults::default()];
    for (kind, res) in [Kind::Renraku, Kind::Y].into_iter().zip(results.iter_mut()) {
        if want("a") || want("d") {
            if let Err(e) = suite_a(&env, kind, &p, want("d"), res).await {
                log(format!("{kind:?} (a): {e:#}"));
                res.errors.push(format!("scenario a: {e:#}"));
            }
        }
    }
    for (kind, res) in [Kind::Renraku, Kind::Y].into_iter().zip(results.iter_mut()) {
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
    let [renraku, yws] = results;
    let meta = report::Meta {
        machine: procfs::machine(),
        commit: git_commit(&root),
        quick: args.quick,
        nofile,
        elapsed_secs: started.elapsed().as_secs_f64(),
        build_us,
        read_us,
    };
    let text = report::render(&meta, &p, &renraku, &yws);
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
        "Both servers get the same clients, posts and checks; they run one after the other, never at the same time, each on a fresh data directory.",
        "\"Lost\" counts every owed delivery that had not arrived when the drain ended (all owed deliveries in, or the drain time up): a client the server disconnected for being slow counts its missed posts as lost, even though Renraku's client would resync them on reconnect. A step passes only with nothing lost, nothing duplicated or misdelivered and p99 < 50 ms.",
        "Receivers read the marker `#B<phase>:<sender>:<seq>:<ns>;` from the post text in the raw update bytes instead of applying each update to a replica, to keep the generator cheap; the marker is checked against real `RoomDoc` updates in the unit tests, and every delivery is checked exactly once against the room's membership.",
        "y-websocket echoes each update to its sender as well; the echo is ignored. It sends no acknowledgement, so only Renraku has a `saved` row. Renraku commits every batch to SQLite (fsync) before it acknowledges or broadcasts; y-websocket keeps everything in memory and saves nothing.",
        "Renraku's users, rooms, memberships and sessions are written straight into its database before it starts (no argon2 sign-ins). Every Renraku room open writes an audit row, so connecting many clients costs one durable write each.",
        "Server CPU and memory come from /proc/<pid>/stat and /proc/<pid>/status of the server process (the node process under npx for y-websocket), sampled every 50 ms for peaks.",
    ]
}
