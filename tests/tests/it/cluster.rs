//! Several nodes behind a load balancer (issue 19): three server processes on one
//! PostgreSQL database, talking through NATS, with nginx in front
//! (`renraku_tests::cluster::Cluster`): sessions valid on every node, sync and attachments
//! through the load balancer, a killed node's requests served by the others, kill -9 of a
//! node under a stream of posts, NATS restarted under load, an account disabled on one node
//! closing its socket on another. PostgreSQL only (nodes need it); the machine's NATS and
//! Debian's nginx (`cargo xtask setup`, `.ci/run`). `nodes.rs` tells NATS and the
//! database sweep apart.

use renraku_sync::{PostId, RoomId, SessionEnd};
use renraku_tests::api::Api;
use renraku_tests::cluster::{Cluster, NatsProcess};
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{signin_at, Member};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::BIN;

const NODES: usize = 3;

/// What a node needs to take a stream of posts sent without waiting (as in
/// durability.rs): the per-connection rate limit would otherwise close the socket first.
fn flood() -> Vec<String> {
    vec!["--ws-message-burst".into(), "100000".into()]
}

fn post_id() -> PostId {
    PostId::parse(&ulid::Ulid::new().to_string()).expect("a ULID is a post id")
}

#[tokio::test]
async fn every_node_honours_a_session_signed_in_through_the_load_balancer() {
    let cluster = Cluster::start(BIN, NODES, &[]).await;
    let token = signin_at(&cluster.lb_url(), "nurse1").await;
    for i in 0..NODES {
        let me = Api::new(&cluster.node_url(i), &token).me().await.unwrap();
        assert_eq!(me.user.login_id, "nurse1", "node {i}");
        let rooms = Api::new(&cluster.node_url(i), &token)
            .rooms()
            .await
            .unwrap();
        assert!(!rooms.is_empty(), "node {i} lists the demo rooms");
    }
    // Through the load balancer, requests go round the nodes; every one of them answers.
    let lb = Api::new(&cluster.lb_url(), &token);
    for _ in 0..2 * NODES {
        assert_eq!(lb.me().await.unwrap().user.login_id, "nurse1");
    }
    let log = cluster.lb_access_log();
    let answered_by: HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("/api/me "))
        .filter_map(|l| l.split("upstream=").nth(1))
        .collect();
    assert_eq!(answered_by.len(), NODES, "nodes that answered: {log}");
}

#[tokio::test]
async fn a_post_synced_through_the_load_balancer_is_served_by_every_node() {
    let cluster = Cluster::start(BIN, NODES, &[]).await;
    let team = cluster.team().await;
    let mut a = SyncClient::connect(&cluster.lb_ws_url(), &team.a.token, 7001)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();
    let id = post_id();
    let update =
        a.doc(team.room)
            .start_thread(team.a.id, id.clone(), "ロードバランサ経由の投稿", 1);
    a.write(team.room, update).await.unwrap();
    // b opens the room on each node in turn: every node serves the stored room.
    for i in 0..NODES {
        let mut b = SyncClient::connect(&cluster.node_ws_url(i), &team.b.token, 7101 + i as u64)
            .await
            .unwrap();
        b.open(team.room).await.unwrap();
        assert!(
            b.doc(team.room).post(&id).is_some(),
            "node {i} has a's post"
        );
    }
}

