//! The CRDT update log and snapshots of each document (`room/12`, `user/5`), and the binding
//! of yrs client ids to users. The sync hub is the only writer; every function is one
//! transaction, so an acknowledged update is durable and a compaction is all-or-nothing.

use super::posts::Projection;
use super::{dialect, now_ms, Backend, Db};
use crate::error::{Error, Result};
use renraku_sync::{DocId, ServerDoc, UserId};
use sqlx::Row;

/// One document's share of a group commit.
pub struct DocAppend<'a> {
    pub doc: &'a str,
    /// The new log rows: who wrote each update, and its bytes.
    pub rows: &'a [(UserId, Vec<u8>)],
    /// yrs client ids these rows use for the first time, bound to their users in the same
    /// transaction: stored together with the updates or not at all.
    pub bind: &'a [(UserId, u64)],
    /// What the rows wrote, for the `posts` / `read_markers` projection (room documents).
    pub projection: Option<&'a Projection>,
}

/// What a group commit did with one document's share: its rows' seqs, or — when one of its
/// client ids turned out to be bound to another user meanwhile — nothing at all, and that id.
pub type Appended = std::result::Result<Vec<i64>, u64>;

/// One update for the log: who wrote it, and its bytes.
pub type LogRow = (UserId, Vec<u8>);

/// A compaction: the document's whole state, covering its log up to a seq.
pub type Snapshot<'a> = (&'a str, &'a [u8], i64);

/// Replaces a document's snapshot (never with an older one) and drops the log rows it covers.
/// Under the document's lock ([`dialect::lock_doc_in`]), as appends: two nodes holding one
/// room may both compact it, and their compactions (and the appends of either) then run one
/// after the other, never interleaved.
async fn compact_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    (doc, state, up_to_seq): Snapshot<'_>,
    now: i64,
) -> Result<()> {
    dialect::lock_doc_in(tx, backend, doc).await?;
    sqlx::query(
        "INSERT INTO doc_snapshots (doc, state, up_to_seq, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (doc) DO UPDATE SET state = excluded.state, \
             up_to_seq = excluded.up_to_seq, updated_at = excluded.updated_at \
         WHERE doc_snapshots.up_to_seq <= excluded.up_to_seq",
    )
    .bind(doc)
    .bind(state)
    .bind(up_to_seq)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM doc_updates WHERE doc = $1 AND seq <= $2")
        .bind(doc)
        .bind(up_to_seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The newest seq of the document named by the SQL expression `$doc`: its log's last, or
/// its snapshot's once compaction emptied the log (NULL if it was never written). Each is a
/// `MAX` of its own, which both databases answer with one seek to the end of the
/// `(doc, seq)` index; a `MAX … GROUP BY doc` over several documents reads every row of each
/// one's log instead (up to a compaction's worth).
macro_rules! head_of {
    ($doc:literal) => {
        concat!(
            "(SELECT MAX(k.s) FROM (SELECT MAX(seq) AS s FROM doc_updates u WHERE u.doc = ",
            $doc,
            " UNION ALL SELECT up_to_seq FROM doc_snapshots n WHERE n.doc = ",
            $doc,
            ") AS k)"
        )
    };
}

/// The next seq of a document: one past both the log and the snapshot, because compaction
/// may have emptied the log and seqs must never be reused.
const INSERT_FIRST: &str = concat!(
    "INSERT INTO doc_updates (doc, seq, user_id, update_bytes, created_at) \
     SELECT $1, COALESCE(",
    head_of!("$1"),
    ", 0) + 1, $2, $3, $4 RETURNING seq"
);

/// Appends rows to the log in one statement, each document's under the seqs after its last
/// (as in [`INSERT_FIRST`]), in the order of `i`: reading the last seqs and writing the rows
/// is one round trip to the database, not two. `{rows}` is `($2, $3, $4, $5), …` (`i`, `doc`,
/// `user_id`, `update_bytes`); `$1` is the time. Each document's last seq is its own
/// [`head_of`], one index seek per document in every group commit.
const APPEND_ROWS: &str = concat!(
    "WITH fresh (i, doc, user_id, update_bytes) AS (VALUES {rows}), \
     tops (doc, s) AS (SELECT d.doc, ",
    head_of!("d.doc"),
    " FROM (SELECT DISTINCT doc FROM fresh) AS d) \
     INSERT INTO doc_updates (doc, seq, user_id, update_bytes, created_at) \
     SELECT f.doc, COALESCE(t.s, 0) + ROW_NUMBER() OVER (PARTITION BY f.doc ORDER BY f.i), \
         f.user_id, f.update_bytes, $1 \
     FROM fresh f LEFT JOIN tops t ON t.doc = f.doc \
     RETURNING doc, seq"
);

/// One share of an append: its index in the commit, its document, its rows.
pub(crate) type Share<'a> = (usize, &'a str, &'a [LogRow]);

/// The rows of `shares` in order, each with its position (`i` in [`APPEND_ROWS`]).
pub(crate) fn numbered_rows<'a>(shares: &[Share<'a>]) -> Vec<(i64, &'a str, &'a LogRow)> {
    shares
        .iter()
        .flat_map(|&(_, doc, rows)| rows.iter().map(move |row| (doc, row)))
        .zip(0..)
        .map(|((doc, row), i)| (i, doc, row))
        .collect()
}

