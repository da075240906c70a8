//! The real `renraku` binary as a child process, for crash tests: started on a loopback port
//! chosen by the OS, killed with SIGKILL, restarted on the same storage (the nodes of a
//! [`crate::cluster::Cluster`] are such processes).

use anyhow::{anyhow, Context, Result};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServerProcess {
    child: Child,
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `bin serve` with `args` on a free loopback port and waits for its
    /// `listening on http://…` line.
    pub async fn spawn(bin: &str, args: &[String]) -> Result<ServerProcess> {
        Self::spawn_at(bin, "127.0.0.1:0", args).await
    }

    /// [`spawn`](Self::spawn) listening on `listen`: a node restarted where its load
    /// balancer expects it.
    pub async fn spawn_at(bin: &str, listen: &str, args: &[String]) -> Result<ServerProcess> {
        // The child's log goes where the canary check reads it (see `logs`).
        let (stderr, filter) = match crate::logs::child_log() {
            Some((file, filter)) => (Stdio::from(file), filter),
            None => (Stdio::inherit(), "warn".to_owned()),
        };
        let mut child = Command::new(bin)
            .arg("serve")
            .args(["--listen", listen])
            .args(args)
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let base_url = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return Ok(rest.trim().trim_end_matches('/').to_owned());
                }
            }
            Err(anyhow!("the server exited before listening"))
        })
        .await
        .map_err(|_| anyhow!("the server did not start in time"))??;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, base_url })
    }

    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base_url.replacen("http", "ws", 1))
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.
    pub async fn kill_9(mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
