//! Renraku server: HTTP API, authentication, tenancy, persistence and the room sync hub.
//!
//! A library with a thin `main.rs`, so tests start the real server in-process on port 0
//! with a fresh database each: [`prepare`] then [`serve_state`], or just [`serve`].

pub mod acks;
pub mod assets;
pub mod attachments;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connections;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod import_export;
pub mod listener;
pub mod memory;
pub mod provision;
pub mod push;
pub mod record;
pub mod register_csv;
pub mod tiles;
pub mod tls;

pub use cli::run_cli;
pub use clock::Clock;
pub use config::Config;
pub use db::Db;
pub use error::{Error, Result};

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub hub: hub::Hub,
    pub throttle: auth::Throttle,
    pub attachments: attachments::Store,
    /// Photo decoding (thumbnails), bounded in memory.
    pub photos: attachments::photo::DecodePool,
    /// The WebAuthn relying party (passkeys); `None` when the public URL has no domain name.
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// Encrypts secrets at rest (TOTP secrets).
    pub sealer: auth::sealed::Sealer,
    /// The time sessions and room tokens live by.
    pub clock: Clock,
    /// How far the acknowledgement scheduler has got (`acks.rs`).
    pub ack_progress: acks::Progress,
    /// The PDF export's Japanese font, read at the first PDF export (a missing font is
    /// looked for again next time: the operator may install one without a restart).
    pub pdf_font: tokio::sync::OnceCell<record::pdf::PdfFont>,
    /// The map tiles (`--tiles`), opened at the first map.
    pub tiles: tiles::Tiles,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        Self::with_clock(config, db, Clock::system())
    }

    /// [`AppState::new`] with a clock for sessions and room tokens (tests pass a manual one).
    pub fn with_clock(config: Config, db: Db, clock: Clock) -> Self {
        // Before the caps are derived from it (`Config::ws_caps`).
        listener::raise_open_files_limit();
        let hub = hub::Hub::new(db.clone(), config.hub());
        let photos = attachments::photo::DecodePool::new(config.photo_limits());
        // `prepare` has already checked the attachment store's configuration.
        let attachments =
            attachments::Store::from_config(&config).expect("attachment store configured");
        let webauthn = match auth::passkey::relying_party(&config) {
            Ok(rp) => Some(rp),
            Err(why) => {
                tracing::warn!("passkeys unavailable: {why}");
                None
            }
        };
        // `prepare` has already read (or created) the key.
        let sealer = auth::sealed::Sealer::from_config(&config).expect("secret key readable");
        let tiles = tiles::Tiles::from_config(&config);
        let throttle = auth::Throttle::new(db.clone(), clock.clone());
        Self {
            inner: Arc::new(Inner {
                webauthn,
                sealer,
                config,
                db,
                hub,
                throttle,
                attachments,
                clock,
                photos,
                ack_progress: acks::Progress::default(),
                pdf_font: tokio::sync::OnceCell::new(),
                tiles,
            }),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// Logs to stderr (stdout carries the machine-readable `listening on` line), filtered by
/// `RUST_LOG`, `info` by default.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The whole HTTP surface: API, sync endpoints, the embedded app.
pub fn router(state: AppState) -> axum::Router {
    http::router(state)
}

/// Connects to the configured database and migrates it; adds the demo municipality only when
/// `config.demo` asks for it (a real deployment starts empty: `renraku init`).
pub async fn prepare(config: &Config) -> Result<Db> {
    cluster::check(config)?;
    attachments::Store::from_config(config)?;
    // A bad tile file fails the start, with a message naming it.
    tiles::check(config).await?;
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    let sealer = auth::sealed::Sealer::from_config(config)?;
    let sealed = auth::sealed::seal_plaintext_totp(&db, &sealer).await?;
    if sealed > 0 {
        tracing::info!(
            values = sealed,
            "encrypted TOTP secrets stored in the clear"
        );
    }
    if config.demo && demo::ensure(&db).await? {
        tracing::info!("seeded the demo municipality");
    }
    // Rooms written before the posts projection existed (and the demo data) get their rows.
    let projected = db.backfill_projection().await?;
    if projected > 0 {
        tracing::info!(rooms = projected, "projected rooms' posts");
    }
    // What a crash left between an acknowledgement and its projection (SQLite, where the
    // projection follows the log) is projected before the hub takes writes.
    let caught_up = db.project_past_marks().await?;
    if caught_up > 0 {
        tracing::info!(rooms = caught_up, "projected rooms' logs past their marks");
    }
    // Posts projected before search existed get their search columns.
    let filled = db.fill_search_columns().await?;
    if filled > 0 {
        tracing::info!(posts = filled, "indexed posts for search");
    }
    push::vapid::ensure(&db).await?;
    Ok(db)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = prepare(&config).await?;
    serve_state(AppState::new(config, db), listener, shutdown).await
}

/// [`serve`] with state built by the caller (tests keep a handle on its database).
pub async fn serve_state(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Sends queued web pushes while the server runs.
    let _push = push::spawn_worker(state.db.clone(), &state.config);
    // Closes members' open sockets when a maintenance window opens.
    let _maintenance = hub::maintenance::spawn_watcher(state.clone());
    // Ends expired sessions' sockets, and forgets expired sessions and tokens.
    let _sweeper = auth::sweeper::spawn(state.clone());
    // Pushes at acknowledgement requests' deadlines, and once more later.
    let _acks = acks::spawn(state.clone());
    // Several nodes: hear the others, and tell them.
    let _cluster = match cluster::Cluster::connect(&state.config).await? {
        Some(cluster) => Some(state.hub.join_cluster(cluster)),
        None => None,
    };
    if let Some(files) = tls::TlsFiles::from_config(&state.config) {
        return tls::serve(state, listener, files, shutdown).await;
    }
    let client_timeout = state.config.http_client_timeout();
    // Without `TCP_NODELAY`, a frame written while the last one to the same socket is not
    // yet acknowledged waits for that acknowledgement, which the client may delay by up to
    // 40 ms (Nagle's algorithm against delayed ACKs); the TLS listener sets it too.
    use axum::serve::ListenerExt;
    let listener = listener::Listener::new(listener).tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // With the peer address: sign-in throttling counts failures per client address.
    let describe = |_: &_, addr: &std::net::SocketAddr| {
        let mut extensions = axum::http::Extensions::new();
        extensions.insert(axum::extract::ConnectInfo(*addr));
        extensions
    };
    connections::serve(listener, router(state), client_timeout, describe, shutdown).await;
    Ok(())
}
