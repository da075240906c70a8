//! `renraku backup` and `renraku restore` for the SQLite backend.
//!
//! A backup is a directory: `renraku.db` (a consistent copy made with `VACUUM INTO` while
//! the server may keep running), `attachments/…` when the data directory has an attachment
//! store, and `MANIFEST.json`, which lists every file with its size and SHA-256 and holds a
//! logical checksum of the data (see [`logical_checksum`]). The file hashes catch a damaged
//! or altered copy before anything is restored; the logical checksum shows that the restored
//! database holds exactly the rows that were backed up, whatever its page layout.
//!
//! PostgreSQL has its own consistent online tools, so these commands refuse it with
//! guidance instead of half-reimplementing `pg_dump`.

use crate::config::Config;
pub use crate::db::backup::logical_checksum;
use crate::db::Db;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

pub const MANIFEST: &str = "MANIFEST.json";
pub const DB_FILE: &str = "renraku.db";
pub const ATTACHMENTS: &str = "attachments";
const FORMAT: &str = "renraku-backup-1";

const PG_BACKUP_GUIDANCE: &str = "renraku backup only copies SQLite databases. For PostgreSQL, \
use its own consistent online backup: `pg_dump --format=custom --file=renraku.dump \"$DATABASE_URL\"` \
(and copy `<data-dir>/attachments/` alongside, if present); restore with \
`pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" renraku.dump`.";

const PG_RESTORE_GUIDANCE: &str = "renraku restore only restores SQLite backups. For PostgreSQL, \
restore a `pg_dump --format=custom` dump with \
`pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" renraku.dump` \
(and copy the attachments back into `<data-dir>/attachments/`).";

/// `MANIFEST.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub renraku_version: String,
    pub backend: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub created_at_unix_ms: i64,
    /// The latest applied sqlx migration (its version number).
    pub schema_version: i64,
    /// SHA-256 (hex) of the canonical row encoding of every table; see [`logical_checksum`].
    pub logical_checksum: String,
    /// Rows per table, for people reading the manifest.
    pub tables: Vec<TableRows>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TableRows {
    pub name: String,
    pub rows: u64,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What `restore` did, for the CLI to print.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub database: PathBuf,
    /// The logical checksum recomputed on the restored database.
    pub restored_checksum: String,
}

/// The SQLite database file a configuration points at, or `None` for PostgreSQL.
fn sqlite_file(config: &Config) -> Result<Option<PathBuf>> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(None);
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| anyhow!("DATABASE_URL must start with sqlite:// or postgres://"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        bail!("an in-memory SQLite database cannot be backed up or restored");
    }
    Ok(Some(PathBuf::from(path)))
}

/// Copies the configured database and attachment store into `dest`, which must be missing
/// or empty. Safe while a server runs on the same data: `VACUUM INTO` reads one snapshot.
pub async fn backup(config: &Config, dest: &Path) -> Result<Manifest> {
    let Some(db_path) = sqlite_file(config)? else {
        bail!("{PG_BACKUP_GUIDANCE}");
    };
    // `Db::connect` would create an empty database: a typo in --data-dir must not "succeed".
    if !db_path.is_file() {
        bail!("no database at {}", db_path.display());
    }
    if dest.exists() {
        let mut entries =
            fs::read_dir(dest).with_context(|| format!("reading {}", dest.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty; a backup goes into a new or empty directory",
                dest.display()
            );
        }
    } else {
        fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    }

    let copy = dest.join(DB_FILE);
    let copy_str = copy
        .to_str()
        .ok_or_else(|| anyhow!("the backup path must be valid UTF-8"))?;
    // Through the server's own connection setup (WAL, busy timeout): VACUUM INTO is a read
    // transaction, so it sees one consistent snapshot and never blocks the server's writer.
    let db = Db::connect(&config.database_url()).await?;
    let vacuum = db.vacuum_into(copy_str).await;
    db.close().await;
    vacuum.context("VACUUM INTO")?;
    // VACUUM INTO does not promise durability of its output; the backup should survive a
    // power cut right after the command reports success.
    fsync_file(&copy)?;

    let mut files = vec![file_entry(dest, &copy)?];
    let attachments = config.data_dir.join(ATTACHMENTS);
    if attachments.is_dir() {
        for file in walk_files(&attachments)? {
            let relative = file.strip_prefix(&config.data_dir).expect("under data dir");
            let target = dest.join(relative);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(&file, &target)
                .with_context(|| format!("copying {} to {}", file.display(), target.display()))?;
            fsync_file(&target)?;
            files.push(file_entry(dest, &target)?);
        }
    }

    // Computed on the copy, so it describes exactly what was backed up, not the live data
    // that may have moved on since.
    let summary = summarize(&copy).await?;
    let now = crate::db::now_ms();
    let manifest = Manifest {
        format: FORMAT.into(),
        renraku_version: env!("CARGO_PKG_VERSION").into(),
        backend: "sqlite".into(),
        created_at: rfc3339_utc(now),
        created_at_unix_ms: now,
        schema_version: summary.schema_version,
        logical_checksum: summary.checksum,
        tables: summary.tables,
        files,
    };
    // Written last and atomically: a directory without MANIFEST.json is an unfinished backup
    // that `restore` refuses.
    let json = serde_json::to_vec_pretty(&manifest)?;
    write_atomically(&dest.join(MANIFEST), &json, dest)?;
    fsync_dir(dest)?;
    Ok(manifest)
}

