//! `renraku serve | migrate | init | demo | set-password | second-factor-policy | backup |
//! restore | import | export | audit | tiles`.

use crate::config::{redact_url, Config};
use crate::db::audit::AuditEntry;
use crate::domain::audit::AuditAction;
use crate::provision::{self, AccountSpec, Provisioned};
use crate::{auth, backup, demo, prepare, serve_state, AppState, Db};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    /// Create a real municipality and its first administrator, or a system administrator,
    /// each with a one-time password printed once that must be changed at the first sign-in.
    Init {
        #[command(subcommand)]
        command: InitCommand,
    },
    /// Add the demo municipality (`/demo/`) with its people, patients and rooms. Its password
    /// is published: never on a server with real patients.
    Demo,
    /// Set an account's password, read from the first line of stdin (never from the command
    /// line, which other users can see in the process list). Ends the account's sessions.
    SetPassword {
        /// The municipality's URL segment, e.g. `demo`.
        municipality: String,
        /// The account's login id.
        login: String,
    },
    /// Whether a municipality's professionals must sign in with a second factor (TOTP).
    SecondFactorPolicy {
        municipality: String,
        #[arg(value_enum)]
        policy: SecondFactorPolicy,
    },
    /// Copy the SQLite database (consistently, while the server may run) and the attachment
    /// store into DEST_DIR, a new or empty directory, with a MANIFEST.json of checksums. On
    /// PostgreSQL, prints how to use pg_dump instead.
    Backup {
        #[arg(value_name = "DEST_DIR")]
        dest: PathBuf,
    },
    /// Load municipalities, organizations, users, patients, rooms, members, posts,
    /// reactions and pins from a JSON file (docs/import-format.md). All or nothing; running
    /// it again duplicates nothing.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write everything to a JSON file in the import format.
    Export {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Include argon2 password hashes (the file then holds secrets: guard it).
        #[arg(long)]
        with_password_hashes: bool,
    },
    /// The audit log: `renraku audit verify`.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Map tiles: `renraku tiles demo --out FILE`.
    Tiles {
        #[command(subcommand)]
        command: TilesCommand,
    },
    /// Verify a backup against its MANIFEST.json and restore it into the data directory.
    /// Stop the server first.
    Restore {
        #[arg(value_name = "BACKUP_DIR")]
        backup: PathBuf,
        /// Replace a database that already holds data, and skip the check for a running server.
        #[arg(long)]
        force: bool,
    },
}

/// `renraku init …`
#[derive(Subcommand, Debug)]
enum InitCommand {
    /// A new municipality (refused if SLUG exists) and its first administrator.
    Municipality {
        /// The URL segment (`https://…/SLUG/`): 2–40 lower-case letters, digits or '-'.
        slug: String,
        /// The municipality's name as people read it, e.g. さくら市.
        #[arg(long)]
        name: String,
        /// The administrator's login id.
        #[arg(long)]
        admin: String,
        /// The administrator's display name.
        #[arg(long, default_value = "管理者")]
        admin_name: String,
        /// Its reading in kana (sorts the directory).
        #[arg(long, default_value = "かんりしゃ")]
        admin_kana: String,
    },
    /// A system administrator (manages every municipality and the maintenance windows),
    /// signing in at an existing municipality's address. Refused if LOGIN exists there.
    SystemAdmin {
        /// The municipality whose sign-in page the system administrator uses.
        municipality: String,
        /// The login id.
        login: String,
        #[arg(long, default_value = "システム管理者")]
        name: String,
        #[arg(long, default_value = "しすてむかんりしゃ")]
        kana: String,
    },
}

