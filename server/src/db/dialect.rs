//! Everything that differs between SQLite and PostgreSQL, in one place: the rest of `db/`
//! writes one SQL text for both (the rules are in `db/mod.rs`) and asks this module where
//! the backends part ways. A new backend branch belongs here.
//!
//! Common ground, no branch needed: `$n` placeholders, `INSERT … ON CONFLICT (…) DO
//! NOTHING / DO UPDATE SET … = excluded.…`, `RETURNING`, `COALESCE`, `COUNT(DISTINCT …)`.
//! What differs:
//! - connecting: pool size and SQLite's per-connection pragmas ([`Backend::max_connections`],
//!   [`SQLITE_PRAGMAS`]), and which migration tree applies ([`Backend::migrator`]);
//! - the WAL checkpoint, SQLite only ([`checkpoint`], [`Backend::checkpoints_wal`]);
//! - concurrency (writing transactions take SQLite's write lock first: `Db::begin_write`),
//!   per-document advisory locks ([`lock_doc_in`]), snapshot reads
//!   ([`snapshot_reads_in`]), row locks ([`Backend::for_share`]) and claims that pass over
//!   rows another worker holds ([`Backend::skip_locked`]) on PostgreSQL, where
//!   SQLite's single writer and WAL read snapshots already give the same guarantees;
//! - functions: a JST calendar month of a unix-ms column ([`Backend::jst_month`]);
//! - the search index: FTS5 over bigrams on SQLite, pg_trgm on PostgreSQL
//!   ([`Backend::search_grams`], [`Backend::search_from`]; rebuilt at restore by
//!   `db/backup.rs`).
//!
//! The schemas themselves are two migration trees kept equal by the schema-parity test
//! (`tests/tests/it/schema_parity.rs`).

use crate::error::Result;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run on every new SQLite connection. busy_timeout first: switching to WAL briefly needs an
/// exclusive lock. synchronous=FULL: an acknowledged update must survive power loss.
/// wal_autocheckpoint: checkpoints run beside the writer (see `hub::writer`), not inside a
/// commit that rooms wait for; the high bound only caps the WAL should that task ever fall
/// behind.
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
     PRAGMA wal_autocheckpoint = 50000;";

impl Backend {
    /// The connection pool's size.
    pub fn max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        }
    }

    /// This backend's migration tree (`migrations/sqlite` or `migrations/postgres`).
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// `sql` with its `$1, $2, …` as SQLite's anonymous `?`, when each number appears once
    /// and in order (as the statements of many rows, `batch::placeholders`, write them):
    /// SQLite finds a named parameter's value by walking the statement's list of names, so
    /// binding n of them takes n²/2 steps — at 4,000 updates/s the posts projection's
    /// 448-parameter inserts spent 4 % of the server's CPU in that walk; an anonymous one
    /// takes one. Any other text, and PostgreSQL's, is returned as it is.
    pub fn positional(self, sql: String) -> String {
        if self != Backend::Sqlite {
            return sql;
        }
        let mut out = String::with_capacity(sql.len());
        let mut rest = sql.as_str();
        let mut next = 1;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if rest[at + 1..at + 1 + digits].parse::<usize>() != Ok(next) {
                return sql;
            }
            next += 1;
            out.push_str(&rest[..at]);
            out.push('?');
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        out
    }

    /// Whether the database has a write-ahead log for [`checkpoint`] to copy back (SQLite in
    /// WAL mode); the writer runs its checkpoint task only then.
    pub fn checkpoints_wal(self) -> bool {
        self == Backend::Sqlite
    }

    /// What ends a `SELECT` whose rows must stay unchanged until the transaction ends:
    /// `FOR SHARE` on PostgreSQL; nothing on SQLite, which has one writer at a time and
    /// refuses a transaction that read before another's commit.
    pub fn for_share(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        }
    }

    /// What ends a `SELECT` of rows a worker claims, when several workers (nodes) claim at
    /// once: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so each worker passes over the rows
    /// another is claiming and takes the next ones (each row goes to one worker, and none
    /// waits on another); nothing on SQLite, whose one writer claims alone.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The search index's input for a post's normalized text: character bigrams for SQLite's
    /// FTS5 table; nothing on PostgreSQL, whose trigram index reads `search_text` itself.
    pub fn search_grams(self, search_text: &str) -> String {
        match self {
            Backend::Sqlite => renraku_sync::search::bigrams(search_text),
            Backend::Postgres => String::new(),
        }
    }

    /// The `FROM` of a search over `posts p`: through the FTS5 index on SQLite when the
    /// query has an index expression (bound as `$1`), together with the posts not indexed
    /// yet ([`Backend::indexes_search_later`]), else the table itself. PostgreSQL's trigram
    /// index serves the `LIKE` conditions every search adds.
    pub fn search_from(self, indexed: bool) -> &'static str {
        match (self, indexed) {
            (Backend::Sqlite, true) => {
                "(SELECT rowid AS post_rowid FROM posts_fts WHERE posts_fts MATCH $1 \
                  UNION SELECT rowid FROM posts \
                  WHERE rowid > (SELECT upto FROM posts_fts_indexed)) f \
                 JOIN posts p ON p.rowid = f.post_rowid"
            }
            _ => "posts p",
        }
    }

    /// Whether new posts reach the search index after their commit, in batches
    /// ([`super::Db::index_pending_posts`]): SQLite's FTS5 index, which costs a new segment
    /// per commit otherwise. PostgreSQL updates its trigram index with the row.
    pub fn indexes_search_later(self) -> bool {
        self == Backend::Sqlite
    }

    /// Whether the posts projection follows the log (written by the hub's writer a moment
    /// after the commit it reflects, many rooms' posts together, and projected again at
    /// start past each room's mark in `projected_upto`) rather than inside every commit:
    /// SQLite, one node, where that halves what each acknowledged commit writes. On
    /// PostgreSQL every node reads at once what any node stored, and a node that dies does
    /// not come back to project what it held: the commit projects.
    pub fn projects_after_commit(self) -> bool {
        self == Backend::Sqlite
    }

    /// An SQL expression: the Japan Standard Time (UTC+9, no daylight saving) calendar month,
    /// `YYYY-MM`, of the unix-ms value `column`.
    pub fn jst_month(self, column: &str) -> String {
        match self {
            Backend::Sqlite => {
                format!("strftime('%Y-%m', ({column} + 32400000) / 1000, 'unixepoch')")
            }
            Backend::Postgres => format!(
                "to_char(to_timestamp(({column} + 32400000) / 1000.0) AT TIME ZONE 'UTC', \
                 'YYYY-MM')"
            ),
        }
    }
}