/// Restores a backup made by [`backup`] into the configured data directory. Must not run
/// while a server uses that directory.
pub async fn restore(config: &Config, src: &Path, force: bool) -> Result<Restored> {
    let Some(db_path) = sqlite_file(config)? else {
        bail!("{PG_RESTORE_GUIDANCE}");
    };
    let manifest_path = src.join(MANIFEST);
    let text = fs::read(&manifest_path).with_context(|| {
        format!(
            "reading {} (a backup without it is incomplete)",
            manifest_path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("parsing {}", manifest_path.display()))?;
    if manifest.format != FORMAT || manifest.backend != "sqlite" {
        bail!(
            "unsupported backup format {:?} (backend {:?})",
            manifest.format,
            manifest.backend
        );
    }

    // Everything is verified before anything is touched: a damaged or altered backup must
    // leave the current data as it was.
    let mut has_db = false;
    for entry in &manifest.files {
        let relative = safe_relative(&entry.path)?;
        has_db |= entry.path == DB_FILE;
        if entry.path != DB_FILE && !entry.path.starts_with(&format!("{ATTACHMENTS}/")) {
            bail!("unexpected file {:?} in the manifest", entry.path);
        }
        let actual = file_entry(src, &src.join(relative))
            .with_context(|| format!("backup file {}", entry.path))?;
        if actual.size != entry.size || actual.sha256 != entry.sha256 {
            bail!(
                "backup file {} does not match MANIFEST.json (size {} vs {}, sha256 {} vs {}); \
                 the backup is damaged or altered, nothing was restored",
                entry.path,
                actual.size,
                entry.size,
                actual.sha256,
                entry.sha256
            );
        }
    }
    if !has_db {
        bail!("MANIFEST.json lists no {DB_FILE}");
    }

    // Best effort only: a running server (or one killed mid-write) leaves a non-empty WAL.
    // Replacing the database under a live server would lose its later writes and confuse
    // its connections.
    let wal = sidecar(&db_path, "-wal");
    if !force && fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        bail!(
            "{} exists and is not empty: a server may be using this data directory. Stop it \
             first (use --force only if you are sure none is running)",
            wal.display()
        );
    }
    if !force && db_path.is_file() && has_rows(&db_path).await? {
        bail!(
            "{} already holds data; use --force to replace it",
            db_path.display()
        );
    }

    let dir = db_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The old WAL belongs to the old database: left in place, SQLite would replay its frames
    // onto the restored file. Removed before the rename, so no crash can pair them.
    for suffix in ["-wal", "-shm"] {
        let path = sidecar(&db_path, suffix);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    let db_entry = manifest
        .files
        .iter()
        .find(|e| e.path == DB_FILE)
        .expect("checked");
    place_verified(&src.join(DB_FILE), &db_path, db_entry, dir)?;

    for entry in manifest.files.iter().filter(|e| e.path != DB_FILE) {
        let relative = safe_relative(&entry.path)?;
        let target = config.data_dir.join(relative);
        let parent = target.parent().expect("attachments have a directory");
        fs::create_dir_all(parent)?;
        place_verified(&src.join(relative), &target, entry, parent)?;
    }

    let restored = summarize(&db_path).await?;
    if restored.checksum != manifest.logical_checksum {
        bail!(
            "the restored database's logical checksum {} differs from the manifest's {}",
            restored.checksum,
            manifest.logical_checksum
        );
    }
    // The search index points at posts by rowid, which `VACUUM INTO` may have renumbered.
    let mut conn = SqliteConnectOptions::new()
        .filename(&db_path)
        .connect()
        .await
        .with_context(|| format!("opening {}", db_path.display()))?;
    crate::db::backup::rebuild_search_index(&mut conn)
        .await
        .context("rebuilding the search index")?;
    conn.close().await?;
    Ok(Restored {
        manifest,
        database: db_path,
        restored_checksum: restored.checksum,
    })
}

struct Summary {
    checksum: String,
    schema_version: i64,
    tables: Vec<TableRows>,
}

/// Opens a database file that nobody writes to (a backup copy, or a restored file before
/// the server starts): read-only and immutable, so reading it never creates a WAL or changes
/// a byte.
async fn open_quiet(path: &Path) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .with_context(|| format!("opening {}", path.display()))
}

async fn summarize(path: &Path) -> Result<Summary> {
    let mut conn = open_quiet(path).await?;
    let schema_version = crate::db::backup::schema_version(&mut conn)
        .await
        .context("reading the schema version")?;
    let (checksum, tables) = logical_checksum(&mut conn).await?;
    conn.close().await?;
    Ok(Summary {
        checksum,
        schema_version,
        tables,
    })
}

/// Whether any application table of the database at `path` has a row.
async fn has_rows(path: &Path) -> Result<bool> {
    let mut conn = open_quiet(path).await?;
    let any = crate::db::backup::has_rows(&mut conn).await?;
    conn.close().await?;
    Ok(any)
}

/// A manifest path as a relative path that stays inside its directory: the manifest is
/// input, and `../` or an absolute path must not write outside the data directory.
fn safe_relative(path: &str) -> Result<&Path> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("unsafe path {path:?} in MANIFEST.json");
    }
    Ok(p)
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_entry(root: &Path, file: &Path) -> Result<FileEntry> {
    let relative = file.strip_prefix(root).expect("file under root");
    let path = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(FileEntry {
        path,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Every regular file under `dir`, sorted, so manifests are stable.
fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
            // Symlinks are skipped: following them could copy files from outside the store.
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `bytes` to a temporary file beside `target`, fsyncs it, renames it over `target`
/// and fsyncs `dir`: readers see the old file or the new one, never a torn one.
fn write_atomically(target: &Path, bytes: &[u8], dir: &Path) -> Result<()> {
    let name = target
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", target.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, target).with_context(|| format!("renaming to {}", target.display()))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copies `from` to a temporary file beside `target` while hashing it, checks the hash
/// against the manifest again (the backup could have changed since it was verified), fsyncs,
/// and renames over `target`. Streams, so a large database is never held in memory.
fn place_verified(from: &Path, target: &Path, entry: &FileEntry, dir: &Path) -> Result<()> {
    let name = target
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", target.display()))?;
    let tmp = dir.join(format!(
        ".{}.restore-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut input = File::open(from).with_context(|| format!("opening {}", from.display()))?;
        let mut output =
            File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n])?;
        }
        if size != entry.size || hex::encode(hasher.finalize()) != entry.sha256 {
            bail!("{} changed while it was being restored", entry.path);
        }
        output.sync_all()?;
        fs::rename(&tmp, target).with_context(|| format!("renaming to {}", target.display()))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn fsync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    // Directories cannot be opened for syncing on Windows; the rename is still atomic there.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, proleptic Gregorian).
fn rfc3339_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_utc(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn refuses_paths_leaving_the_backup() {
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("attachments/../../x").is_err());
        assert!(safe_relative("attachments/a/b.jpg").is_ok());
    }
}
