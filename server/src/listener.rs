//! The plain-TCP listener and the open-files limit it lives within.
//!
//! Every connection is a file descriptor. At start the soft limit is raised to the hard
//! one (distributions often start services at 1024), and the WebSocket caps are set below
//! it (`Config::ws_caps`), so sockets cannot take the descriptors that sign-in, the API and
//! the database need. Should the process still run out (`EMFILE`), the accept loop neither
//! stops nor sleeps for a second as `axum::serve`'s own does: it closes the waiting
//! connection at once with a descriptor kept in reserve for that purpose, so clients get a
//! prompt refusal instead of hanging in the backlog, and the next accept is tried at once.

use futures_util::FutureExt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tracing::{error, warn};

/// Raises the soft open-files limit to the hard limit; returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by reference.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

/// The soft open-files limit in force.
pub fn open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur
}

/// A TCP listener for `axum::serve` that survives running out of file descriptors.
pub struct Listener {
    inner: TcpListener,
    /// Closed to make room for accepting (and at once closing) one connection when the
    /// process is out of descriptors.
    reserve: Option<std::fs::File>,
    last_warning: Option<Instant>,
}

impl Listener {
    pub fn new(inner: TcpListener) -> Self {
        Self {
            inner,
            reserve: std::fs::File::open("/dev/null").ok(),
            last_warning: None,
        }
    }

    /// Refuses one waiting connection using the reserve descriptor.
    async fn shed(&mut self) {
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
        {
            error!("out of file descriptors: refusing new connections; raise the open-files limit or lower RENRAKU_WS_MAX_CONNECTIONS");
            self.last_warning = Some(now);
        }
        let shed = match self.reserve.take() {
            Some(reserve) => {
                drop(reserve);
                let waiting = self.inner.accept().now_or_never();
                self.reserve = std::fs::File::open("/dev/null").ok();
                matches!(waiting, Some(Ok(_)))
            }
            None => {
                self.reserve = std::fs::File::open("/dev/null").ok();
                false
            }
        };
        if !shed {
            // Nothing to refuse, or no descriptor even for that: let other tasks run (and
            // close sockets) before trying again, without stalling for long.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl axum::serve::Listener for Listener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok(pair) => return pair,
                Err(e) if is_connection_error(&e) => {}
                Err(e) if out_of_descriptors(&e) => self.shed().await,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
