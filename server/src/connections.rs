//! Serving accepted connections — HTTP/1.1 (with WebSocket upgrades) and HTTP/2 — within
//! deadlines a client cannot stretch, for both the plain and the TLS listener.
//!
//! `axum::serve` builds hyper's connection without a timer, so hyper's `header_read_timeout`
//! never applies, and the HTTP version sniff before it has no deadline at all: a client that
//! sends nothing, or trickles a request head a byte at a time, would hold a descriptor and a
//! task for as long as it liked, and enough such clients take the descriptors everyone else
//! needs. Here a connection must deliver a whole request head within the client timeout of
//! opening (of its TLS handshake ending), and a kept-alive HTTP/1.1 connection within as long
//! of its last response; a request body may not fall silent for longer either (a stalled
//! upload gets an error, so the handler and its connection are let go); HTTP/2 connections
//! are pinged, so a peer that vanished is let go. Requests are otherwise served as
//! `axum::serve` serves them, and on shutdown the connections finish what they are answering.

use axum::body::Body;
use axum::http::{Extensions, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;
use tracing::debug;

/// How long an open HTTP/2 connection may stay silent before it is pinged, and how long the
/// answer may take.
const HTTP2_PING: Duration = Duration::from_secs(60);

/// Serves `app` on every connection `listener` accepts until `shutdown` resolves, then
/// waits for the connections to finish their requests. `describe` gives each connection's
/// requests what they learn of it (the peer address, a client certificate).
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    client_timeout: Duration,
    describe: impl Fn(&L::Io, &L::Addr) -> Extensions,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener,
{
    let builder = Arc::new(builder(client_timeout));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let extensions = describe(&io, &addr);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let asked = Arc::new(AtomicBool::new(false));
            let service = {
                let asked = asked.clone();
                hyper::service::service_fn(move |req: Request<Incoming>| {
                    asked.store(true, Ordering::Relaxed);
                    let mut req = req.map(|body| Body::new(TimeoutBody::new(client_timeout, body)));
                    req.extensions_mut().extend(extensions.clone());
                    app.clone().oneshot(req)
                })
            };
            let conn =
                watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
            // hyper's header timeout covers HTTP/1.1 heads once the version is known; this
            // covers the version sniff before it, and HTTP/2's first request.
            let first_request = async {
                tokio::time::sleep(client_timeout).await;
                if asked.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                served = conn => if let Err(e) = served {
                    debug!(error = %e, "connection ended with an error");
                },
                () = first_request => debug!("no request within the client timeout: connection closed"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn builder(client_timeout: Duration) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_PING)
        .keep_alive_timeout(HTTP2_PING);
    builder
}
