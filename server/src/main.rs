#[tokio::main]
async fn main() -> anyhow::Result<()> {
    renraku_server::init_tracing();
    renraku_server::run_cli().await
}
