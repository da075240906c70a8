//! Web push (ARCHITECTURE.md, "Web push"): the VAPID key pair, and the worker that drains `push_outbox`.
//!
//! Pushes are queued by the transaction that stores a new post (`db::push::enqueue_in`), so a
//! post acknowledged to its writer always has its pushes queued, across crashes too. The
//! worker leases due rows, sends each with the `web-push` crate (RFC 8291 aes128gcm, VAPID
//! RFC 8292) over our own HTTP client, and deletes it once the push service took it.

pub mod sender;
pub mod vapid;

use crate::db::push::SubscriptionKeys;
use crate::error::{Error, Result};
use data_encoding::BASE64URL_NOPAD;
use std::sync::Arc;
use tokio::sync::watch;

/// Tells a server's outbox worker that a commit queued pushes. One per database handle
/// ([`crate::Db::connect`]), so it is part of each server's state: several servers in one
/// process (the tests) each wake only their own worker. A watch channel, not a `Notify`:
/// no bump is lost while the worker is busy, it only sees that there was one.
#[derive(Clone, Debug)]
pub struct Notifier(Arc<watch::Sender<u64>>);

impl Default for Notifier {
    fn default() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }
}

impl Notifier {
    /// Tells the worker that pushes were queued.
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What the worker waits on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// Longest endpoint URL accepted (real ones are a few hundred bytes).
const MAX_ENDPOINT: usize = 2048;

/// Checks a browser's subscription before it is stored. Plain `http` endpoints (a local push
/// service in tests) only with `allow_http`: the server POSTs to whatever URL it is given.
pub fn check_subscription(keys: &SubscriptionKeys, allow_http: bool) -> Result<()> {
    let bad = |why: &str| Error::BadRequest(format!("push subscription: {why}"));
    if keys.endpoint.len() > MAX_ENDPOINT {
        return Err(bad("endpoint too long"));
    }
    let https = keys.endpoint.starts_with("https://");
    let http = keys.endpoint.starts_with("http://");
    if !(https || (http && allow_http)) {
        return Err(bad("the endpoint must be an https URL"));
    }
    if keys.endpoint.parse::<axum::http::Uri>().is_err() {
        return Err(bad("the endpoint is not a URL"));
    }
    let p256dh = BASE64URL_NOPAD
        .decode(keys.p256dh.trim_end_matches('=').as_bytes())
        .map_err(|_| bad("p256dh is not base64url"))?;
    if p256dh.len() != 65 || p256dh[0] != 4 {
        return Err(bad("p256dh is not an uncompressed P-256 key"));
    }
    let auth = BASE64URL_NOPAD
        .decode(keys.auth.trim_end_matches('=').as_bytes())
        .map_err(|_| bad("auth is not base64url"))?;
    if auth.len() != 16 {
        return Err(bad("auth must be 16 bytes"));
    }
    Ok(())
}

/// Stops the worker when the server stops.
pub struct WorkerGuard(tokio::task::JoinHandle<()>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the outbox worker of this server.
pub fn spawn_worker(db: crate::Db, config: &crate::Config) -> WorkerGuard {
    let settings = sender::Settings {
        contact: config
            .push_contact
            .clone()
            .unwrap_or_else(|| config.security_contact.clone()),
    };
    WorkerGuard(tokio::spawn(sender::run(db, settings)))
}
