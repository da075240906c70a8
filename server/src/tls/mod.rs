//! TLS termination in `renraku serve` (rustls), with optional client certificates (mTLS).
//!
//! A client certificate is optional at the TLS layer: the server asks for one issued by the
//! configured CA, refuses a handshake with a certificate that CA did not issue (or that its
//! CRL revokes), and lets clients without one through. Whether a request needs one is the
//! municipality's policy, checked per request by [`guard`] against the certificates
//! registered to the user.
//!
//! The CRL file is polled; when it changes, new handshakes use it at once and the live
//! connections of every user whose registered certificate it revokes are ended.

mod policy;

pub use policy::{fingerprint, guard, PresentedCertificate};

use crate::db::audit::AuditEntry;
use crate::domain::audit::AuditAction;
use crate::AppState;
use anyhow::{bail, Context};
use axum::extract::ConnectInfo;
use axum::http::Extensions;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore, ServerConfig};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, info, warn};

/// How often the CRL file is looked at: a revocation ends live connections within this
/// (plus the time the sockets take to close).
const CRL_POLL: Duration = Duration::from_millis(250);
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The files `renraku serve` terminates TLS with.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub crl: Option<PathBuf>,
}

impl TlsFiles {
    /// From the configuration; `None` when TLS is not configured (plain HTTP).
    pub fn from_config(config: &crate::Config) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: config.tls_cert.clone()?,
            key: config.tls_key.clone()?,
            client_ca: config.tls_client_ca.clone(),
            crl: config.tls_crl.clone(),
        })
    }
}

struct Loaded {
    server: Arc<ServerConfig>,
    /// The client certificate verifier, when a client CA is configured.
    verifier: Option<Arc<dyn ClientCertVerifier>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing certificates in {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

fn read_crl(path: &Path) -> anyhow::Result<CertificateRevocationListDer<'static>> {
    match CertificateRevocationListDer::from_pem_file(path) {
        Ok(crl) => Ok(crl),
        // Not PEM: DER, as CAs often publish it.
        Err(_) => Ok(CertificateRevocationListDer::from(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )),
    }
}

fn load(files: &TlsFiles) -> anyhow::Result<Loaded> {
    let provider = provider();
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading the private key in {}", files.key.display()))?;
    let verifier = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots
                    .add(cert)
                    .with_context(|| format!("a CA certificate in {}", ca.display()))?;
            }
            let crls = match &files.crl {
                Some(crl) => vec![read_crl(crl)?],
                None => Vec::new(),
            };
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .with_crls(crls)
                    .allow_unauthenticated()
                    .build()
                    .context("the client CA or its CRL")?;
            Some(verifier)
        }
        None => None,
    };
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match &verifier {
        Some(v) => builder.with_client_cert_verifier(v.clone()),
        None => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .context("the server certificate and key")?;
    // HTTP/1.1 only: WebSockets upgrade over it in every browser.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Loaded {
        server: Arc::new(server),
        verifier,
    })
}

/// Checks the configured files, so `renraku serve` fails at start, not at the first client.
pub fn check(files: &TlsFiles) -> anyhow::Result<()> {
    load(files).map(|_| ())
}

/// Serves HTTPS until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    files: TlsFiles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let loaded = load(&files)?;
    if loaded.verifier.is_none() {
        warn_if_policy_unmet(&state).await;
    }
    let current = Arc::new(RwLock::new(loaded.server));
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    if files.crl.is_some() {
        tokio::spawn(watch_crl(
            state.clone(),
            files.clone(),
            current.clone(),
            tx.clone(),
        ));
    }
    tokio::spawn(accept_loop(listener, current, tx));
    let client_timeout = state.config.http_client_timeout();
    let app = crate::router(state);
    crate::connections::serve(
        TlsListener { rx, local },
        app,
        client_timeout,
        describe,
        shutdown,
    )
    .await;
    Ok(())
}

async fn warn_if_policy_unmet(state: &AppState) {
    if let Ok(n) = state
        .db
        .municipalities_requiring_client_certificates()
        .await
    {
        if n > 0 {
            warn!(
                municipalities = n,
                "client certificates are required but no client CA is configured: \
                 their users cannot sign in"
            );
        }
    }
}

