//! `renraku-nodes-bench` (`cargo xtask bench-nodes`): the same steady load as scenario (a) of
//! `cargo xtask bench` — clients over rooms, a post per room at a fixed total rate, every
//! delivery checked exactly once — against 1, 2 and 3 Renraku nodes on one PostgreSQL
//! database joined by NATS (issue 19). Member k of room r connects to node (k + r) % n, so
//! every room's members and the senders are spread over the nodes; deliveries are split into those on the sender's node and
//! those that crossed to another (the hop through PostgreSQL's commit and NATS). CPU is
//! reported per node. Written into BENCHMARKS.md between `<!-- nodes:start -->` and
//! `<!-- nodes:end -->`.
//!
//! ```sh
//! cargo run --release -p renraku-bench --bin renraku-nodes-bench -- [--clients N] [--rooms N] [--rate R] [--secs S]
//! ```

#[allow(dead_code)]
#[path = "../load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../procfs.rs"]
mod procfs;
#[allow(dead_code)]
#[path = "../servers.rs"]
mod servers;
#[allow(dead_code)]
#[path = "../stats.rs"]
mod stats;

use anyhow::{bail, Context, Result};
use clap::Parser;
use load::{ClientSpec, Cmd, Shared, Target};
use servers::Renraku;
use sqlx::{Connection, Executor, PgConnection};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000)]
    clients: u32,
    #[arg(long, default_value_t = 100)]
    rooms: u32,
    /// Posts per second, over all rooms.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Length of the measured window.
    #[arg(long, default_value_t = 20.0)]
    secs: f64,
    /// Node counts to measure.
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    nodes: Vec<usize>,
    /// PostgreSQL server (trust authentication); a database is made for each run.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The `renraku` binary (default: `<cargo target dir>/release/renraku`).
    #[arg(long)]
    renraku_bin: Option<PathBuf>,
    /// Where to write the section (default: BENCHMARKS.md at the repository root).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One run on `nodes` nodes.
struct Run {
    nodes: usize,
    synced: usize,
    connect_secs: f64,
    sent: usize,
    check: stats::Check,
    same_node: stats::Percentiles,
    other_node: stats::Percentiles,
    acks: stats::Percentiles,
    cpu: Vec<f64>,
    pg_cpu: f64,
    disconnects: u64,
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[nodes-bench] {}", msg.as_ref());
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    procfs::raise_nofile_limit();
    let bin = match &args.renraku_bin {
        Some(b) => b.clone(),
        None => {
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| repo_root().join("target"));
            target.join("release").join("renraku")
        }
    };
    if !bin.exists() {
        bail!(
            "{} is missing: cargo xtask bench-nodes builds it",
            bin.display()
        );
    }
    let mut runs = Vec::new();
    for &n in &args.nodes {
        runs.push(run(&args, &bin, n).await?);
    }
    let section = report(&args, &runs);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| repo_root().join("BENCHMARKS.md"));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, replace_section(&text, &section))?;
    println!("{section}");
    Ok(())
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_owned()
}

/// A fresh database on the PostgreSQL server, dropped by the caller.
async fn create_database(admin: &str) -> Result<(String, String)> {
    let name = format!("renraku_bench_{:08x}", rand::random::<u32>());
    let mut conn = PgConnection::connect(admin)
        .await
        .with_context(|| format!("PostgreSQL at {admin}"))?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    conn.close().await?;
    let (server, _) = admin
        .rsplit_once('/')
        .context("the PostgreSQL URL names a database")?;
    Ok((name.clone(), format!("{server}/{name}")))
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = PgConnection::connect(admin).await {
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
        let _ = conn.close().await;
    }
}

/// PostgreSQL's own processes (the postmaster's children serve the nodes' connections).
fn postgres_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .collect()
}

fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| procfs::cpu_seconds(*p)).sum()
}

async fn run(args: &Args, bin: &std::path::Path, n: usize) -> Result<Run> {
    let (db_name, db_url) = create_database(&args.pg).await?;
    let result = run_on(args, bin, n, &db_url).await;
    drop_database(&args.pg, &db_name).await;
    result
}

