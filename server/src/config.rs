//! Server configuration: flags, or `RENRAKU_*` environment variables (`DATABASE_URL` for the
//! database, as every sqlx tool expects).

use clap::Args;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_SESSION_IDLE_MINUTES: u64 = 30;
pub const DEFAULT_SESSION_ABSOLUTE_HOURS: u64 = 12;
pub const DEFAULT_ROOM_EVICT_MS: u64 = 30_000;
pub const DEFAULT_COMPACT_AFTER: usize = 500;
pub const DEFAULT_SEARCH_INDEX_MS: u64 = 1_000;
pub const DEFAULT_PROJECTION_MS: u64 = 200;
pub const DEFAULT_WS_MESSAGES_PER_SECOND: u32 = 100;
pub const DEFAULT_WS_MESSAGE_BURST: u32 = 400;
pub const DEFAULT_WS_SEND_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_HTTP_CLIENT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_WS_OUTBOX_BYTES: usize = 8 * 1024 * 1024;
pub const DEFAULT_WS_CONNECTIONS_PER_USER: usize = 8;
pub const DEFAULT_IMAGE_MAX_PIXELS: u64 = 50_000_000;
pub const DEFAULT_IMAGE_DECODE_MEMORY_MB: u64 = 256;
pub const DEFAULT_TILES_OFFLINE_BUDGET_MB: u64 = 50;
/// The tile set used when `--tiles` is not given, if it exists in the data directory.
pub const DEFAULT_TILES_FILE: &str = "tiles.mbtiles";
/// Subjects of a cluster's NATS messages start with this (see `nats_prefix`).
pub const DEFAULT_NATS_PREFIX: &str = "renraku";
pub const DEFAULT_CLUSTER_SWEEP_MS: u64 = 1000;
/// The project's private vulnerability reporting (see SECURITY.md).
pub const DEFAULT_SECURITY_CONTACT: &str = "mailto:security@renraku.example";

#[derive(Args, Clone)]
pub struct Config {
    /// Directory for the SQLite database (and, later, attachments).
    #[arg(
        long,
        env = "RENRAKU_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// `sqlite://…` or `postgres://…`; default: SQLite at `<data-dir>/renraku.db`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "RENRAKU_LISTEN", default_value = DEFAULT_LISTEN, global = true)]
    pub listen: SocketAddr,

    /// The URL people use to reach this server (behind a proxy, say); printed at start.
    #[arg(long, env = "RENRAKU_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// A session ends after this long without a request.
    #[arg(long, env = "RENRAKU_SESSION_IDLE_MINUTES", default_value_t = DEFAULT_SESSION_IDLE_MINUTES, global = true)]
    pub session_idle_minutes: u64,

    /// The app hides patient data behind a lock screen after this many seconds without a
    /// touch or key on the device, and asks for the password again; default: the session's
    /// idle timeout. 0: never.
    #[arg(long, env = "RENRAKU_APP_LOCK_SECONDS", global = true)]
    pub app_lock_seconds: Option<u64>,

    /// A session ends this long after sign-in, however active.
    #[arg(long, env = "RENRAKU_SESSION_ABSOLUTE_HOURS", default_value_t = DEFAULT_SESSION_ABSOLUTE_HOURS, global = true)]
    pub session_absolute_hours: u64,

    /// Omit the cookies' Secure attribute, for plain-HTTP development on a non-localhost name.
    #[arg(long, env = "RENRAKU_INSECURE_COOKIES", global = true)]
    pub insecure_cookies: bool,

    /// Behind a reverse proxy: take the client address (for sign-in throttling) from the last
    /// `X-Forwarded-For` entry. Without a proxy that sets it, clients could choose their own.
    #[arg(long, env = "RENRAKU_TRUST_PROXY", global = true)]
    pub trust_proxy: bool,

    /// Where vulnerabilities are reported, for `/.well-known/security.txt` (a `mailto:` or
    /// `https:` URI).
    #[arg(long, env = "RENRAKU_SECURITY_CONTACT", default_value = DEFAULT_SECURITY_CONTACT, global = true)]
    pub security_contact: String,

