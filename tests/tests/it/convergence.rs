//! Issue 14 §2: a seeded, replayable randomized run of several devices against a real server
//! process. Devices write, lose their network and write offline, come back; the server is
//! killed with SIGKILL and restarted on the same storage; everyone leaves the room so that the
//! server evicts it from memory. After every restart, a fresh device finds every update the
//! server acknowledged; at the end, every replica equals the server's and nothing written is
//! missing.
//!
//! The seed comes from `RENRAKU_SEED` (or is random) and is printed first: a failure replays
//! with `RENRAKU_SEED=<seed> cargo test -p renraku-tests --test convergence`. The operations
//! replay exactly; only the server's timing (which frames have arrived when a device looks)
//! differs between runs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use renraku_server::db::Db;
use renraku_sync::{PostId, Reaction, RoomId, UserId};
use renraku_tests::helpers::log_rows;
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{flood_args, team_at, TestStorage};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::BIN;
const STEPS: usize = 120;
/// Short, so that a room everyone left is evicted within the test.
const EVICT_MS: u64 = 150;

/// One device: a member's phone or computer, with its own yrs client id and session.
struct Device {
    name: String,
    user: UserId,
    token: String,
    client: SyncClient,
    /// Post ids written under each outbox id.
    written: BTreeMap<u64, PostId>,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Write,
    React,
    Pump,
    Offline,
    Reconnect,
    WaitSaved,
    KillRestart,
    Evict,
}

fn pick(rng: &mut StdRng) -> Op {
    match rng.gen_range(0..100) {
        0..=34 => Op::Write,
        35..=44 => Op::React,
        45..=59 => Op::Pump,
        60..=69 => Op::Offline,
        70..=84 => Op::Reconnect,
        85..=92 => Op::WaitSaved,
        93..=96 => Op::KillRestart,
        _ => Op::Evict,
    }
}

/// A post id the seed decides (a ULID's alphabet and length).
fn post_id(rng: &mut StdRng) -> PostId {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let s: String = (0..26)
        .map(|i| {
            // A ULID's first character is at most 7.
            let n = if i == 0 { 8 } else { ALPHABET.len() };
            ALPHABET[rng.gen_range(0..n)] as char
        })
        .collect();
    PostId::parse(&s).expect("built from the ULID alphabet")
}

fn seed() -> u64 {
    match std::env::var("RENRAKU_SEED") {
        Ok(s) => s.parse().expect("RENRAKU_SEED is a number"),
        Err(_) => rand::random(),
    }
}

fn server_args(storage: &TestStorage) -> Vec<String> {
    let mut args = flood_args(storage);
    args.extend(["--room-evict-ms".into(), EVICT_MS.to_string()]);
    args
}

