//! `renraku-attacks`: the resource attacks of issue 13 §4 against a `renraku` binary, each
//! against a fresh server process on loopback, reporting the server's peak RSS (`VmHWM`)
//! and whether `/healthz` and sign-in kept answering. Bounded: every attack stops after
//! `--secs` seconds. Not part of any timed test.
//!
//! ```sh
//! cargo build --release -p renraku-server -p renraku-bench
//! target/release/renraku-attacks --bin target/release/renraku [--secs 30] [--server-nofile 4096]
//! ```
//!
//! - slow readers: 10 sockets (two users) ask for a ~5.7 MiB room (sync step 1) again and
//!   again and never read;
//! - connections: two users open as many WebSockets as they can (up to 9,000 each);
//! - image bombs: 8 uploads at once of a 16384×10000 PNG (~480 KB);
//! - all three at once.

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use futures_util::SinkExt;
use renraku_sync::frame::PROTOCOL_VERSION;
use renraku_sync::yrs::sync::{Message, SyncMessage};
use renraku_sync::yrs::updates::encoder::Encode;
use renraku_sync::{DocId, Frame, PostId, RoomDoc, RoomId, UserId};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Parser)]
struct Args {
    /// The `renraku` binary to attack.
    #[arg(long)]
    bin: PathBuf,
    /// How long each attack lasts.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// The open-files limit the server starts with (it may raise it itself).
    #[arg(long, default_value_t = 4096)]
    server_nofile: u64,
    /// Only these attacks: slow,conns,images,all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

const ROOM_POST_CHARS: usize = 20_000;
const ROOM_POSTS: usize = 100;

struct Server {
    child: Child,
    base: String,
    pid: u32,
}

impl Server {
    async fn start(bin: &Path, data: &Path, nofile: u64) -> Result<Server> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n {nofile}; exec \"$0\" serve --demo --data-dir \"$1\" --listen 127.0.0.1:0"
            ))
            .arg(bin)
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().context("pid")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return Ok(url.trim().to_owned());
                }
            }
            bail!("the server ended before listening")
        })
        .await??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, base, pid })
    }

    fn peak_rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn signin(http: &reqwest::Client, base: &str, login: &str) -> Result<String> {
    let body =
        serde_json::json!({ "login_id": login, "password": renraku_server::demo::DEMO_PASSWORD });
    let r: serde_json::Value = http
        .post(format!("{base}/api/demo/signin"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    r["session_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no token: {r}"))
}

async fn rooms_of(http: &reqwest::Client, base: &str, token: &str) -> Result<Vec<i64>> {
    let r: serde_json::Value = http
        .get(format!("{base}/api/rooms"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r.as_array()
        .context("rooms")?
        .iter()
        .filter_map(|room| room["id"].as_i64())
        .collect())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> Result<Ws> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let hello = Frame::Hello {
        version: PROTOCOL_VERSION,
    };
    ws.send(WsMessage::Binary(hello.encode().into())).await?;
    Ok(ws)
}

/// Two users and a room they share, on a fresh server.
struct Cast {
    a: (i64, String),
    b: (i64, String),
    room: i64,
}

async fn cast(http: &reqwest::Client, base: &str) -> Result<Cast> {
    let logins = [
        "doctor1",
        "nurse1",
        "caremgr1",
        "pharmacist1",
        "nurse2",
        "doctor2",
    ];
    let mut who = Vec::new();
    for login in logins {
        let token = signin(http, base, login).await?;
        let me: serde_json::Value = http
            .get(format!("{base}/api/me"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let id = me["id"]
            .as_i64()
            .or_else(|| me["user"]["id"].as_i64())
            .context("me.id")?;
        who.push((id, token));
    }
    for i in 0..who.len() {
        for j in i + 1..who.len() {
            let ri = rooms_of(http, base, &who[i].1).await?;
            let rj = rooms_of(http, base, &who[j].1).await?;
            if let Some(room) = ri.iter().find(|r| rj.contains(r)) {
                return Ok(Cast {
                    a: who[i].clone(),
                    b: who[j].clone(),
                    room: *room,
                });
            }
        }
    }
    bail!("no shared room")
}

/// Writes ~5.7 MiB of posts into the room.
async fn fill(url: &str, author: &(i64, String), room: i64) -> Result<()> {
    let mut ws = connect(url, &author.1).await?;
    let doc = DocId::Room(RoomId::new(room));
    ws.send(WsMessage::Binary(Frame::Open { doc }.encode().into()))
        .await?;
    let replica = RoomDoc::new(rand::random::<u32>() as u64);
    for i in 0..ROOM_POSTS {
        let text = format!("{i:03} {}", "記".repeat(ROOM_POST_CHARS - 8));
        let id = PostId::parse(&ulid::Ulid::new().to_string()).expect("ULID");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let update = replica.start_thread(UserId::new(author.0), id, &text, now);
        let message = Message::Sync(SyncMessage::Update(update)).encode_v1();
        let frame = Frame::Sync {
            doc,
            ack: Some(i as u64 + 1),
            message,
        };
        ws.send(WsMessage::Binary(frame.encode().into())).await?;
        // Under the default message rate.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Wait for the last acknowledgement.
    use futures_util::StreamExt;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(WsMessage::Binary(b)))) => {
                if let Ok(Frame::Saved { ack, .. }) = Frame::decode_from_server(&b) {
                    if ack == ROOM_POSTS as u64 {
                        return Ok(());
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    bail!("the room was not filled")
}

/// 10 sockets (5 per user) ask for the room again and again, never reading.
async fn slow_readers(url: String, cast: Arc<Cast>, until: Instant) -> String {
    let mut tasks = Vec::new();
    for i in 0..10 {
        let url = url.clone();
        let token = if i % 2 == 0 {
            cast.a.1.clone()
        } else {
            cast.b.1.clone()
        };
        let room = cast.room;
        tasks.push(tokio::spawn(async move {
            let Ok(mut ws) = connect(&url, &token).await else {
                return (0u64, false);
            };
            let doc = DocId::Room(RoomId::new(room));
            let _ = ws
                .send(WsMessage::Binary(Frame::Open { doc }.encode().into()))
                .await;
            let step1 = Frame::Sync {
                doc,
                ack: None,
                message: Message::Sync(SyncMessage::SyncStep1(Default::default())).encode_v1(),
            }
            .encode();
            let mut asked = 0;
            while Instant::now() < until {
                match tokio::time::timeout(
                    Duration::from_millis(200),
                    ws.send(WsMessage::Binary(step1.clone().into())),
                )
                .await
                {
                    Ok(Ok(())) => asked += 1,
                    Ok(Err(_)) => return (asked, true),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (asked, false)
        }));
    }
    let (mut asked, mut dropped) = (0, 0);
    for t in tasks {
        if let Ok((n, closed)) = t.await {
            asked += n;
            dropped += u64::from(closed);
        }
    }
    format!("{asked} step-1 requests sent, {dropped}/10 sockets dropped by the server")
}

/// Two users open WebSockets until refused or `per_user` each, and hold them.
async fn connections(url: String, cast: Arc<Cast>, per_user: usize, until: Instant) -> String {
    let mut held = Vec::new();
    let mut refused = 0usize;
    for (_, token) in [&cast.a, &cast.b] {
        for _ in 0..per_user {
            if Instant::now() >= until {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(2), connect(&url, token)).await {
                Ok(Ok(ws)) => held.push(ws),
                _ => refused += 1,
            }
            if refused > 200 {
                break;
            }
        }
    }
    // Sockets the server closed (over a cap) end; the rest are held until the end.
    let opened = held.len();
    tokio::time::sleep_until(until.into()).await;
    drop(held);
    format!("{opened} handshakes completed, {refused} failed")
}

/// A 16384×10000 RGB PNG of zeros: ~480 KB that decodes to ~470 MiB.
fn png_bomb() -> Vec<u8> {
    let (w, h) = (16_384u32, 10_000u32);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + 3 * w as usize];
    for _ in 0..h {
        z.write_all(&row).expect("memory");
    }
    let idat = z.finish().expect("memory");
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut h = flate2::Crc::new();
        h.update(kind);
        h.update(data);
        c.extend_from_slice(&h.sum().to_be_bytes());
        c
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &idat));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// 8 uploads of the bomb at once, repeated until `until`.
async fn image_bombs(base: String, cast: Arc<Cast>, bomb: Arc<Vec<u8>>, until: Instant) -> String {
    let http = reqwest::Client::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while Instant::now() < until {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let http = http.clone();
            let url = format!(
                "{base}/api/rooms/{}/attachments/{}",
                cast.room,
                ulid::Ulid::new()
            );
            let token = if i % 2 == 0 {
                cast.a.1.clone()
            } else {
                cast.b.1.clone()
            };
            let body = bomb.as_ref().clone();
            tasks.push(tokio::spawn(async move {
                http.put(url)
                    .bearer_auth(token)
                    .header("x-renraku-file-name", "UTF-8''bomb.png")
                    .body(body)
                    .timeout(Duration::from_secs(120))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }));
        }
        for t in tasks {
            *statuses.entry(t.await.unwrap_or(0)).or_default() += 1;
        }
    }
    format!("upload answers (status: count): {statuses:?}")
}

/// Probes `/healthz` and sign-in every 250 ms; the worst latencies seen.
async fn probe(base: String, until: Instant) -> String {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let (mut worst_health, mut worst_signin, mut failures) = (0f64, 0f64, 0);
    while Instant::now() < until {
        let t = Instant::now();
        let ok = tokio::time::timeout(
            Duration::from_secs(5),
            http.get(format!("{base}/healthz")).send(),
        )
        .await
        .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
        if ok {
            worst_health = worst_health.max(t.elapsed().as_secs_f64() * 1000.0);
        } else {
            failures += 1;
        }
        let t = Instant::now();
        let ok = tokio::time::timeout(Duration::from_secs(5), signin(&http, &base, "city2"))
            .await
            .is_ok_and(|r| r.is_ok());
        if ok {
            worst_signin = worst_signin.max(t.elapsed().as_secs_f64() * 1000.0);
        } else {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    format!("/healthz worst {worst_health:.0} ms, sign-in worst {worst_signin:.0} ms, {failures} failed or >5 s")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // The attacker's own sockets.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain struct in/out.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let want = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let data = tempfile::tempdir()?;
    let http = reqwest::Client::new();
    // Seed once: demo data and the big room.
    let server = Server::start(&args.bin, data.path(), args.server_nofile).await?;
    let cast = Arc::new(cast(&http, &server.base).await?);
    fill(&server.ws_url(), &cast.a, cast.room).await?;
    server.stop().await;
    eprintln!(
        "seeded: room {} with {ROOM_POSTS} posts of {ROOM_POST_CHARS} characters",
        cast.room
    );
    let bomb = Arc::new(png_bomb());
    eprintln!("bomb: {} bytes", bomb.len());
    let secs = Duration::from_secs(args.secs);
    println!("| attack | server peak RSS (MiB) | what happened | /healthz and sign-in meanwhile |");
    println!("|---|---:|---|---|");
    for attack in ["idle", "slow", "conns", "images", "all"] {
        if attack != "idle" && !want(attack) {
            continue;
        }
        let server = Server::start(&args.bin, data.path(), args.server_nofile).await?;
        let until = Instant::now()
            + if attack == "idle" {
                Duration::from_secs(2)
            } else {
                secs
            };
        let url = server.ws_url();
        let base = server.base.clone();
        let probe = tokio::spawn(probe(base.clone(), until));
        let mut parts = Vec::new();
        if attack == "slow" || attack == "all" {
            parts.push(tokio::spawn(slow_readers(url.clone(), cast.clone(), until)));
        }
        if attack == "conns" || attack == "all" {
            parts.push(tokio::spawn(connections(
                url.clone(),
                cast.clone(),
                9_000,
                until,
            )));
        }
        if attack == "images" || attack == "all" {
            parts.push(tokio::spawn(image_bombs(
                base.clone(),
                cast.clone(),
                bomb.clone(),
                until,
            )));
        }
        let mut what = Vec::new();
        for p in parts {
            what.push(p.await.unwrap_or_else(|e| format!("failed: {e}")));
        }
        let probed = probe.await.unwrap_or_default();
        let peak = server.peak_rss_mib();
        println!("| {attack} | {peak:.0} | {} | {probed} |", what.join("; "));
        server.stop().await;
    }
    Ok(())
}
