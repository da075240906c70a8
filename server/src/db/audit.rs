//! The audit log: who did what to which record. Append-only and tamper-evident: each row
//! carries `hash = SHA-256(previous row's hash ‖ this row's fields)` and a gap-free `seq`, and
//! the single-row `audit_chain_head` holds the last seq and hash. An edited row no longer
//! matches its hash, a deleted row leaves a gap and a broken link, and a cut-off tail no
//! longer reaches the head. Every insertion goes through [`append`], which serializes
//! appenders by updating the head row first. Never holds secrets.

use super::{now_ms, Db};
pub use crate::domain::audit::AuditAction;
use crate::error::Result;
use futures_util::TryStreamExt;
pub use renraku_contract::{AuditQuery, AuditRow, ChainReport};
use renraku_sync::{MunicipalityId, UserId};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, under one action of the catalogue ([`AuditAction`]).
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub user: Option<UserId>,
    pub municipality: Option<MunicipalityId>,
    pub action: AuditAction,
    /// What was acted on, e.g. `room/12` or a login id.
    pub target: String,
    pub detail: String,
}

impl AuditEntry {
    pub fn new(action: AuditAction, target: impl Into<String>) -> Self {
        Self {
            user: None,
            municipality: None,
            action,
            target: target.into(),
            detail: String::new(),
        }
    }

    pub fn by(mut self, user: UserId, municipality: MunicipalityId) -> Self {
        self.user = Some(user);
        self.municipality = Some(municipality);
        self
    }

    pub fn in_municipality(mut self, municipality: MunicipalityId) -> Self {
        self.municipality = Some(municipality);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

fn audit_row_from_row(row: &AnyRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        user_id: row.try_get("user_id")?,
        municipality_id: row.try_get("municipality_id")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        hash: row.try_get("hash")?,
    })
}

/// Most rows one request may ask for (JSON or CSV); more is refused, not cut short.
pub const MAX_AUDIT_ROWS: i64 = 5000;

/// Which rows to read: an administrator's [`AuditQuery`], within a municipality. All
/// conditions are ANDed.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this municipality: its own entries, and accesses to its rooms by others.
    pub municipality: Option<MunicipalityId>,
    /// Actions starting with this (`signin.` matches every sign-in outcome).
    pub action: Option<String>,
    pub user_id: Option<i64>,
    /// Exact target, e.g. `room/12`.
    pub target: Option<String>,
    /// From this time on (unix ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (unix ms, exclusive).
    pub to: Option<i64>,
    /// Rows with a seq below this (paging backwards from the newest).
    pub before_seq: Option<i64>,
    /// At most this many rows (default 200; 1 to 5000, anything else is refused).
    pub limit: Option<i64>,
}

impl From<AuditQuery> for AuditFilter {
    fn from(q: AuditQuery) -> Self {
        AuditFilter {
            municipality: None,
            action: q.action,
            user_id: q.user_id,
            target: q.target,
            from: q.from,
            to: q.to,
            before_seq: q.before_seq,
            limit: q.limit,
        }
    }
}

