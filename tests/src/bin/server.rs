//! The `renraku` binary under another name, so integration tests can spawn it (cargo gives
//! tests the paths of their own package's binaries only).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    renraku_server::init_tracing();
    renraku_server::run_cli().await
}