    /// A loaded room with no connections leaves memory after this many milliseconds.
    #[arg(long, env = "RENRAKU_ROOM_EVICT_MS", default_value_t = DEFAULT_ROOM_EVICT_MS, global = true)]
    pub room_evict_ms: u64,

    /// A room's update log is compacted into its snapshot once it holds this many updates.
    #[arg(long, env = "RENRAKU_COMPACT_AFTER", default_value_t = DEFAULT_COMPACT_AFTER, global = true)]
    pub compact_after: usize,

    /// Posts stored meanwhile go into SQLite's search index this often, together (a search
    /// finds them before as well; this only sets how many one index write takes).
    #[arg(long, env = "RENRAKU_SEARCH_INDEX_MS", default_value_t = DEFAULT_SEARCH_INDEX_MS, global = true)]
    pub search_index_ms: u64,

    /// On SQLite, what the sync hub acknowledged reaches the posts projection (room lists,
    /// search, acknowledgement lists, pushes) this much later, many posts in one write; a
    /// reader of those lists waits for it, so nobody sees one stale. Longer: fewer, larger
    /// writes; shorter: pushes and room-list updates sooner.
    #[arg(long, env = "RENRAKU_PROJECTION_MS", default_value_t = DEFAULT_PROJECTION_MS, global = true)]
    pub projection_ms: u64,

    /// Messages per second one WebSocket connection may send, sustained; a connection that
    /// exceeds its rate (after its burst) is closed with code 1008 and a reason.
    #[arg(long, env = "RENRAKU_WS_MESSAGES_PER_SECOND", default_value_t = DEFAULT_WS_MESSAGES_PER_SECOND, global = true)]
    pub ws_messages_per_second: u32,

    /// Messages one WebSocket connection may send at once before the rate applies.
    #[arg(long, env = "RENRAKU_WS_MESSAGE_BURST", default_value_t = DEFAULT_WS_MESSAGE_BURST, global = true)]
    pub ws_message_burst: u32,

    /// Largest WebSocket message read, in bytes (at most the protocol's 1 MiB); larger ones
    /// are answered `TooLarge`, and ones over 8× this close the connection.
    #[arg(long, env = "RENRAKU_WS_MAX_FRAME_BYTES", default_value_t = renraku_sync::frame::MAX_FRAME_BYTES, global = true)]
    pub ws_max_frame_bytes: usize,

    /// How long a client may take to send a whole request head (from opening the connection,
    /// or from its last answer when kept alive), and may fall silent within a request body;
    /// then the connection is closed, so clients that send nothing, or trickle, cannot hold
    /// connections.
    #[arg(long, env = "RENRAKU_HTTP_CLIENT_TIMEOUT_MS", default_value_t = DEFAULT_HTTP_CLIENT_TIMEOUT_MS, global = true)]
    pub http_client_timeout_ms: u64,

    /// A WebSocket send that has not finished after this many milliseconds (a client that
    /// stopped reading) closes the connection.
    #[arg(long, env = "RENRAKU_WS_SEND_TIMEOUT_MS", default_value_t = DEFAULT_WS_SEND_TIMEOUT_MS, global = true)]
    pub ws_send_timeout_ms: u64,

    /// Bytes queued for one WebSocket connection before it counts as too slow and is closed
    /// (1013); a message is queued while less than this waits, so larger rooms still open.
    #[arg(long, env = "RENRAKU_WS_OUTBOX_BYTES", default_value_t = DEFAULT_WS_OUTBOX_BYTES, global = true)]
    pub ws_outbox_bytes: usize,

    /// WebSocket connections one user may hold at once (the app needs one per open tab);
    /// more are closed at once with 1008 and a reason.
    #[arg(long, env = "RENRAKU_WS_CONNECTIONS_PER_USER", default_value_t = DEFAULT_WS_CONNECTIONS_PER_USER, global = true)]
    pub ws_connections_per_user: usize,

    /// WebSocket connections on this server at once; more are closed at once with 1013.
    /// Default: the open-files limit (raised to its hard limit at start) less a tenth of it
    /// (at least 256), which stays free for sign-in, the API and the database.
    #[arg(long, env = "RENRAKU_WS_MAX_CONNECTIONS", global = true)]
    pub ws_max_connections: Option<usize>,