test_both_dbs!(devices_going_offline_servers_killed_and_rooms_evicted_converge_without_losing_acks);
async fn devices_going_offline_servers_killed_and_rooms_evicted_converge_without_losing_acks() {
    let seed = seed();
    // Printed first, so that a failure's captured output says how to replay it.
    eprintln!("convergence seed {seed}: replay with RENRAKU_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let storage = TestStorage::new().await;
    let mut server = ServerProcess::spawn(BIN, &server_args(&storage))
        .await
        .unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let room = t.room;
    let base_ms = renraku_server::db::now_ms();

    let count = rng.gen_range(3..=5);
    let mut devices = Vec::new();
    for i in 0..count {
        let member = if i % 2 == 0 { &t.a } else { &t.b };
        let token = renraku_tests::signin_at(&server.base_url, &member.login).await;
        let mut client = SyncClient::connect(&server.ws_url(), &token, 10_000 + i as u64)
            .await
            .unwrap();
        client.open(room).await.unwrap();
        devices.push(Device {
            name: format!("{}#{i}", if i % 2 == 0 { "a" } else { "b" }),
            user: member.id,
            token,
            client,
            written: BTreeMap::new(),
        });
    }
    let mut readers = 0u64;

    for step in 0..STEPS {
        // Every step draws the same values whatever the state, so that a seed replays the
        // same operations.
        let op = pick(&mut rng);
        let d = rng.gen_range(0..devices.len());
        let id = post_id(&mut rng);
        let target = rng.gen_range(0..1000usize);
        eprintln!("step {step}: {op:?} {}", devices[d].name);
        let dev = &mut devices[d];
        match op {
            Op::Write => {
                let text = format!("申し送り {step}: {}", dev.name);
                let now = base_ms + step as i64;
                let update = dev
                    .client
                    .doc(room)
                    .start_thread(dev.user, id.clone(), &text, now);
                write(dev, room, update, Some(id)).await;
            }
            Op::React => {
                let posts = dev.client.doc(room).posts();
                if !posts.is_empty() {
                    let post = &posts[target % posts.len()].id;
                    let update =
                        dev.client
                            .doc(room)
                            .react(dev.user, post, Reaction::ALL[target % 3]);
                    write(dev, room, update, None).await;
                }
            }
            Op::Pump => {
                if dev.client.is_online() {
                    dev.client.drain(Duration::from_millis(20)).await;
                }
            }
            Op::Offline => dev.client.go_offline(),
            Op::Reconnect => {
                if !dev.client.is_online() {
                    dev.client
                        .reconnect(&server.ws_url(), &dev.token)
                        .await
                        .unwrap_or_else(|e| panic!("seed {seed}: reconnect: {e:#}"));
                }
            }
            Op::WaitSaved => {
                if dev.client.is_online() && dev.client.wait_outbox_empty().await.is_err() {
                    assert!(
                        !dev.client.is_online(),
                        "seed {seed}: outbox never answered"
                    );
                }
            }
            Op::KillRestart => {
                server.kill_9().await.unwrap();
                for dev in &mut devices {
                    dev.client.go_offline();
                }
                server = ServerProcess::spawn(BIN, &server_args(&storage))
                    .await
                    .unwrap();
                // Before any device comes back (and could heal a loss with its replica), a
                // new device finds every update the server said it had saved.
                readers += 1;
                let stored = fresh_replica(&server, &t.a.login, room, readers).await;
                for dev in &devices {
                    for ack in &dev.client.acknowledged {
                        if let Some(id) = dev.written.get(ack) {
                            assert!(
                                stored.post(id).is_some(),
                                "seed {seed}: {} ack {ack} ({id}) saved, lost by kill -9",
                                dev.name
                            );
                        }
                    }
                }
            }
            Op::Evict => {
                // Someone writes (so the loaded room has a log to compact on its way out),
                // then everyone leaves and the room leaves memory: its log is compacted.
                if !dev.client.is_online() {
                    dev.client
                        .reconnect(&server.ws_url(), &dev.token)
                        .await
                        .unwrap();
                }
                let text = format!("退室前 {step}");
                let update =
                    dev.client
                        .doc(room)
                        .start_thread(dev.user, id.clone(), &text, base_ms);
                write(dev, room, update, Some(id)).await;
                dev.client
                    .wait_outbox_empty()
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
                for dev in &mut devices {
                    dev.client.go_offline();
                }
                let db = Db::connect(&storage.database_url()).await.unwrap();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while log_rows(&db, room).await > 0 {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "seed {seed}: the room was never evicted"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                db.close().await;
            }
        }
    }

    // Everyone comes back and waits until the server has answered their whole outbox, then
    // syncs once more: every replica must now be the server's.
    for dev in &mut devices {
        if !dev.client.is_online() {
            dev.client
                .reconnect(&server.ws_url(), &dev.token)
                .await
                .unwrap();
        }
        dev.client
            .wait_outbox_empty()
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {}: {e:#}", dev.name));
    }
    for dev in &mut devices {
        dev.client.open(room).await.unwrap();
    }
    readers += 1;
    let stored = fresh_replica(&server, &t.a.login, room, readers).await;
    let server_posts = stored.posts();
    for dev in &mut devices {
        let refusals: Vec<_> = dev
            .client
            .events
            .iter()
            .filter(|f| matches!(f, renraku_sync::Frame::Invalid { .. }))
            .collect();
        assert!(
            refusals.is_empty(),
            "seed {seed}: {}: {refusals:?}",
            dev.name
        );
        for (ack, id) in &dev.written {
            assert!(
                stored.post(id).is_some(),
                "seed {seed}: {} wrote {id} (ack {ack}), the server lacks it",
                dev.name
            );
        }
        let replica = dev.client.doc(room);
        assert_eq!(replica.posts(), server_posts, "seed {seed}: {}", dev.name);
        assert_eq!(
            replica.state_vector(),
            stored.state_vector(),
            "seed {seed}: {}",
            dev.name
        );
        for post in &server_posts {
            assert_eq!(replica.reactions(&post.id), stored.reactions(&post.id));
        }
    }
    eprintln!(
        "converged: {} devices, {} posts, {readers} fresh readers",
        devices.len(),
        server_posts.len()
    );
    server.kill_9().await.unwrap();
}

/// Queues a local write: into the outbox first, then onto the socket if there is one. A
/// socket that died under it makes the device offline; the write waits in the outbox.
async fn write(dev: &mut Device, room: RoomId, update: Vec<u8>, post: Option<PostId>) {
    let ack = match dev.client.send_update(room, update).await {
        Ok(ack) => ack,
        Err(_) => {
            dev.client.go_offline();
            *dev.client
                .unanswered()
                .last()
                .expect("the write is in the outbox")
        }
    };
    if let Some(id) = post {
        dev.written.insert(ack, id);
    }
}

/// What the server holds, as a device that never wrote sees it after its first sync.
async fn fresh_replica(
    server: &ServerProcess,
    login: &str,
    room: RoomId,
    n: u64,
) -> renraku_sync::RoomDoc {
    let token = renraku_tests::signin_at(&server.base_url, login).await;
    let mut reader = SyncClient::connect(&server.ws_url(), &token, 90_000 + n)
        .await
        .unwrap();
    reader.open(room).await.unwrap();
    let state = reader.doc(room).encode_state();
    let doc = renraku_sync::RoomDoc::new(80_000 + n);
    doc.apply_update(&state).unwrap();
    doc
}