impl AuditFilter {
    /// Refuses a `limit` outside 1..=[`MAX_AUDIT_ROWS`]: an administrator asking for a
    /// million rows learns the cap instead of silently getting fewer.
    pub fn check_limit(&self) -> Result<()> {
        match self.limit {
            Some(n) if !(1..=MAX_AUDIT_ROWS).contains(&n) => Err(crate::Error::BadRequest(
                format!("limit must be between 1 and {MAX_AUDIT_ROWS}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The hash of one row: domain tag, previous hash, then every field length-prefixed, so
/// no two different rows serialize alike.
pub fn row_hash(prev: &str, seq: i64, at: i64, row: &ChainFields<'_>) -> String {
    let mut h = Sha256::new();
    h.update(b"renraku-audit-v1\0");
    h.update(prev.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    for id in [row.user, row.municipality] {
        match id {
            Some(v) => {
                h.update([1]);
                h.update(v.to_be_bytes());
            }
            None => h.update([0]),
        }
    }
    for text in [row.action, row.target, row.detail] {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The hashed fields of a row.
pub struct ChainFields<'a> {
    pub user: Option<i64>,
    pub municipality: Option<i64>,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

impl Db {
    pub async fn audit(&self, entry: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, &entry, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Number of entries with this action; for tests and admin pages.
    pub async fn audit_count(&self, action: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Rows matching `filter`, newest first.
    pub async fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>> {
        // Placeholders must appear in increasing order: conditions are appended in one
        // fixed order and numbered as they go.
        let mut sql = String::from(
            "SELECT a.seq, a.at, a.user_id, a.municipality_id, a.action, a.target, a.detail, \
                 a.hash FROM audit_log a WHERE a.seq IS NOT NULL",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.municipality.is_some() {
            let (p1, p2) = (next(), next());
            sql.push_str(&format!(
                " AND (a.municipality_id = {p1} OR a.target IN (SELECT 'room/' || CAST(r.id AS TEXT) \
                  FROM rooms r WHERE r.municipality_id = {p2}))"
            ));
        }
        if filter.action.is_some() {
            sql.push_str(&format!(" AND a.action LIKE {}", next()));
        }
        if filter.user_id.is_some() {
            sql.push_str(&format!(" AND a.user_id = {}", next()));
        }
        if filter.target.is_some() {
            sql.push_str(&format!(" AND a.target = {}", next()));
        }
        if filter.from.is_some() {
            sql.push_str(&format!(" AND a.at >= {}", next()));
        }
        if filter.to.is_some() {
            sql.push_str(&format!(" AND a.at < {}", next()));
        }
        if filter.before_seq.is_some() {
            sql.push_str(&format!(" AND a.seq < {}", next()));
        }
        sql.push_str(&format!(" ORDER BY a.seq DESC LIMIT {}", next()));
        let mut q = sqlx::query(&sql);
        if let Some(m) = filter.municipality {
            q = q.bind(m.get()).bind(m.get());
        }
        if let Some(a) = &filter.action {
            let escaped: String = a.chars().filter(|c| *c != '%' && *c != '_').collect();
            q = q.bind(format!("{escaped}%"));
        }
        if let Some(u) = filter.user_id {
            q = q.bind(u);
        }
        if let Some(t) = &filter.target {
            q = q.bind(t.clone());
        }
        if let Some(f) = filter.from {
            q = q.bind(f);
        }
        if let Some(t) = filter.to {
            q = q.bind(t);
        }
        if let Some(b) = filter.before_seq {
            q = q.bind(b);
        }
        q = q.bind(filter.limit.unwrap_or(200).clamp(1, MAX_AUDIT_ROWS));
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(audit_row_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Recomputes the whole chain from the first row and compares it with the head.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let head = sqlx::query("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let head_seq: i64 = head.try_get("last_seq")?;
        let head_hash: String = head.try_get("last_hash")?;
        let mut problems = Vec::new();
        let unchained: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE seq IS NULL OR hash IS NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        if unchained > 0 && head_seq > 0 {
            problems.push(format!(
                "{unchained} row(s) outside the chain (inserted by hand)"
            ));
        }
        let mut rows = sqlx::query(
            "SELECT seq, at, user_id, municipality_id, action, target, detail, prev_hash, hash \
             FROM audit_log WHERE seq IS NOT NULL ORDER BY seq",
        )
        .fetch(&self.pool);
        let mut expected_seq = 1_i64;
        let mut prev = GENESIS.to_owned();
        let mut count = 0_i64;
        while let Some(row) = rows.try_next().await? {
            count += 1;
            let seq: i64 = row.try_get("seq")?;
            let stored_prev: Option<String> = row.try_get("prev_hash")?;
            let stored: Option<String> = row.try_get("hash")?;
            if seq != expected_seq {
                problems.push(format!(
                    "seq {expected_seq}..{} missing (rows deleted)",
                    seq - 1
                ));
            }
            if stored_prev.as_deref() != Some(prev.as_str()) {
                problems.push(format!("seq {seq}: not linked to the row before it"));
            }
            let action: String = row.try_get("action")?;
            let target: String = row.try_get("target")?;
            let detail: String = row.try_get("detail")?;
            let fields = ChainFields {
                user: row.try_get("user_id")?,
                municipality: row.try_get("municipality_id")?,
                action: &action,
                target: &target,
                detail: &detail,
            };
            let computed = row_hash(
                stored_prev.as_deref().unwrap_or(""),
                seq,
                row.try_get("at")?,
                &fields,
            );
            if stored.as_deref() != Some(computed.as_str()) {
                problems.push(format!("seq {seq}: contents changed since written"));
            }
            prev = stored.unwrap_or_default();
            expected_seq = seq + 1;
        }
        let last_seq = expected_seq - 1;
        if last_seq != head_seq || (head_seq > 0 && prev != head_hash) {
            problems.push(format!(
                "the chain ends at seq {last_seq} but its head says {head_seq} (rows cut off or added)"
            ));
        }
        Ok(ChainReport {
            rows: count,
            head_seq,
            problems,
        })
    }
}

/// Appends one entry inside the caller's transaction.
pub async fn insert(conn: &mut AnyConnection, entry: &AuditEntry, at: i64) -> Result<()> {
    append(conn, std::slice::from_ref(entry), at).await
}

/// Appends entries, in order, inside the caller's transaction. Updating the head row first
/// takes the lock that serializes every appender until the caller commits: SQLite's write
/// lock, PostgreSQL's row lock.
pub async fn append(conn: &mut AnyConnection, entries: &[AuditEntry], at: i64) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = sqlx::query(
        "UPDATE audit_chain_head SET last_seq = last_seq WHERE id = 1 \
         RETURNING last_seq, last_hash",
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut seq: i64 = head.try_get("last_seq")?;
    let mut prev: String = head.try_get("last_hash")?;
    if seq == 0 {
        (seq, prev) = seal_legacy(conn).await?;
    }
    for entry in entries {
        let municipality = match (entry.municipality, entry.user) {
            (Some(m), _) => Some(m.get()),
            // An entry about a user's act belongs to the user's municipality.
            (None, Some(user)) => sqlx::query("SELECT municipality_id FROM users WHERE id = $1")
                .bind(user.get())
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get::<i64, _>("municipality_id"))
                .transpose()?,
            (None, None) => None,
        };
        seq += 1;
        let fields = ChainFields {
            user: entry.user.map(UserId::get),
            municipality,
            action: entry.action.as_str(),
            target: &entry.target,
            detail: &entry.detail,
        };
        let hash = row_hash(&prev, seq, at, &fields);
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, municipality_id, action, target, detail, \
                 seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(at)
        .bind(fields.user)
        .bind(municipality)
        .bind(entry.action.as_str())
        .bind(entry.target.as_str())
        .bind(entry.detail.as_str())
        .bind(seq)
        .bind(prev.as_str())
        .bind(hash.as_str())
        .execute(&mut *conn)
        .await?;
        prev = hash;
    }
    sqlx::query("UPDATE audit_chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(prev.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Chains rows written before the chain existed (migration 0003), in id order, once.
async fn seal_legacy(conn: &mut AnyConnection) -> Result<(i64, String)> {
    let rows = sqlx::query(
        "SELECT id, at, user_id, municipality_id, action, target, detail FROM audit_log \
         WHERE seq IS NULL ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut seq = 0_i64;
    let mut prev = GENESIS.to_owned();
    for row in &rows {
        let action: String = row.try_get("action")?;
        let target: String = row.try_get("target")?;
        let detail: String = row.try_get("detail")?;
        let fields = ChainFields {
            user: row.try_get("user_id")?,
            municipality: row.try_get("municipality_id")?,
            action: &action,
            target: &target,
            detail: &detail,
        };
        seq += 1;
        let hash = row_hash(&prev, seq, row.try_get("at")?, &fields);
        sqlx::query("UPDATE audit_log SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4")
            .bind(seq)
            .bind(prev.as_str())
            .bind(hash.as_str())
            .bind(row.try_get::<i64, _>("id")?)
            .execute(&mut *conn)
            .await?;
        prev = hash;
    }
    Ok((seq, prev))
}
