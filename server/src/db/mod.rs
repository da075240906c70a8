//! Storage: one `Db` over sqlx's `Any` driver, SQLite by default, PostgreSQL by URL.
//!
//! Rules that keep one SQL text valid on both backends through `Any`:
//! - placeholders `$1, $2, …` in strictly increasing order of first appearance (SQLite
//!   numbers named parameters by appearance, PostgreSQL by name);
//! - only `i64`, `String`, `Vec<u8>`, `bool` and their `Option`s cross the boundary;
//! - flags are read with [`flag`], because SQLite stores them as integers and PostgreSQL as
//!   booleans, and `Any` decodes each as its own kind.
//!
//! Where the backends must differ, the SQL lives in [`dialect`], nowhere else.

pub mod acks;
pub mod agreements;
pub mod announcements;
pub mod attachments;
pub mod audit;
pub mod backup;
pub mod batch;
pub mod client_certs;
pub mod dialect;
pub mod doc_log;
pub mod import_export;
pub mod log_thread;
pub mod municipalities;
pub mod organizations;
pub mod parking;
pub mod passkeys;
pub mod patients;
pub mod posts;
pub mod projection_follow;
pub mod projection_lag;
pub mod provision;
pub mod push;
pub mod register;
pub mod room_admin;
pub mod room_home;
pub mod rooms;
pub mod search;
pub mod second_factor;
pub mod sessions;
pub mod signin_failures;
pub mod statistics;
pub mod templates;
pub mod tenancy;
pub mod users;

use crate::error::Result;
use sqlx::any::{AnyPoolOptions, AnyRow, AnyTypeInfoKind};
use sqlx::{AnyPool, Executor, Row, TypeInfo, ValueRef};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use dialect::Backend;

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Woken after a commit that queued pushes (`doc_log`), for this server's push worker.
    push_notifier: crate::push::Notifier,
    /// How far the posts projection trails the log (shared with the hub's writer).
    projection_lag: projection_lag::ProjectionLag,
    /// The SQLite database's file (none on PostgreSQL, or for a database in memory).
    sqlite_file: Option<std::path::PathBuf>,
}