/// Copies committed WAL frames into the SQLite database file without blocking writers (a
/// no-op on PostgreSQL).
pub async fn checkpoint(pool: &AnyPool, backend: Backend) -> Result<()> {
    if backend.checkpoints_wal() {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Copies what is left of the WAL into the SQLite database file and starts the WAL over
/// from its beginning (`RESTART`), if it can at once: nothing else may be writing, and no
/// reader may still need the WAL. Under a steady load the next writer never starts it over
/// by itself after a `PASSIVE` checkpoint (seen: the WAL grew by every commit, without
/// bound), so the hub's writer calls this between its commits. False, with nothing waited
/// for, when someone was in the way.
pub async fn restart_wal(conn: &mut AnyConnection, backend: Backend) -> Result<bool> {
    if !backend.checkpoints_wal() {
        return Ok(true);
    }
    let busy_timeout: i64 = sqlx::query("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    // Not waiting for readers and writers: the rooms wait while this runs.
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
        .fetch_one(&mut *conn)
        .await;
    sqlx::query(&format!("PRAGMA busy_timeout = {busy_timeout}"))
        .execute(&mut *conn)
        .await?;
    let busy: i64 = row?.try_get(0)?;
    Ok(busy == 0)
}

/// Serializes appenders and compactions of one document inside the caller's transaction
/// (different documents do not wait), so two writers (two nodes) never compute the same
/// `MAX(seq)` and never compact at once: a transaction advisory lock on PostgreSQL,
/// re-entrant within the transaction. On SQLite the caller's first statement is a write,
/// which already takes the database's single write lock.
pub async fn lock_doc_in(conn: &mut AnyConnection, backend: Backend, doc: &str) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(doc)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Makes every read of the caller's just-begun transaction see one snapshot: REPEATABLE
/// READ on PostgreSQL. (SQLite's read transaction in WAL mode is a snapshot already.)
pub async fn snapshot_reads_in(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_has_its_own_answers() {
        assert_eq!(Backend::Sqlite.for_share(), "");
        assert_eq!(Backend::Postgres.for_share(), " FOR SHARE");
        assert_eq!(Backend::Sqlite.skip_locked(), "");
        assert_eq!(Backend::Postgres.skip_locked(), " FOR UPDATE SKIP LOCKED");
        assert!(Backend::Sqlite.checkpoints_wal());
        assert!(!Backend::Postgres.checkpoints_wal());
        assert_eq!(
            Backend::Sqlite.jst_month("p.stored_at"),
            "strftime('%Y-%m', (p.stored_at + 32400000) / 1000, 'unixepoch')"
        );
        assert_eq!(
            Backend::Postgres.jst_month("p.stored_at"),
            "to_char(to_timestamp((p.stored_at + 32400000) / 1000.0) AT TIME ZONE 'UTC', \
             'YYYY-MM')"
        );
    }

    /// Numbered parameters become anonymous on SQLite only where binding in order means the
    /// same: each number once, counting up from 1.
    #[test]
    fn parameters_become_anonymous_only_where_their_order_is_their_number() {
        let sql = |s: &str| s.to_owned();
        let rows = "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING a";
        assert_eq!(
            Backend::Sqlite.positional(sql(rows)),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) RETURNING a"
        );
        assert_eq!(Backend::Postgres.positional(sql(rows)), rows);
        for kept in [
            "SELECT $1 WHERE a = $1",         // repeated
            "SELECT $2, $1",                  // out of order
            "SELECT $2",                      // not from 1
            "SELECT a FROM t WHERE b = '$x'", // not a parameter
            "SELECT 1",
        ] {
            assert_eq!(Backend::Sqlite.positional(sql(kept)), kept);
        }
        let many = super::super::batch::placeholders(1, 32, 14);
        let anonymous = Backend::Sqlite.positional(many);
        assert_eq!(anonymous.matches('?').count(), 448);
        assert!(!anonymous.contains('$'));
    }
}