/// [`APPEND_ROWS`] for `rows` rows: `$1` is the time, then four parameters a row.
pub(crate) fn append_sql(rows: usize) -> String {
    APPEND_ROWS.replace("{rows}", &super::batch::placeholders(2, rows, 4))
}

/// Each share's seqs, from the `(doc, seq)` rows the appends returned: a document's new seqs
/// ascending went to its rows in their order (a later statement's rows come after an earlier
/// one's, whose rows it reads as the last).
pub(crate) fn seqs_of_shares(
    shares: &[Share<'_>],
    returned: impl IntoIterator<Item = (String, i64)>,
) -> Result<Vec<(usize, Vec<i64>)>> {
    let mut seqs: std::collections::HashMap<String, std::collections::VecDeque<i64>> =
        std::collections::HashMap::new();
    for (doc, seq) in returned {
        seqs.entry(doc).or_default().push_back(seq);
    }
    for taken in seqs.values_mut() {
        taken.make_contiguous().sort_unstable();
    }
    let mut done = Vec::with_capacity(shares.len());
    for &(at, doc, share) in shares {
        let mut own = Vec::with_capacity(share.len());
        if let Some(taken) = seqs.get_mut(doc) {
            own.extend(taken.drain(..share.len().min(taken.len())));
        }
        if own.len() != share.len() {
            return Err(Error::internal(format!(
                "{doc}: rows appended without seqs"
            )));
        }
        done.push((at, own));
    }
    Ok(done)
}

/// Appends each share's rows under consecutive seqs, its documents already locked; returns
/// each share's index and seqs. A few multi-row statements
/// ([`super::batch::shaped_chunks`]) each read their documents' last seqs and write their
/// rows: a busy commit pays a few round trips to the database, not one per update.
async fn append_rows_in(
    tx: &mut sqlx::AnyConnection,
    shares: &[Share<'_>],
    now: i64,
) -> Result<Vec<(usize, Vec<i64>)>> {
    let rows = numbered_rows(shares);
    let mut returned = Vec::with_capacity(rows.len());
    for chunk in super::batch::shaped_chunks(&rows) {
        let sql = append_sql(chunk.len());
        let mut query = sqlx::query(&sql).bind(now);
        for &(i, doc, (user, bytes)) in chunk {
            query = query
                .bind(i)
                .bind(doc)
                .bind(user.get())
                .bind(bytes.as_slice());
        }
        for row in query.fetch_all(&mut *tx).await? {
            returned.push((row.try_get("doc")?, row.try_get("seq")?));
        }
    }
    seqs_of_shares(shares, returned)
}

fn client_key(client_id: u64) -> Result<i64> {
    i64::try_from(client_id).map_err(|_| Error::BadRequest("client id out of range".into()))
}

impl Db {
    /// Appends updates to a document's log under consecutive seqs; returns them in order.
    pub async fn append_updates(&self, doc: &str, rows: &[(UserId, Vec<u8>)]) -> Result<Vec<i64>> {
        let append = DocAppend {
            doc,
            rows,
            bind: &[],
            projection: None,
        };
        let mut seqs = self.append_batch(&[append], &[], &[]).await?;
        Ok(seqs.pop().and_then(|s| s.ok()).unwrap_or_default())
    }

    /// Binds client ids, appends to several documents' logs, writes audit entries, snapshots,
    /// the projection of what the appended updates wrote (`posts`, `read_markers`) and the
    /// pushes new posts call for, all in ONE transaction:
    /// one fsync for everything a busy server accepted in the last few milliseconds
    /// (group commit across rooms). Returns what became of each document's share, in input
    /// order: a client id bound to another user meanwhile (another node, a racing room) costs
    /// that share alone, never the others'.
    pub async fn append_batch(
        &self,
        docs: &[DocAppend<'_>],
        audits: &[super::audit::AuditEntry],
        snapshots: &[Snapshot<'_>],
    ) -> Result<Vec<Appended>> {
        Ok(self.append_batch_posts(docs, audits, snapshots).await?.0)
    }

    /// [`Db::append_batch`], also returning the posts new to the server it stored (not
    /// deleted), whose members the hub tells (`Frame::RoomActivity`).
    pub async fn append_batch_posts(
        &self,
        docs: &[DocAppend<'_>],
        audits: &[super::audit::AuditEntry],
        snapshots: &[Snapshot<'_>],
    ) -> Result<(Vec<Appended>, Vec<super::posts::NewPost>)> {
        let mut conn = self.pool().acquire().await?;
        self.append_batch_on(&mut conn, docs, audits, &[], snapshots)
            .await
    }

    /// [`Db::append_batch_posts`] on a connection the caller keeps: the hub's writer holds
    /// one for good, so that SQLite's page cache and prepared statements stay warm between
    /// its commits (a pooled connection's cache is cold after another connection wrote).
    pub async fn append_batch_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        docs: &[DocAppend<'_>],
        audits: &[super::audit::AuditEntry],
        touches: &[super::sessions::Touch],
        snapshots: &[Snapshot<'_>],
    ) -> Result<(Vec<Appended>, Vec<super::posts::NewPost>)> {
        let now = now_ms();
        let mut tx = self.begin_write_on(conn).await?;
        // Every document this commit appends to or compacts is locked first, in one order
        // (by name) that every node's commits follow: two commits that lock documents as
        // they come could each hold one the other waits for (PostgreSQL would then abort one
        // of them as a deadlock). The locks are re-entrant: taking one again below is free.
        let mut locked: Vec<&str> = docs
            .iter()
            .filter(|d| !d.rows.is_empty())
            .map(|d| d.doc)
            .chain(snapshots.iter().map(|(doc, _, _)| *doc))
            .collect();
        locked.sort_unstable();
        locked.dedup();
        for doc in locked {
            dialect::lock_doc_in(&mut tx, self.backend, doc).await?;
        }
        let mut all = Vec::with_capacity(docs.len());
        let mut projections = Vec::with_capacity(docs.len());
        // The shares whose client ids bound: their rows are appended together below.
        let mut appending = Vec::with_capacity(docs.len());
        for &DocAppend {
            doc,
            rows,
            bind,
            projection,
        } in docs
        {
            if let Err(client) = bind_in(&mut tx, bind, now).await? {
                all.push(Err(client));
                continue;
            }
            projections.extend(projection);
            appending.push((all.len(), doc, rows));
            all.push(Ok(vec![]));
        }
        // Every document was locked above: no other writer computes the same seqs.
        for (at, seqs) in append_rows_in(&mut tx, &appending, now).await? {
            all[at] = Ok(seqs);
        }
        // Chained in one go: the chain head is locked once per batch.
        super::audit::append(&mut tx, audits, now).await?;
        super::sessions::touch_in(&mut tx, touches).await?;
        for snapshot in snapshots {
            compact_in(&mut tx, self.backend, *snapshot, now).await?;
        }
        let projected =
            super::posts::project_in(&mut tx, self.backend, &projections, now, false).await?;
        let mut pushes =
            super::push::enqueue_in(&mut tx, self.backend, &projected.new_posts, now).await?;
        // Acknowledgement requests and acknowledgements, after the posts they belong to;
        // an author whose request is now complete is told in this same commit.
        pushes += super::acks::project_in(&mut tx, &projections, &projected, now, true).await?;
        tx.commit().await?;
        if pushes > 0 {
            self.push_notifier.wake();
        }
        Ok((all, projected.new_posts))
    }

    /// A document as stored (its snapshot, then the log after it), for reading outside the
    /// hub: rebuilding the projection, exporting a record.
    pub async fn load_server_doc(&self, id: DocId) -> Result<ServerDoc> {
        Ok(self.load_server_doc_at(id).await?.0)
    }

    /// [`Db::load_server_doc`], and the seq it is stored up to (0 when nothing is).
    pub async fn load_server_doc_at(&self, id: DocId) -> Result<(ServerDoc, i64)> {
        let (snapshot, tail) = self.load_doc(&id.storage_key()).await?;
        let mut doc = ServerDoc::new(id);
        let head = tail
            .last()
            .map(|(seq, _)| *seq)
            .or(snapshot.as_ref().map(|(_, seq)| *seq))
            .unwrap_or(0);
        for update in snapshot
            .iter()
            .map(|(s, _)| s)
            .chain(tail.iter().map(|(_, u)| u))
        {
            doc.load(update)
                .map_err(|e| Error::internal(format!("{id} does not load: {e}")))?;
        }
        Ok((doc, head))
    }

    /// The snapshot (state, up_to_seq) if any, then the log rows after it, in seq order.
    #[allow(clippy::type_complexity)]
    pub async fn load_doc(
        &self,
        doc: &str,
    ) -> Result<(Option<(Vec<u8>, i64)>, Vec<(i64, Vec<u8>)>)> {
        // Seqs start at 1 and a snapshot's `up_to_seq` at 0: everything is after -1.
        self.load_doc_after(doc, -1, None).await
    }

    /// Replaces the snapshot with `state` (covering seqs up to `up_to_seq`) and deletes the
    /// log rows it covers. A snapshot never moves backwards; compactions and appends of one
    /// document, from any node, run one at a time.
    pub async fn compact(&self, doc: &str, state: &[u8], up_to_seq: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        compact_in(&mut tx, self.backend, (doc, state, up_to_seq), now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a node holding a document since `after` lacks, for catching up with what other
    /// nodes stored: the snapshot when a compaction has passed `after` (the rows it covers
    /// are gone), then the log rows after both, up to `up_to` if given.
    #[allow(clippy::type_complexity)]
    pub async fn load_doc_after(
        &self,
        doc: &str,
        after: i64,
        up_to: Option<i64>,
    ) -> Result<(Option<(Vec<u8>, i64)>, Vec<(i64, Vec<u8>)>)> {
        let mut tx = self.pool.begin().await?;
        dialect::snapshot_reads_in(&mut tx, self.backend).await?;
        let snapshot = sqlx::query(
            "SELECT state, up_to_seq FROM doc_snapshots WHERE doc = $1 AND up_to_seq > $2",
        )
        .bind(doc)
        .bind(after)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<_, sqlx::Error> {
            Ok((
                row.try_get::<Vec<u8>, _>("state")?,
                row.try_get::<i64, _>("up_to_seq")?,
            ))
        })
        .transpose()?;
        let from = snapshot
            .as_ref()
            .map_or(after, |(_, seq)| (*seq).max(after));
        let tail = sqlx::query(
            "SELECT seq, update_bytes FROM doc_updates \
             WHERE doc = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(doc)
        .bind(from)
        .bind(up_to.unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("seq")?, row.try_get("update_bytes")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok((snapshot, tail))
    }

    /// The newest seq of each of `docs` that has any (its log's, or its snapshot's once
    /// compacted), for the cluster's sweep: one query per node per sweep.
    pub async fn doc_heads(
        &self,
        docs: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut heads = std::collections::HashMap::with_capacity(docs.len());
        // Bounded statements: a node may hold thousands of rooms.
        for chunk in docs.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("(${i})"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                concat!(
                    "WITH asked (doc) AS (VALUES {list}), \
                     heads (doc, head) AS (SELECT a.doc, ",
                    head_of!("a.doc"),
                    " FROM asked AS a) \
                     SELECT doc, head FROM heads WHERE head IS NOT NULL"
                ),
                list = list
            );
            let mut query = sqlx::query(&sql);
            for doc in chunk {
                query = query.bind(doc.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                heads.insert(row.try_get("doc")?, row.try_get("head")?);
            }
        }
        Ok(heads)
    }

    /// Number of log rows not yet compacted.
    pub async fn log_len(&self, doc: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM doc_updates WHERE doc = $1")
            .bind(doc)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Binds unbound client ids to `user`. If one is already bound to another user, binds
    /// nothing and returns `Ok(Err(that_id))`.
    pub async fn bind_clients(&self, user: UserId, client_ids: &[u64]) -> Result<Result<(), u64>> {
        if client_ids.is_empty() {
            return Ok(Ok(()));
        }
        let bind: Vec<(UserId, u64)> = client_ids.iter().map(|&c| (user, c)).collect();
        let mut tx = self.begin_write().await?;
        let bound = bind_in(&mut tx, &bind, now_ms()).await?;
        tx.commit().await?;
        Ok(bound)
    }

    pub async fn client_owner(&self, client_id: u64) -> Result<Option<UserId>> {
        let Ok(key) = i64::try_from(client_id) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT user_id FROM yjs_clients WHERE client_id = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("user_id"))
            .transpose()?
            .map(UserId::new))
    }
}

/// Binds each client id to its user inside the caller's transaction. If one is bound to
/// another user, binds none of them (a savepoint keeps the rest of the transaction) and
/// returns that id.
async fn bind_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    bind: &[(UserId, u64)],
    now: i64,
) -> Result<Result<(), u64>> {
    if bind.is_empty() {
        return Ok(Ok(()));
    }
    let mut savepoint = sqlx::Connection::begin(&mut **tx).await?;
    for &(user, client) in bind {
        sqlx::query(
            "INSERT INTO yjs_clients (client_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(client_key(client)?)
        .bind(user.get())
        .bind(now)
        .execute(&mut *savepoint)
        .await?;
    }
    // Checked after inserting: a racing binder may have won some id between the caller's view
    // and our insert; the database's row is the truth, whoever wrote it.
    for &(user, client) in bind {
        let owner: i64 = sqlx::query("SELECT user_id FROM yjs_clients WHERE client_id = $1")
            .bind(client_key(client)?)
            .fetch_one(&mut *savepoint)
            .await?
            .try_get("user_id")?;
        if owner != user.get() {
            savepoint.rollback().await?;
            return Ok(Err(client));
        }
    }
    savepoint.commit().await?;
    Ok(Ok(()))
}

/// Appends one update to a document's log inside the caller's transaction (imports, which
/// must be all-or-nothing with the rest of their writes). Returns its seq.
pub async fn append_in(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    doc: &str,
    user: UserId,
    bytes: &[u8],
    now: i64,
) -> Result<i64> {
    dialect::lock_doc_in(conn, backend, doc).await?;
    let seq: i64 = sqlx::query(INSERT_FIRST)
        .bind(doc)
        .bind(user.get())
        .bind(bytes)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
        .try_get("seq")?;
    Ok(seq)
}

/// Every stored update of a document (snapshot first, then the log), read inside the
/// caller's transaction.
pub async fn load_in(conn: &mut sqlx::AnyConnection, doc: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let snapshot = sqlx::query("SELECT state, up_to_seq FROM doc_snapshots WHERE doc = $1")
        .bind(doc)
        .fetch_optional(&mut *conn)
        .await?;
    let mut after = 0_i64;
    if let Some(row) = snapshot {
        out.push(row.try_get::<Vec<u8>, _>("state")?);
        after = row.try_get("up_to_seq")?;
    }
    let rows = sqlx::query(
        "SELECT update_bytes FROM doc_updates WHERE doc = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(doc)
    .bind(after)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        out.push(row.try_get::<Vec<u8>, _>("update_bytes")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// The cluster's sweep learns each document's newest seq: its log's last, its snapshot's
    /// once a compaction emptied the log, the log's again after that; a document never
    /// written has none.
    #[tokio::test]
    async fn a_documents_head_is_the_newest_seq_of_its_log_or_snapshot() {
        let (_dir, _, db, user) = crate::db::demo_db().await;
        let row = |b: u8| (user, vec![b; 3]);
        let docs = ["room/9001", "room/9002", "room/9003", "room/9004"].map(String::from);
        db.append_updates(&docs[0], &[row(1), row(2), row(3)])
            .await
            .unwrap();
        db.append_batch(&[], &[], &[(docs[1].as_str(), &[9], 7)])
            .await
            .unwrap();
        db.append_batch(&[], &[], &[(docs[2].as_str(), &[9], 7)])
            .await
            .unwrap();
        assert_eq!(db.append_updates(&docs[2], &[row(4)]).await.unwrap(), [8]);
        let heads = db.doc_heads(&docs).await.unwrap();
        assert_eq!(heads.get("room/9001"), Some(&3), "the log's last");
        assert_eq!(heads.get("room/9002"), Some(&7), "the snapshot's");
        assert_eq!(
            heads.get("room/9003"),
            Some(&8),
            "the log's, past the snapshot"
        );
        assert_eq!(heads.get("room/9004"), None, "never written");
    }
}