impl Db {
    /// Connects (creating a SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let mut sqlite_file = None;
        let (backend, url) = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or(rest);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    crate::Error::internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            if !path.is_empty() && path != ":memory:" && !rest.contains("mode=memory") {
                sqlite_file = Some(Path::new(path).to_owned());
            }
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(crate::Error::internal(
                "DATABASE_URL must start with sqlite:// or postgres://",
            ));
        };

        let options = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            // No ping before each use: a connection to a local file does not go stale, and
            // the ping was one more round trip to SQLite's worker thread on every query and
            // every group commit (a thread wake each way, most of the sync path's CPU).
            options
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(dialect::SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        Ok(Db {
            pool,
            backend,
            push_notifier: crate::push::Notifier::default(),
            projection_lag: Default::default(),
            sqlite_file,
        })
    }

    /// The SQLite database's file, for a connection of one's own beside the pool
    /// ([`log_thread`]); none on PostgreSQL or in memory.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// A connection outside the pool for writes that the update log alone can make again
    /// (the posts projection, the search index, compactions), on SQLite with
    /// `synchronous = NORMAL`: its commits are not synced themselves. WAL frames are made
    /// durable in order, so the next synced commit (an acknowledged update's, within
    /// milliseconds on a busy server) makes them durable with its own; a power cut loses only
    /// the latest of them, whose marks go with them (what is projected or indexed up to which
    /// seq, what a compaction deleted), and they are made again from the log. A process crash
    /// loses nothing: the kernel holds what was written. Each of them saved an fsync that
    /// every room's next commit waited behind (bench/HISTORY.md). `None` where there is no
    /// file (PostgreSQL, memory): the pool's connections serve.
    pub async fn rebuildable_writer(&self) -> Result<Option<sqlx::AnyConnection>> {
        use sqlx::Connection;
        let Some(file) = self.sqlite_file() else {
            return Ok(None);
        };
        let mut conn =
            sqlx::AnyConnection::connect(&format!("sqlite://{}", file.display())).await?;
        conn.execute(dialect::SQLITE_PRAGMAS).await?;
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        Ok(Some(conn))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock first (BEGIN
    /// IMMEDIATE), waiting for it as long as `busy_timeout` allows: a deferred transaction
    /// that read before writing would instead fail at once with "database is locked" when
    /// another connection held the lock by then (SQLite does not wait there, as waiting
    /// could deadlock two such readers). PostgreSQL's plain BEGIN has no such trap.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// [`Db::begin_write`] on a connection the caller holds.
    pub async fn begin_write_on<'c>(
        &self,
        conn: &'c mut sqlx::AnyConnection,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>, sqlx::Error> {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => conn.begin().await,
        }
    }

    /// What this handle's commits that queue pushes wake (see [`crate::push::Notifier`]).
    pub fn push_notifier(&self) -> &crate::push::Notifier {
        &self.push_notifier
    }

    /// How far the posts projection trails the log: the hub's writer moves it.
    pub fn projection_lag(&self) -> &projection_lag::ProjectionLag {
        &self.projection_lag
    }

    /// Waits until the posts projection holds everything acknowledged so far: every reader
    /// of `posts`, `read_markers`, the acknowledgement tables and `post_attachments` calls
    /// this first (a no-op unless the writer holds some back).
    pub async fn projection_settled(&self) {
        self.projection_lag.settle().await;
    }

    /// Brings the schema up to date. Several nodes starting at once take turns: sqlx holds
    /// an advisory lock on PostgreSQL while it migrates. SQLite has no such lock, so there a
    /// process that loses the race to another applying the same migration (a second server
    /// on the same file) fails that migration's transaction and looks again: what is applied
    /// by then is skipped. Only failures to execute are retried (for a while: the winner
    /// may be slow), never a changed or missing migration.
    pub async fn migrate(&self) -> Result<()> {
        use sqlx::migrate::MigrateError;
        let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.backend.migrator().run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e @ (MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)))
                    if self.backend == Backend::Sqlite && tokio::time::Instant::now() < give_up =>
                {
                    tracing::debug!(error = %e, "migration raced another process; again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Copies committed WAL frames into the SQLite database file without blocking writers
    /// (a no-op on PostgreSQL).
    pub async fn checkpoint(&self) -> Result<()> {
        dialect::checkpoint(&self.pool, self.backend).await
    }

    /// Starts SQLite's WAL over, on a connection the caller holds (`dialect::restart_wal`).
    pub async fn restart_wal_on(&self, conn: &mut sqlx::AnyConnection) -> Result<bool> {
        dialect::restart_wal(conn, self.backend).await
    }

    /// Whether the read `sql` (its `$n` bound to `times` in order) finds a row. Housekeeping
    /// asks this before a write that may have nothing to change: on SQLite such a write
    /// still takes the one write lock, and under a busy hub it waited seconds in SQLite's
    /// busy handler, then made the hub's next commit sleep in its own (bench/HISTORY.md).
    pub(crate) async fn finds_any(&self, sql: &str, times: &[i64]) -> Result<bool> {
        let mut query = sqlx::query(sql);
        for &t in times {
            query = query.bind(t);
        }
        Ok(query.fetch_optional(&self.pool).await?.is_some())
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a flag column, stored as INTEGER 0/1 on SQLite and BOOLEAN on PostgreSQL.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    let raw = row.try_get_raw(column)?;
    if raw.type_info().kind() == AnyTypeInfoKind::Bool && !raw.type_info().is_null() {
        row.try_get::<bool, _>(column)
    } else {
        Ok(row.try_get::<i64, _>(column)? != 0)
    }
}

/// Unix time in milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// For unit tests: a database of the demo's in a directory of its own (removed with the
/// returned guard), its configuration, and one of its users to write as.
#[cfg(test)]
pub(crate) async fn demo_db() -> (tempfile::TempDir, crate::Config, Db, renraku_sync::UserId) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::Config::with_data_dir(dir.path());
    config.demo = true;
    let db = crate::prepare(&config).await.unwrap();
    let row = sqlx::query("SELECT id FROM users ORDER BY id LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let user = renraku_sync::UserId::new(row.get("id"));
    (dir, config, db, user)
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// Housekeeping that finds nothing to do (the push worker's idle look, the minute's
    /// purges) neither waits for the write lock another writer holds — the hub's commits, on a
    /// busy server — nor takes it.
    #[tokio::test]
    async fn housekeeping_with_nothing_due_does_not_wait_for_the_write_lock() {
        use sqlx::Connection;
        let (_dir, config, db, _) = super::demo_db().await;
        let mut writer = sqlx::AnyConnection::connect(&config.database_url())
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut writer)
            .await
            .unwrap();
        let leased = db.lease_pushes(32, 30_000).await;
        assert!(
            matches!(&leased, Ok(l) if l.is_empty()),
            "{:?}",
            leased.map(|l| l.len())
        );
        // Nothing has ended before time 0.
        let purged = db.purge_sessions(0, 0).await;
        assert!(matches!(&purged, Ok(p) if p.is_empty()), "{purged:?}");
        let swept = db.sweep_signin_failures(0).await;
        assert!(matches!(swept, Ok(0)), "{swept:?}");
        sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();
    }

    /// Column `at` of the first row `sql` answers.
    async fn value(conn: &mut sqlx::AnyConnection, sql: &str, at: usize) -> i64 {
        sqlx::query(sql)
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get(at)
    }

    /// What is acknowledged is synced by its own commit; what the log can make again is
    /// not, and the rest of the server reads it as soon as it is committed.
    #[tokio::test]
    async fn only_rebuildable_writes_skip_their_own_sync() {
        let (_dir, _config, db, _) = super::demo_db().await;
        let mut pooled = db.pool().acquire().await.unwrap();
        assert_eq!(
            value(&mut pooled, "PRAGMA synchronous", 0).await,
            2,
            "FULL on the pool"
        );
        let mut own = db.rebuildable_writer().await.unwrap().expect("a file");
        let own_sync = value(&mut own, "PRAGMA synchronous", 0).await;
        assert_eq!(own_sync, 1, "NORMAL for what the log rebuilds");
        sqlx::query("UPDATE posts_fts_indexed SET upto = 12345")
            .execute(&mut own)
            .await
            .unwrap();
        let upto = value(&mut pooled, "SELECT upto FROM posts_fts_indexed", 0).await;
        assert_eq!(upto, 12345);
    }

    /// The writer starts the WAL over between its commits, so that a steady load does not
    /// grow it for ever; a reader that still needs the WAL is not waited for.
    #[tokio::test]
    async fn the_wal_starts_over_unless_a_reader_still_needs_it() {
        let (_dir, _config, db, _) = super::demo_db().await;
        let mut writer = db.rebuildable_writer().await.unwrap().expect("a file");
        for upto in 0..50 {
            sqlx::query("UPDATE posts_fts_indexed SET upto = $1")
                .bind(upto)
                .execute(&mut writer)
                .await
                .unwrap();
        }
        // A request in the middle of a read, on a snapshot the WAL holds.
        let mut reader = db.pool().begin().await.unwrap();
        sqlx::query("SELECT upto FROM posts_fts_indexed")
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        assert!(!db.restart_wal_on(&mut writer).await.unwrap(), "in the way");
        let timeout = value(&mut writer, "PRAGMA busy_timeout", 0).await;
        assert_eq!(timeout, 5000, "the connection waits for locks again");
        reader.commit().await.unwrap();

        assert!(db.restart_wal_on(&mut writer).await.unwrap());
        sqlx::query("UPDATE posts_fts_indexed SET upto = 51")
            .execute(&mut writer)
            .await
            .unwrap();
        // (busy, frames in the WAL, frames copied)
        let frames = value(&mut writer, "PRAGMA wal_checkpoint(PASSIVE)", 1).await;
        assert!(
            frames <= 2,
            "the next commit wrote from the start: {frames} frames"
        );
    }
}