    /// Photos with more pixels than this are refused from their header, before decoding.
    #[arg(long, env = "RENRAKU_IMAGE_MAX_PIXELS", default_value_t = DEFAULT_IMAGE_MAX_PIXELS, global = true)]
    pub image_max_pixels: u64,

    /// Memory all photo decodes (for thumbnails) may use at once, in MiB; uploads wait for
    /// their turn, and a photo that alone would need more is refused.
    #[arg(long, env = "RENRAKU_IMAGE_DECODE_MEMORY_MB", default_value_t = DEFAULT_IMAGE_DECODE_MEMORY_MB, global = true)]
    pub image_decode_memory_mb: u64,

    /// Terminate TLS here: the server's certificate chain (PEM). Needs `--tls-key`.
    #[arg(long, env = "RENRAKU_TLS_CERT", global = true, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The server's private key (PEM).
    #[arg(long, env = "RENRAKU_TLS_KEY", global = true, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Ask clients for a certificate issued by this CA (PEM). Optional at the TLS layer;
    /// municipalities whose policy requires one refuse their users without it.
    #[arg(
        long,
        env = "RENRAKU_TLS_CLIENT_CA",
        global = true,
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// The client CA's revocation list (PEM or DER); re-read when the file changes, and
    /// the live connections of users whose certificate it revokes are ended.
    #[arg(
        long,
        env = "RENRAKU_TLS_CRL",
        global = true,
        requires = "tls_client_ca"
    )]
    pub tls_crl: Option<PathBuf>,

    /// Largest attachment accepted, in bytes (checked while the upload streams).
    #[arg(long, env = "RENRAKU_ATTACHMENT_MAX_BYTES", default_value_t = crate::attachments::DEFAULT_MAX_BYTES, global = true)]
    pub attachment_max_bytes: u64,

    /// Where attachments are stored: unset → `<data-dir>/attachments/`; `s3://bucket/prefix`
    /// → S3 or a compatible service (credentials, region and `AWS_ENDPOINT` from the usual
    /// `AWS_*` variables); `file:///dir` → a directory.
    #[arg(long, env = "RENRAKU_ATTACHMENT_STORE", global = true)]
    pub attachment_store: Option<String>,

    /// The key that encrypts secrets at rest (TOTP secrets): a file holding 32 random bytes in
    /// hex, created on first start if missing. Default: `<data-dir>/secret.key`. Nodes that
    /// share a database must share this file; keep a copy apart from database backups.
    #[arg(long, env = "RENRAKU_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// Serve the web app from this directory (a `cargo xtask build-app` output) instead of
    /// the copy built into the binary: try a new app build without rebuilding the server.
    #[arg(long, env = "RENRAKU_APP_DIR", global = true)]
    pub app_dir: Option<PathBuf>,

    /// How push services reach the operator (the VAPID `sub` claim, a `mailto:` or `https:`
    /// URI); default: the security contact.
    #[arg(long, env = "RENRAKU_PUSH_CONTACT", global = true)]
    pub push_contact: Option<String>,

    /// Accept plain-`http` push endpoints (a local push service for tests). Off by default:
    /// the server POSTs to whatever endpoint a browser registers.
    #[arg(long, env = "RENRAKU_PUSH_ALLOW_HTTP", global = true)]
    pub push_allow_http: bool,

    /// A Japanese font (TrueType/OpenType, or a collection such as Noto Sans CJK's `.ttc`) for
    /// the PDF export of a patient's record; its glyphs are embedded in each PDF (only those
    /// used). Default: the first of Debian's `fonts-ipaexfont-gothic`, `fonts-noto-cjk`,
    /// `fonts-ipafont-gothic` or `fonts-vlgothic` that is installed.
    #[arg(long, env = "RENRAKU_PDF_FONT", global = true)]
    pub pdf_font: Option<PathBuf>,

    /// Map tiles for the 要援護者マップ: an MBTiles file of raster tiles (PNG, JPEG or WebP)
    /// of the region, served at `/api/tiles/…`. Default: `<data-dir>/tiles.mbtiles` if it
    /// exists; without tiles the map shows its markers on a plain background.
    #[arg(long, env = "RENRAKU_TILES", global = true)]
    pub tiles: Option<PathBuf>,

    /// The most the app's offline copy of the map may take, in MiB: `/api/tiles/offline`
    /// lists the tiles of an area zoom by zoom up to this total.
    #[arg(long, env = "RENRAKU_TILES_OFFLINE_BUDGET_MB", default_value_t = DEFAULT_TILES_OFFLINE_BUDGET_MB, global = true)]
    pub tiles_offline_budget_mb: u64,

    /// Add the demo municipality (`/demo/`, one shared and published password) if it is
    /// missing. For trying Renraku out, never on a server with real patients. A flag and
    /// no environment variable, so a production environment file cannot carry it.
    #[arg(long, global = true)]
    pub demo: bool,

    /// Several nodes: the NATS server (`nats://host:4222`, or several of a NATS cluster,
    /// comma-separated) through which this node announces
    /// the room updates it stored and hears those of the other nodes, and passes on
    /// decisions that close sockets (a session ended, an account disabled). Needs
    /// PostgreSQL, which all nodes share and which stays the source of truth. Unset: one
    /// node.
    #[arg(long, env = "RENRAKU_NATS_URL", global = true)]
    pub nats_url: Option<String>,

    /// The first part of every NATS subject this cluster uses: nodes of one deployment share
    /// it; two deployments on one NATS server (staging beside production) must not.
    #[arg(long, env = "RENRAKU_NATS_PREFIX", default_value = DEFAULT_NATS_PREFIX, global = true)]
    pub nats_prefix: String,

    /// Several nodes: how often (ms) each node compares its loaded rooms with the database's
    /// newest updates, and reads what it missed — the longest a message NATS lost (or NATS
    /// being down) delays a post on other nodes. One query per node each time.
    #[arg(long, env = "RENRAKU_CLUSTER_SWEEP_MS", default_value_t = DEFAULT_CLUSTER_SWEEP_MS, global = true)]
    pub cluster_sweep_ms: u64,
}

