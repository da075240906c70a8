//! Several nodes on one PostgreSQL database, joined by NATS (issue 19).
//!
//! The database is the source of truth; NATS only makes nodes hear of it at once. A node
//! that stored a room's updates announces them with their seqs ([`wire::RoomNews`]); every
//! node holding that room applies them and broadcasts them to its own sockets. A node that
//! sees a gap in a room's seqs (a lost or reordered message, NATS restarting) reads what it
//! lacks from the database before going on, and a sweep every [`SWEEP`] compares each loaded
//! room with the database's newest seq, so a message NATS never delivered costs at most
//! that long — pub/sub alone loses messages, which is how the Redis fan-out of other Yjs
//! servers fails. Decisions that close sockets (a session ended, an account disabled, a
//! user removed from a room) and news for members (`RoomActivity`, register news) travel as
//! [`wire::Order`]s.
//!
//! Core NATS subjects, not a JetStream stream, carry the messages: a stream would be a
//! second copy of the log the database already keeps in order, and every publish would
//! wait for its acknowledgement on the path to the user's `saved`.

mod wire;

pub use wire::{Order, Presence, RoomNews};

use crate::hub::Hub;
use crate::Config;
use axum::body::Bytes;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};
use wire::{Received, Subjects};

/// Messages waiting to be published. When NATS is away this fills, and what does not fit is
/// dropped: the other nodes' sweep reads it from the database.
const PUBLISH_QUEUE: usize = 8192;

/// Refuses a cluster that cannot be one: nodes share their data through PostgreSQL.
pub fn check(config: &Config) -> crate::Result<()> {
    if config.nats_url.is_some() && !config.database_url().starts_with("postgres") {
        return Err(crate::Error::internal(
            "several nodes (--nats-url) need PostgreSQL, which all nodes share: \
             give --database-url postgres://…",
        ));
    }
    Ok(())
}

/// This node's link to the others.
pub struct Cluster {
    subjects: Subjects,
    publish: mpsc::Sender<(String, Bytes)>,
    client: async_nats::Client,
    sweep: Duration,
    events: std::sync::Mutex<Option<mpsc::UnboundedReceiver<async_nats::Event>>>,
}

impl Cluster {
    /// Connects to the configured NATS server; `None` for a single node. The node starts
    /// even while NATS is down (it connects in the background and keeps trying), because
    /// nodes that cannot reach NATS still serve everyone and converge through the database.
    pub async fn connect(config: &Config) -> anyhow::Result<Option<Cluster>> {
        let Some(url) = &config.nats_url else {
            return Ok(None);
        };
        check(config)?;
        // Several servers of a NATS cluster, comma-separated: the client moves to another
        // when one goes away.
        let servers = url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--nats-url: {e}"))?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .name("renraku")
            // What this node published, it has applied already.
            .no_echo()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .event_callback(move |event| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.send(event);
                }
            })
            .connect(servers)
            .await?;
        let (publish, mut queue) = mpsc::channel::<(String, Bytes)>(PUBLISH_QUEUE);
        let publisher = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = queue.recv().await {
                if let Err(e) = publisher.publish(subject, payload).await {
                    warn!(error = %e, "cluster: publishing failed");
                }
            }
        });
        info!(
            url = %crate::config::redact_url(url),
            prefix = %config.nats_prefix,
            "cluster: joining through NATS"
        );
        Ok(Some(Cluster {
            subjects: Subjects::new(&config.nats_prefix),
            publish,
            client,
            sweep: Duration::from_millis(config.cluster_sweep_ms.max(10)),
            events: std::sync::Mutex::new(Some(events_rx)),
        }))
    }

    fn send(&self, subject: String, payload: Vec<u8>) {
        if self.publish.try_send((subject, payload.into())).is_err() {
            warn!("cluster: publish queue full, a message is left to the database sweep");
        }
    }

    /// Tells the other nodes of updates this node stored.
    pub fn announce(&self, news: &RoomNews) {
        self.send(self.subjects.news(news.doc), wire::encode(news));
    }

    pub fn presence(&self, presence: &Presence) {
        self.send(self.subjects.presence(presence.doc), wire::encode(presence));
    }

    /// Passes a decision on to the other nodes (this node has carried it out already).
    pub fn order(&self, order: &Order) {
        self.send(self.subjects.order(), wire::encode(order));
    }

    /// Hears the other nodes until the hub is gone, and sweeps the loaded rooms.
    pub fn spawn_listener(&self, hub: Hub) -> ListenerGuard {
        let client = self.client.clone();
        let subjects = self.subjects.clone();
        let events = self.events.lock().expect("cluster lock").take();
        let listen_hub = hub.clone();
        let listen = tokio::spawn(async move {
            let mut subscription = loop {
                match client.subscribe(subjects.all()).await {
                    Ok(s) => break s,
                    Err(e) => {
                        warn!(error = %e, "cluster: subscribing failed, trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            while let Some(message) = subscription.next().await {
                match subjects.read(message.subject.as_str(), &message.payload) {
                    Some(Received::News(news)) => listen_hub.remote_news(news),
                    Some(Received::Presence(p)) => listen_hub.remote_presence(p),
                    Some(Received::Order(order)) => listen_hub.carry_out(&order),
                    None => warn!(subject = %message.subject, "cluster: unreadable message"),
                }
            }
        });
        let event_hub = hub.clone();
        let events = tokio::spawn(async move {
            let Some(mut events) = events else { return };
            while let Some(event) = events.recv().await {
                match event {
                    // Whatever was published while we were away is in the database.
                    async_nats::Event::Connected => {
                        info!("cluster: connected to NATS");
                        event_hub.catch_up_all();
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        warn!("cluster: messages dropped by NATS (slow consumer)");
                        event_hub.catch_up_all();
                    }
                    async_nats::Event::Disconnected => warn!("cluster: NATS connection lost"),
                    other => info!(event = %other, "cluster: NATS"),
                }
            }
        });
        let every = self.sweep;
        let sweep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = hub.sweep_heads().await {
                    warn!(error = %e, "cluster: sweep failed");
                }
            }
        });
        ListenerGuard(vec![listen, events, sweep])
    }
}

/// Stops hearing the cluster when the server stops.
pub struct ListenerGuard(Vec<tokio::task::JoinHandle<()>>);

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