/// `renraku tiles …`
#[derive(Subcommand, Debug)]
enum TilesCommand {
    /// Write the demo's own map (a fictional town, raster PNG tiles at zooms 12–16, well
    /// under 2 MB) as an MBTiles file, replacing FILE.
    Demo {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `renraku audit …`
#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute the audit log's hash chain; exits non-zero if a row was changed, deleted or
    /// added outside the server.
    Verify,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum SecondFactorPolicy {
    Required,
    Optional,
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
            if config.demo {
                demo_tiles(&config).await?;
            }
            // Prepare before printing, so "listening" means ready to answer.
            let db = prepare(&config).await?;
            tracing::info!(database = %db_url, "database ready");
            let tls = crate::tls::TlsFiles::from_config(&config);
            if let Some(files) = &tls {
                // Bad certificate files fail the start, not the first client.
                crate::tls::check(files)?;
            }
            let scheme = if tls.is_some() { "https" } else { "http" };
            // Machine-readable: the test harness parses this line to learn a port-0 address.
            println!("listening on {scheme}://{addr}");
            if let Some(url) = public {
                println!("public URL: {url}");
            }
            // Only where the demo exists: a real deployment must not advertise its password.
            if db.municipality_by_slug(demo::SLUG).await?.is_some() {
                print_demo_logins(public_base(&config, addr).as_str());
            }
            serve_state(AppState::new(config, db), listener, shutdown_signal()).await
        }
        Command::Migrate => {
            migrated(&config).await?;
            println!("migrated {}", redact_url(&config.database_url()));
            Ok(())
        }
        Command::Init { command } => init(&config, command).await,
        Command::Demo => {
            demo_tiles(&config).await?;
            let db = migrated(&config).await?;
            if demo::ensure(&db).await? {
                println!("added the demo municipality");
            } else {
                println!("the demo municipality already exists");
            }
            print_demo_logins(&public_base(&config, config.listen));
            Ok(())
        }
        Command::SetPassword {
            municipality,
            login,
        } => {
            let (db, m) = open_municipality(&config, &municipality).await?;
            let user = db
                .user_by_login(m.id, &login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account {login:?} in {municipality:?}"))?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            auth::check_new_password(&password, &login)?;
            let hash = auth::hash_password(password).await?;
            db.set_password_hash(user.id, &hash).await?;
            // Another process: a running server closes these sessions' sockets when its
            // sweeper finds them gone.
            let ended = db.revoke_other_sessions(user.id, None).await?.len();
            let entry = AuditEntry::new(AuditAction::PasswordSetByCli, login.clone())
                .in_municipality(m.id)
                .detail(format!("sessions ended: {ended}"));
            db.audit(entry).await?;
            println!("password of {login} in {municipality} set; {ended} session(s) ended");
            Ok(())
        }
        Command::SecondFactorPolicy {
            municipality,
            policy,
        } => {
            let (db, m) = open_municipality(&config, &municipality).await?;
            let required = matches!(policy, SecondFactorPolicy::Required);
            db.set_require_second_factor(m.id, required).await?;
            let entry = AuditEntry::new(AuditAction::PolicySecondFactor, municipality.clone())
                .in_municipality(m.id)
                .detail(if required { "required" } else { "optional" });
            db.audit(entry).await?;
            println!("{municipality}: second factor {policy:?}");
            Ok(())
        }
        Command::Import { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let dataset = crate::import_export::parse(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: nothing imported: {e}", file.display()))?;
            let db = migrated(&config).await?;
            let report = crate::import_export::import(&db, &dataset).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Export {
            file,
            with_password_hashes,
        } => {
            let db = migrated(&config).await?;
            let dataset = crate::import_export::export(&db, with_password_hashes).await?;
            let json = serde_json::to_vec_pretty(&dataset)?;
            std::fs::write(&file, json)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            println!(
                "exported {} room(s), {} user(s) to {}",
                dataset.rooms.len(),
                dataset.users.len(),
                file.display()
            );
            Ok(())
        }
        Command::Tiles {
            command: TilesCommand::Demo { out },
        } => {
            let n = crate::tiles::demo::write(&out).await?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote {n} demo map tiles ({} KiB) to {}",
                bytes / 1024,
                out.display()
            );
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = migrated(&config).await?;
            let report = db.verify_audit_chain().await?;
            for problem in &report.problems {
                println!("BROKEN: {problem}");
            }
            if report.intact() {
                println!("audit chain intact: {} row(s)", report.rows);
                Ok(())
            } else {
                anyhow::bail!(
                    "audit chain broken: {} problem(s) in {} row(s)",
                    report.problems.len(),
                    report.rows
                )
            }
        }
        Command::Backup { dest } => {
            let manifest = backup::backup(&config, &dest).await?;
            println!(
                "backed up {} file(s) to {} (schema version {})",
                manifest.files.len(),
                dest.display(),
                manifest.schema_version
            );
            println!("logical checksum: {}", manifest.logical_checksum);
            Ok(())
        }
        Command::Restore { backup, force } => {
            let restored = backup::restore(&config, &backup, force).await?;
            println!(
                "restored {} (backup of {}, schema version {}) into {}",
                backup.display(),
                restored.manifest.created_at,
                restored.manifest.schema_version,
                restored.database.display()
            );
            // Both, so an operator (and the tests) can see they agree.
            println!(
                "manifest logical checksum: {}",
                restored.manifest.logical_checksum
            );
            println!("restored logical checksum: {}", restored.restored_checksum);
            Ok(())
        }
    }
}

async fn init(config: &Config, command: InitCommand) -> anyhow::Result<()> {
    let db = migrated(config).await?;
    let base = public_base(config, config.listen);
    match command {
        InitCommand::Municipality {
            slug,
            name,
            admin,
            admin_name,
            admin_kana,
        } => {
            let spec = AccountSpec {
                login_id: admin,
                display_name: admin_name,
                display_name_kana: admin_kana,
            };
            let made = provision::municipality(&db, &slug, &name, &spec)
                .await
                .map_err(|e| match e {
                    crate::Error::Conflict => anyhow::anyhow!(
                        "municipality {slug:?} already exists; nothing changed (init runs once \
                         per municipality: its administrator adds the other accounts)"
                    ),
                    e => e.into(),
                })?;
            println!(
                "created municipality {slug} ({}) and its administrator {}",
                name.trim(),
                spec.login_id
            );
            print_first_sign_in(&base, &slug, &spec.login_id, &made);
        }
        InitCommand::SystemAdmin {
            municipality,
            login,
            name,
            kana,
        } => {
            let m = db
                .municipality_by_slug(&municipality)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no municipality {municipality:?}"))?;
            let spec = AccountSpec {
                login_id: login,
                display_name: name,
                display_name_kana: kana,
            };
            let made = provision::system_admin(&db, &m, &spec)
                .await
                .map_err(|e| match e {
                    crate::Error::Conflict => anyhow::anyhow!(
                        "{municipality} already has an account {:?}; nothing changed",
                        spec.login_id
                    ),
                    e => e.into(),
                })?;
            println!(
                "created system administrator {} in {municipality}",
                spec.login_id
            );
            print_first_sign_in(&base, &municipality, &spec.login_id, &made);
        }
    }
    Ok(())
}

/// The one place a one-time password is ever shown: stdout of the operator's terminal (never
/// the log).
fn print_first_sign_in(base: &str, slug: &str, login: &str, made: &Provisioned) {
    println!("sign in at: {}/{slug}/", base.trim_end_matches('/'));
    println!("login id: {login}");
    println!("one-time password: {}", made.one_time_password);
    println!("(shown only this once; it must be changed at the first sign-in)");
}

/// The demo's map at `<data-dir>/tiles.mbtiles`, unless tiles are configured or it exists:
/// so a newcomer's demo server has a map.
async fn demo_tiles(config: &Config) -> anyhow::Result<()> {
    let path = config.data_dir.join(crate::config::DEFAULT_TILES_FILE);
    if config.tiles.is_some() || path.exists() {
        return Ok(());
    }
    let n = crate::tiles::demo::write(&path).await?;
    tracing::info!(tiles = n, path = %path.display(), "wrote the demo map");
    Ok(())
}

/// The configured database, migrated: what every maintenance command starts from.
async fn migrated(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    Ok(db)
}

/// [`migrated`], and the municipality an administrative command names.
async fn open_municipality(
    config: &Config,
    slug: &str,
) -> anyhow::Result<(Db, crate::db::municipalities::Municipality)> {
    let db = migrated(config).await?;
    let m = db
        .municipality_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no municipality {slug:?}"))?;
    Ok((db, m))
}

fn public_base(config: &Config, addr: std::net::SocketAddr) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
}

fn print_demo_logins(base: &str) {
    // The same server by name: passkeys (WebAuthn) refuse IP addresses, and a newcomer
    // should be able to try them from the link printed here.
    let base = match base.strip_prefix("http://127.0.0.1:") {
        Some(port) => format!("http://localhost:{port}"),
        None => base.to_owned(),
    };
    println!(
        "demo: {}/{}/  password: {}",
        base.trim_end_matches('/'),
        demo::SLUG,
        demo::DEMO_PASSWORD
    );
    for login in demo::DEMO_LOGINS.into_iter().chain([demo::DEMO_LENDER]) {
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