impl Config {
    /// The defaults, with data in `data_dir`; for tests and embedding, where no flags exist.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            public_url: None,
            session_idle_minutes: DEFAULT_SESSION_IDLE_MINUTES,
            session_absolute_hours: DEFAULT_SESSION_ABSOLUTE_HOURS,
            app_lock_seconds: None,
            insecure_cookies: false,
            trust_proxy: false,
            security_contact: DEFAULT_SECURITY_CONTACT.to_owned(),
            room_evict_ms: DEFAULT_ROOM_EVICT_MS,
            compact_after: DEFAULT_COMPACT_AFTER,
            search_index_ms: DEFAULT_SEARCH_INDEX_MS,
            projection_ms: DEFAULT_PROJECTION_MS,
            ws_messages_per_second: DEFAULT_WS_MESSAGES_PER_SECOND,
            ws_message_burst: DEFAULT_WS_MESSAGE_BURST,
            ws_max_frame_bytes: renraku_sync::frame::MAX_FRAME_BYTES,
            http_client_timeout_ms: DEFAULT_HTTP_CLIENT_TIMEOUT_MS,
            ws_send_timeout_ms: DEFAULT_WS_SEND_TIMEOUT_MS,
            ws_outbox_bytes: DEFAULT_WS_OUTBOX_BYTES,
            ws_connections_per_user: DEFAULT_WS_CONNECTIONS_PER_USER,
            ws_max_connections: None,
            image_max_pixels: DEFAULT_IMAGE_MAX_PIXELS,
            image_decode_memory_mb: DEFAULT_IMAGE_DECODE_MEMORY_MB,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_crl: None,
            attachment_max_bytes: crate::attachments::DEFAULT_MAX_BYTES,
            attachment_store: None,
            secret_key_file: None,
            app_dir: None,
            push_contact: None,
            push_allow_http: false,
            pdf_font: None,
            tiles: None,
            tiles_offline_budget_mb: DEFAULT_TILES_OFFLINE_BUDGET_MB,
            demo: false,
            nats_url: None,
            nats_prefix: DEFAULT_NATS_PREFIX.into(),
            cluster_sweep_ms: DEFAULT_CLUSTER_SWEEP_MS,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("renraku.db").display()),
        }
    }

    pub fn hub(&self) -> crate::hub::HubConfig {
        crate::hub::HubConfig {
            evict_after: Duration::from_millis(self.room_evict_ms),
            compact_after: self.compact_after.max(1),
            search_index_every: Duration::from_millis(self.search_index_ms.max(1)),
            project_every: Duration::from_millis(self.projection_ms.max(1)),
            caps: self.ws_caps(crate::listener::open_files_limit()),
        }
    }

    /// Per-connection WebSocket limits; the frame size never exceeds what the decoder takes.
    pub fn ws_limits(&self) -> crate::hub::ConnLimits {
        crate::hub::ConnLimits {
            messages_per_second: self.ws_messages_per_second,
            message_burst: self.ws_message_burst.max(1),
            max_frame_bytes: self
                .ws_max_frame_bytes
                .clamp(1, renraku_sync::frame::MAX_FRAME_BYTES),
            send_timeout: Duration::from_millis(self.ws_send_timeout_ms.max(1)),
            outbox_bytes: self.ws_outbox_bytes.max(1),
        }
    }

    /// How many WebSockets are served at once, per user and in all, given the process's
    /// open-files limit (every socket is a file descriptor).
    pub fn ws_caps(&self, open_files: u64) -> crate::hub::ConnCaps {
        let reserve = (open_files / 10).max(256);
        let derived = usize::try_from(open_files.saturating_sub(reserve))
            .unwrap_or(usize::MAX)
            .max(1);
        crate::hub::ConnCaps {
            per_user: self.ws_connections_per_user.max(1),
            total: self.ws_max_connections.unwrap_or(derived).max(1),
        }
    }

    /// Photo decoding limits (thumbnails): pixels per image, and memory for all at once.
    pub fn photo_limits(&self) -> crate::attachments::photo::PhotoLimits {
        crate::attachments::photo::PhotoLimits {
            max_pixels: self.image_max_pixels.max(1),
            decode_memory_bytes: self.image_decode_memory_mb.max(1) * 1024 * 1024,
        }
    }

    /// The map tiles to serve: `--tiles`, else `<data-dir>/tiles.mbtiles` when it exists.
    pub fn tiles_path(&self) -> Option<PathBuf> {
        match &self.tiles {
            Some(path) => Some(path.clone()),
            None => Some(self.data_dir.join(DEFAULT_TILES_FILE)).filter(|p| p.exists()),
        }
    }

    pub fn secret_key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    pub fn http_client_timeout(&self) -> Duration {
        Duration::from_millis(self.http_client_timeout_ms.max(1))
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes * 60)
    }

    /// Idle time after which the app locks itself (see `app_lock_seconds`); zero: never.
    pub fn app_lock(&self) -> Duration {
        match self.app_lock_seconds {
            Some(secs) => Duration::from_secs(secs),
            None => self.session_idle(),
        }
    }

    pub fn session_absolute(&self) -> Duration {
        Duration::from_secs(self.session_absolute_hours * 3600)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url()))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_absolute_hours", &self.session_absolute_hours)
            .field("app_lock_seconds", &self.app_lock_seconds)
            .field("insecure_cookies", &self.insecure_cookies)
            .field("trust_proxy", &self.trust_proxy)
            .field("tiles", &self.tiles)
            .field("demo", &self.demo)
            .field("nats_url", &self.nats_url.as_deref().map(redact_url))
            .field("nats_prefix", &self.nats_prefix)
            .field("cluster_sweep_ms", &self.cluster_sweep_ms)
            .finish()
    }
}

/// Hides the password of `scheme://user:password@host/…`, so URLs can be logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The userinfo ends at the last '@' before the path: passwords may contain '@'.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db:5432/renraku"),
            "postgres://app:***@db:5432/renraku"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("sqlite://./data/renraku.db"),
            "sqlite://./data/renraku.db"
        );
        let mut config = Config::with_data_dir("/tmp/x");
        config.database_url = Some("postgres://u:hunter2@h/d".into());
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