/// Accepts TCP connections and runs each handshake in its own task, so a slow client
/// cannot hold up the others.
async fn accept_loop(
    listener: TcpListener,
    current: Arc<RwLock<Arc<ServerConfig>>>,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (tcp, addr) = tokio::select! {
            _ = ready.closed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let config = current.read().expect("TLS config lock").clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(config).accept(tcp))
                .await
            {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, addr)).await;
                }
                Ok(Err(e)) => debug!(error = %e, "TLS handshake refused"),
                Err(_) => debug!("TLS handshake timed out"),
            }
        });
    }
}

/// Connections whose handshake is complete, for `axum::serve`.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// What a TLS connection tells its requests: the peer address, in the form plain HTTP gives
/// it (for throttling), and the client certificate, for [`guard`].
fn describe(tls: &TlsStream<TcpStream>, addr: &SocketAddr) -> Extensions {
    let (_, conn) = tls.get_ref();
    let certificate = PresentedCertificate(
        conn.peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| fingerprint(leaf.as_ref())),
    );
    let mut extensions = Extensions::new();
    extensions.insert(ConnectInfo(*addr));
    extensions.insert(certificate);
    extensions
}

/// Re-reads the CRL whenever its content changes; see the module comment.
async fn watch_crl(
    state: AppState,
    files: TlsFiles,
    current: Arc<RwLock<Arc<ServerConfig>>>,
    alive: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let Some(path) = files.crl.clone() else {
        return;
    };
    let mut seen = std::fs::read(&path).ok();
    let mut tick = tokio::time::interval(CRL_POLL);
    loop {
        tick.tick().await;
        if alive.is_closed() {
            return; // the server stopped
        }
        let now = std::fs::read(&path).ok();
        if now.is_none() || now == seen {
            continue;
        }
        seen = now;
        match load(&files) {
            Ok(loaded) => {
                *current.write().expect("TLS config lock") = loaded.server;
                info!("client certificate revocation list reloaded");
                if let Some(verifier) = loaded.verifier {
                    end_revoked(&state, verifier.as_ref()).await;
                }
            }
            Err(e) => {
                error!(error = %format!("{e:#}"), "the new CRL does not load; keeping the previous one")
            }
        }
    }
}

/// Marks every registered certificate the verifier now refuses as revoked, and ends its
/// owner's live connections.
async fn end_revoked(state: &AppState, verifier: &dyn ClientCertVerifier) {
    let live = match state.db.live_client_certificates().await {
        Ok(live) => live,
        Err(e) => {
            error!(error = %e, "listing client certificates failed");
            return;
        }
    };
    for (cert, der) in live {
        let verdict = verifier.verify_client_cert(&CertificateDer::from(der), &[], UnixTime::now());
        let Err(rustls::Error::InvalidCertificate(CertificateError::Revoked)) = verdict else {
            continue;
        };
        if let Err(e) = revoke(
            state,
            cert.id,
            cert.user,
            AuditAction::ClientCertificateRevokedByCrl,
            None,
        )
        .await
        {
            error!(error = %e, "recording a CRL revocation failed");
        }
    }
}

/// Records a revocation and closes the owner's sockets; how many were closed, `None` if the
/// certificate was revoked already. Used by the CRL watcher and the administrators' API.
pub async fn revoke(
    state: &AppState,
    id: i64,
    user: renraku_sync::UserId,
    action: AuditAction,
    by: Option<(renraku_sync::UserId, renraku_sync::MunicipalityId)>,
) -> crate::Result<Option<usize>> {
    if !state.db.revoke_client_certificate(id).await? {
        return Ok(None);
    }
    let mut entry =
        AuditEntry::new(action, format!("client_certificate/{id}")).detail(format!("user {user}"));
    if let Some((admin, municipality)) = by {
        entry = entry.by(admin, municipality);
    }
    // Sockets first: they must close within a second, whatever the audit write does.
    let closed = state
        .hub
        .disconnect_user(user, renraku_sync::SessionEnd::CertificateRevoked);
    info!(user.id = %user, sockets = closed, "client certificate revoked; connections ended");
    state.db.audit(entry).await?;
    Ok(Some(closed))
}