async fn run_on(args: &Args, bin: &std::path::Path, n: usize, db_url: &str) -> Result<Run> {
    let seeded = servers::seed(db_url, args.clients, args.rooms, None).await?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("secret.key");
    let prefix = format!("bench{:08x}", rand::random::<u32>());
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let data = dir.path().join(format!("node{i}"));
        std::fs::create_dir_all(&data)?;
        let extra: Vec<String> = [
            "--database-url",
            db_url,
            "--secret-key-file",
            key.to_str().context("temp path")?,
            "--nats-url",
            &args.nats,
            "--nats-prefix",
            &prefix,
            "--ws-message-burst",
            "100000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        nodes.push(Renraku::start(bin, &data, &extra).await?);
    }
    let targets: Vec<Arc<Target>> = nodes.iter().map(|r| Arc::new(r.target())).collect();
    // Member k of room r on node (k + r) mod n: every room has members on every node, and
    // the senders (member 0 of each room) are spread over the nodes too.
    let rooms = args.rooms;
    let node_of = move |idx: u32| ((idx / rooms + idx % rooms) as usize) % n;
    let sizes: Vec<u32> = (0..args.rooms)
        .map(|r| (0..args.clients).filter(|i| i % args.rooms == r).count() as u32)
        .collect();
    let shared = Shared::new(128);
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(args.clients as usize);
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    for i in 0..args.clients {
        let room = i % args.rooms;
        let spec = ClientSpec {
            idx: i,
            room,
            room_id: seeded.rooms[room as usize],
            user: seeded.creds[i as usize].user,
            token: seeded.creds[i as usize].token.clone(),
            peers: sizes[room as usize] - 1,
        };
        members.entry(room).or_default().push(i);
        clients.push(load::spawn_client(
            spec,
            targets[node_of(i)].clone(),
            shared.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.synced.load(Ordering::Relaxed) < clients.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let synced = shared.synced.load(Ordering::Relaxed);
    let connect_secs = t0.elapsed().as_secs_f64();
    log(format!(
        "{n} node(s): {synced} clients synced in {connect_secs:.1} s"
    ));
    let _ = collect(&clients).await; // what syncing brought
    shared.phase.fetch_add(1, Ordering::Relaxed);

    // The load: senders are the first client of each room, in turn.
    let senders: Vec<usize> = (0..args.rooms as usize).collect();
    let mut seqs = vec![0u32; clients.len()];
    let pids: Vec<u32> = nodes.iter().map(Renraku::pid).collect();
    let pg = postgres_pids();
    let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_of(&[*p])).collect();
    let pg_before = cpu_of(&pg);
    let start = Instant::now();
    let window = Duration::from_secs_f64(args.secs);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sent_n: u64 = 0;
    while start.elapsed() < window {
        tick.tick().await;
        let due = (start.elapsed().min(window).as_secs_f64() * args.rate) as u64;
        while sent_n < due {
            let s = senders[(sent_n % senders.len() as u64) as usize];
            seqs[s] += 1;
            let _ = clients[s].0.try_send(Cmd::Post { seq: seqs[s] });
            sent_n += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let drain_until = Instant::now() + Duration::from_secs(10);
    tokio::time::sleep(Duration::from_millis(50)).await;
    while Instant::now() < drain_until
        && shared.delivered.load(Ordering::Relaxed) < shared.expected.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = start.elapsed().as_secs_f64();
    let cpu: Vec<f64> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(p, before)| (cpu_of(&[*p]) - before) / busy * 100.0)
        .collect();
    let pg_cpu = (cpu_of(&pg) - pg_before) / busy * 100.0;
    let (sent, deliveries, acks) = collect(&clients).await;
    let check = stats::check(&sent, &deliveries, &members, 1_000 * 1_000_000);
    let sent_at: HashMap<(u32, u32), u64> =
        sent.iter().map(|s| ((s.sender, s.seq), s.at_ns)).collect();
    let (mut same, mut other) = (Vec::new(), Vec::new());
    for d in &deliveries {
        let Some(&at) = sent_at.get(&(d.sender, d.seq)) else {
            continue;
        };
        let latency = d.at_ns.saturating_sub(at);
        if node_of(d.sender) == node_of(d.receiver) {
            same.push(latency);
        } else {
            other.push(latency);
        }
    }
    log(format!(
        "{n} node(s): {} posts in {elapsed:.1} s, missing {}, duplicates {}",
        sent.len(),
        check.missing,
        check.duplicates
    ));
    let disconnects = shared.disconnects.load(Ordering::Relaxed);
    shared.stopping.store(true, Ordering::Relaxed);
    for (tx, _) in &clients {
        let _ = tx.try_send(Cmd::Stop);
    }
    for (_, join) in clients {
        let _ = tokio::time::timeout(Duration::from_secs(2), join).await;
    }
    for node in nodes {
        node.stop().await;
    }
    Ok(Run {
        nodes: n,
        synced,
        connect_secs,
        sent: sent.len(),
        check,
        same_node: stats::percentiles(same),
        other_node: stats::percentiles(other),
        acks: stats::percentiles(acks),
        cpu,
        pg_cpu,
        disconnects,
    })
}

type Clients = Vec<(mpsc::Sender<Cmd>, tokio::task::JoinHandle<()>)>;

async fn collect(clients: &Clients) -> (Vec<stats::Sent>, Vec<stats::Delivery>, Vec<u64>) {
    let mut waits = Vec::with_capacity(clients.len());
    for (tx, _) in clients {
        let (otx, orx) = oneshot::channel();
        if tx.send(Cmd::Collect(otx)).await.is_ok() {
            waits.push(orx);
        }
    }
    let (mut sent, mut del, mut acks) = (vec![], vec![], vec![]);
    for w in waits {
        if let Ok(Ok(log)) = tokio::time::timeout(Duration::from_secs(30), w).await {
            sent.extend(log.sent);
            del.extend(log.deliveries);
            acks.extend(log.acks_ns);
        }
    }
    (sent, del, acks)
}

fn report(args: &Args, runs: &[Run]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<!-- nodes:start -->");
    let _ = writeln!(s, "## Several nodes (issue 19)\n");
    let _ = writeln!(
        s,
        "`cargo xtask bench-nodes`: {} clients over {} rooms, {} posts/s for {} s, against \
         1–3 `renraku` nodes (release) on one PostgreSQL database joined through NATS; member k \
         of room r on node (k + r) mod n, so every room has members on every node and the \
         senders are spread over the nodes. *Same node*: a delivery \
         to a client on the sender's node; *other node*: one that crossed through NATS. \
         Latency from the sender's send to the receiver's arrival; every delivery checked \
         exactly once. {}, PostgreSQL and NATS on the same machine as the nodes and the load \
         tool: with 2 cores, more nodes share the same CPUs — this measures what a hop costs \
         and that nothing is lost, not how capacity scales on separate machines.\n",
        args.clients,
        args.rooms,
        args.rate,
        args.secs,
        procfs::machine(),
    );
    let _ = writeln!(
        s,
        "| nodes | synced | posts | deliveries | missing | duplicates | same node p50 / p99 | other node p50 / p99 | `saved` p50 / p99 | CPU per node | PostgreSQL CPU |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let pct = |p: &stats::Percentiles| {
            if p.count == 0 {
                "–".to_owned()
            } else {
                format!("{:.2} / {:.2} ms", p.p50_ms, p.p99_ms)
            }
        };
        let cpu = r
            .cpu
            .iter()
            .map(|c| format!("{c:.1} %"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "| {} | {} in {:.1} s | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} % |",
            r.nodes,
            r.synced,
            r.connect_secs,
            r.sent,
            r.check.delivered,
            r.check.missing,
            r.check.duplicates,
            pct(&r.same_node),
            pct(&r.other_node),
            pct(&r.acks),
            cpu,
            r.pg_cpu,
        );
        if r.disconnects > 0 {
            let _ = writeln!(
                s,
                "\n({} node(s): {} disconnects)\n",
                r.nodes, r.disconnects
            );
        }
    }
    let _ = writeln!(s, "\n<!-- nodes:end -->");
    s
}

/// `text` with the nodes section replaced, or appended.
fn replace_section(text: &str, section: &str) -> String {
    let (start, end) = ("<!-- nodes:start -->", "<!-- nodes:end -->");
    match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if b > a => {
            format!(
                "{}{}{}",
                &text[..a],
                section.trim_end(),
                &text[b + end.len()..]
            )
        }
        _ => format!("{}\n\n{}\n", text.trim_end(), section.trim_end()),
    }
}
