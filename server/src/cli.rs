//! `renraku serve | migrate | demo`.

use crate::config::{redact_url, Config};
use crate::{demo, prepare, serve_state, AppState, Db};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "renraku",
    version,
    about = "Renraku 連絡帳: realtime contact book for home care"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Add the demo municipality (`/demo/`) with its people, patients and rooms.
    Demo,
}

pub async fn run_cli() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let addr = listener.local_addr()?;
            let db_url = redact_url(&config.database_url());
            let public = config.public_url.clone();
            // Prepare before printing, so "listening" means ready to answer.
            let db = prepare(&config).await?;
            tracing::info!(database = %db_url, "database ready");
            // Machine-readable: the test harness parses this line to learn a port-0 address.
            println!("listening on http://{addr}");
            if let Some(url) = public {
                println!("public URL: {url}");
            }
            print_demo_logins(public_base(&config, addr).as_str());
            serve_state(AppState::new(config, db), listener, shutdown_signal()).await
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url()).await?;
            db.migrate().await?;
            println!("migrated {}", redact_url(&config.database_url()));
            Ok(())
        }
        Command::Demo => {
            let db = Db::connect(&config.database_url()).await?;
            db.migrate().await?;
            if db.municipality_by_slug(demo::SLUG).await?.is_some() {
                println!("the demo municipality already exists");
            } else {
                demo::seed(&db).await?;
                println!("added the demo municipality");
            }
            print_demo_logins(&public_base(&config, config.listen));
            Ok(())
        }
    }
}

fn public_base(config: &Config, addr: std::net::SocketAddr) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
}

fn print_demo_logins(base: &str) {
    println!(
        "demo: {}/{}/  password: {}",
        base.trim_end_matches('/'),
        demo::SLUG,
        demo::DEMO_PASSWORD
    );
    for login in demo::DEMO_LOGINS {
        println!(
            "  {:<10} {} ({})",
            login.login_id, login.display_name, login.description
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