#[tokio::test]
async fn requests_through_the_load_balancer_succeed_while_a_node_is_dead() {
    let mut cluster = Cluster::start(BIN, NODES, &[]).await;
    let team = cluster.team().await;
    cluster.kill_9(1).await;
    assert!(
        reqwest::get(format!("{}/healthz", cluster.node_url(1)))
            .await
            .is_err(),
        "node 1 is dead"
    );
    // More requests than nodes, so the dead node's turn comes up more than once: reads,
    // sign-ins (a POST, passed on because the dead node never received it) and sockets.
    let api = Api::new(&cluster.lb_url(), &team.a.token);
    for round in 0..2 * NODES {
        let me = api
            .me()
            .await
            .unwrap_or_else(|e| panic!("GET {round}: {e}"));
        assert_eq!(me.user.login_id, team.a.login);
        let token = signin_at(&cluster.lb_url(), &team.b.login).await;
        let mut b = SyncClient::connect(&cluster.lb_ws_url(), &token, 7200 + round as u64)
            .await
            .unwrap_or_else(|e| panic!("socket {round}: {e:#}"));
        b.open(team.room).await.unwrap();
    }
    // Back on its feet, the node serves the same sessions again.
    cluster.restart(1).await;
    let me = Api::new(&cluster.node_url(1), &team.a.token)
        .me()
        .await
        .unwrap();
    assert_eq!(me.user.login_id, team.a.login);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_node_while_clients_on_every_node_stream_posts() {
    let mut cluster = Cluster::start(BIN, NODES, &flood()).await;
    let (room, members) = cluster.crew(NODES).await;
    let run = Stream::start(&cluster, room, &members, &[0, 1, 2], 300).await;
    run.acked_at_least(150).await;
    let killed_at = Instant::now();
    cluster.kill_9(1).await;
    let writers = run.finish().await;

    let recovered = writers[1]
        .recovered_at
        .first()
        .copied()
        .expect("the killed node's client reconnected");
    println!(
        "kill -9 of node 1: its client was writing again on another node {:?} after the kill",
        recovered - killed_at
    );
    for (i, w) in writers.iter().enumerate() {
        let reconnected = !w.recovered_at.is_empty();
        assert_eq!(
            reconnected,
            i == 1,
            "only node 1's client had to reconnect: client {i} reconnected {} times",
            w.recovered_at.len()
        );
    }
    let converged = check_everyone_has_everything_once(&cluster, room, writers).await;
    println!(
        "kill -9 of node 1: every replica had every post {:?} after the kill",
        converged - killed_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_under_load_nobody_misses_a_post() {
    let mut nats = NatsProcess::start().await;
    let cluster = Cluster::start_on_nats(BIN, NODES, &flood(), &nats.url()).await;
    let (room, members) = cluster.crew(NODES).await;
    let run = Stream::start(&cluster, room, &members, &[0, 1, 2], 300).await;
    run.acked_at_least(100).await;
    let stopped_at = Instant::now();
    nats.kill_9().await;
    // Posts go on while NATS is down: they are stored, and nobody hears of them over NATS.
    run.acked_at_least(250).await;
    nats.start_again().await;
    println!("NATS was down for {:?}", stopped_at.elapsed());
    let writers = run.finish().await;
    for (i, w) in writers.iter().enumerate() {
        if !w.recovered_at.is_empty() {
            println!(
                "client {i} lost its socket during the NATS restart and reconnected {} times",
                w.recovered_at.len()
            );
        }
    }
    let converged = check_everyone_has_everything_once(&cluster, room, writers).await;
    println!(
        "NATS restart: every replica had every post {:?} after NATS went down",
        converged - stopped_at
    );
}

#[tokio::test]
async fn disabling_an_account_on_one_node_closes_its_socket_on_another_within_1_s() {
    let cluster = Cluster::start(BIN, NODES, &[]).await;
    let team = cluster.team().await;
    let mut a = SyncClient::connect(&cluster.node_ws_url(1), &team.a.token, 7001)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();
    let admin = Api::demo(&cluster.node_url(0), "city1").await.unwrap();

    let started = Instant::now();
    admin.admin_disable_user(team.a.id).await.unwrap();
    let closed = a.closed_within(Duration::from_secs(1)).await;
    let took = started.elapsed();
    println!("disabled on node 0, socket on node 1 closed after {took:?}");
    assert_eq!(
        closed,
        Some((1008, SessionEnd::AccountDisabled.as_str().to_owned())),
        "a's socket on node 1 closed with the reason within 1 s"
    );
    // And no node takes the session any more.
    for i in 0..NODES {
        let me = Api::new(&cluster.node_url(i), &team.a.token).me().await;
        assert_eq!(
            me.unwrap_err().status(),
            Some(reqwest::StatusCode::UNAUTHORIZED),
            "node {i}"
        );
    }
}

/// One client per node, each streaming posts into one room from its own task while the
/// test disrupts the cluster: a client whose socket ends reconnects through the load
/// balancer (as the app does, with a pause between attempts) and its session resends
/// the outbox.
struct Stream {
    tasks: Vec<tokio::task::JoinHandle<Writer>>,
    /// How many posts the clients' servers acknowledged so far, all clients together.
    acked: watch::Receiver<usize>,
}

struct Writer {
    client: SyncClient,
    member: Member,
    /// Every post this client wrote, in order.
    sent: Vec<PostId>,
    /// When the client was writing on a node again, once for each lost socket.
    recovered_at: Vec<Instant>,
}

impl Stream {
    /// Member `i` connects to node `nodes[i]` (directly: the load balancer would choose
    /// for it), opens `room`, and sends `posts` posts, one every few milliseconds, without
    /// waiting for their acknowledgement.
    async fn start(
        cluster: &Cluster,
        room: RoomId,
        members: &[Member],
        nodes: &[usize],
        posts: usize,
    ) -> Stream {
        assert_eq!(members.len(), nodes.len(), "a node for each member");
        let (acked_tx, acked) = watch::channel(0usize);
        // Everyone is synced before anyone writes: a post that arrived in a client's first
        // sync is not news to it, and the exactly-once check counts news.
        let mut writers = Vec::new();
        for (i, (member, &node)) in members.iter().zip(nodes).enumerate() {
            let mut client =
                SyncClient::connect(&cluster.node_ws_url(node), &member.token, 9000 + i as u64)
                    .await
                    .unwrap();
            client.open(room).await.unwrap();
            client.wait_synced(room).await.unwrap();
            let writer = Writer {
                client,
                member: member.clone(),
                sent: Vec::new(),
                recovered_at: Vec::new(),
            };
            writers.push((writer, node));
        }
        let mut tasks = Vec::new();
        for (writer, node) in writers {
            let lb_ws = cluster.lb_ws_url();
            let acked_tx = acked_tx.clone();
            tasks.push(tokio::spawn(
                writer.stream(room, node, posts, lb_ws, acked_tx),
            ));
        }
        Stream { tasks, acked }
    }

    /// Waits until the servers acknowledged at least `n` posts, all clients together.
    async fn acked_at_least(&self, n: usize) {
        let mut acked = self.acked.clone();
        tokio::time::timeout(Duration::from_secs(60), acked.wait_for(|&a| a >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} posts were not acknowledged in time"))
            .expect("the writers run");
    }

    /// Waits until every client sent its posts and has none left unacknowledged.
    async fn finish(self) -> Vec<Writer> {
        let mut writers = Vec::new();
        for task in self.tasks {
            writers.push(task.await.expect("a writer panicked"));
        }
        writers
    }
}

impl Writer {
    async fn stream(
        mut self,
        room: RoomId,
        node: usize,
        posts: usize,
        lb_ws: String,
        acked: watch::Sender<usize>,
    ) -> Writer {
        let note = |w: &Writer, before: usize| {
            let new = w.client.acknowledged.len() - before;
            acked.send_modify(|a| *a += new);
        };
        for k in 0..posts {
            if !self.client.is_online() {
                self.recover(room, &lb_ws).await;
            }
            let before = self.client.acknowledged.len();
            let id = post_id();
            let text = format!("ノード{node}の投稿 {k}");
            let update =
                self.client
                    .doc(room)
                    .start_thread(self.member.id, id.clone(), &text, k as i64);
            self.sent.push(id);
            // A failed send leaves the post in the outbox, resent after reconnecting.
            if self.client.send_update(room, update).await.is_ok() {
                self.client.handle_for(Duration::from_millis(3)).await;
            }
            note(&self, before);
        }
        loop {
            if !self.client.is_online() {
                self.recover(room, &lb_ws).await;
            }
            let before = self.client.acknowledged.len();
            let emptied = self.client.wait_outbox_empty().await;
            note(&self, before);
            match emptied {
                Ok(()) => return self,
                Err(_) if !self.client.is_online() => {}
                Err(e) => panic!("client on node {node}: {e:#}"),
            }
        }
    }

    /// Reconnects through the load balancer until the room is synced again.
    async fn recover(&mut self, room: RoomId, lb_ws: &str) {
        for attempt in 0.. {
            let reconnected = self.client.reconnect(lb_ws, &self.member.token).await;
            if reconnected.is_ok() && self.client.wait_synced(room).await.is_ok() {
                self.recovered_at.push(Instant::now());
                return;
            }
            assert!(
                attempt < 50,
                "no node took the client back: {reconnected:?}"
            );
            // The app's pause between attempts (it backs off with jitter).
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every post any client wrote (all acknowledged: their outboxes are empty) reaches every
/// client's replica without its reopening the room, is served by every running node and
/// stored once; no client is handed another's post twice, and a client that kept its
/// socket throughout was handed each of them as news exactly once (the bench's
/// exactly-once check). Returns when every replica had every post.
async fn check_everyone_has_everything_once(
    cluster: &Cluster,
    room: RoomId,
    mut writers: Vec<Writer>,
) -> Instant {
    let all: Vec<PostId> = writers.iter().flat_map(|w| w.sent.clone()).collect();
    for (i, w) in writers.iter_mut().enumerate() {
        assert!(w.client.unanswered().is_empty(), "client {i}");
        w.client
            .wait_for(room, "every post in every replica", |doc| {
                all.iter().all(|id| doc.post(id).is_some())
            })
            .await
            .unwrap_or_else(|e| {
                let doc = w.client.doc(room);
                let missing = all.iter().filter(|id| doc.post(id).is_none()).count();
                panic!("client {i} lacks {missing} of {} posts: {e:#}", all.len())
            });
    }
    let converged = Instant::now();
    let writers_sent: Vec<(usize, Vec<PostId>)> = writers
        .iter()
        .enumerate()
        .map(|(j, w)| (j, w.sent.clone()))
        .collect();
    for (i, w) in writers.iter().enumerate() {
        let own: HashSet<String> = w.sent.iter().map(ToString::to_string).collect();
        let others: HashSet<String> = all
            .iter()
            .map(ToString::to_string)
            .filter(|id| !own.contains(id))
            .collect();
        let handed = deliveries(&w.client.relayed, &others);
        let twice: Vec<_> = handed.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "client {i} was handed posts twice: {twice:?}"
        );
        if w.recovered_at.is_empty() {
            let never = others.len() - handed.len();
            let which: Vec<String> = writers_sent
                .iter()
                .flat_map(|(j, ids)| {
                    ids.iter()
                        .enumerate()
                        .filter(|(_, id)| {
                            others.contains(&id.to_string())
                                && !handed.contains_key(&id.to_string())
                        })
                        .map(move |(k, _)| format!("{j}:{k}"))
                })
                .take(20)
                .collect();
            assert_eq!(
                never, 0,
                "client {i} kept its socket but missed {never} posts: {which:?}"
            );
        }
    }
    for i in (0..cluster.len()).filter(|&i| cluster.is_running(i)) {
        let writer = &writers[0].member;
        let mut fresh =
            SyncClient::connect(&cluster.node_ws_url(i), &writer.token, 9900 + i as u64)
                .await
                .unwrap();
        fresh.open(room).await.unwrap();
        let doc = fresh.doc(room);
        let missing = all.iter().filter(|id| doc.post(id).is_none()).count();
        assert_eq!(
            missing, 0,
            "node {i} serves the room without {missing} posts"
        );
    }
    let db = cluster.db().await;
    let stored = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT post_id) AS d FROM posts WHERE room_id = $1",
    )
    .bind(room.get())
    .fetch_one(db.pool())
    .await
    .unwrap();
    let (n, distinct): (i64, i64) = (stored.get("n"), stored.get("d"));
    assert_eq!((n, distinct), (all.len() as i64, all.len() as i64));
    db.close().await;
    converged
}

/// How many of the updates handed to a client as news carry each of `posts` (found by
/// their ids, which an update carries as the keys of the room's post map).
fn deliveries(relayed: &[Vec<u8>], posts: &HashSet<String>) -> HashMap<String, usize> {
    let len = posts.iter().next().map_or(0, String::len);
    let mut counts = HashMap::new();
    if len == 0 {
        return counts;
    }
    for update in relayed {
        let carried: HashSet<&str> = update
            .windows(len)
            .filter_map(|w| std::str::from_utf8(w).ok())
            .filter(|s| posts.contains(*s))
            .collect();
        for id in carried {
            *counts.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test]
async fn an_attachment_uploaded_on_one_node_is_served_by_every_node() {
    let cluster = Cluster::start(BIN, NODES, &[]).await;
    let team = cluster.team().await;
    let client = renraku_tests::helpers::bearer_client;
    let pdf = renraku_tests::helpers::tiny_pdf();
    let id = ulid::Ulid::new().to_string();
    let uploaded = client(&team.a.token)
        .put(format!(
            "{}/api/rooms/{}/attachments/{id}",
            cluster.node_url(0),
            team.room
        ))
        .header(renraku_tests::helpers::NAME_HEADER, "UTF-8''houmon.pdf")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    for node in 0..NODES {
        let got = client(&team.b.token)
            .get(format!("{}/api/attachments/{id}", cluster.node_url(node)))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "node {node}");
        assert_eq!(
            got.bytes().await.unwrap().as_ref(),
            pdf.as_slice(),
            "node {node}"
        );
    }
}
