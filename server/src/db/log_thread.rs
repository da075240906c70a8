//! The hub's group commit on SQLite, run synchronously on a thread of its own.
//!
//! sqlx's SQLite driver runs each statement on a worker thread and hands it back over a
//! channel: a commit of `BEGIN IMMEDIATE`, the append and `COMMIT` woke that thread and the
//! runtime three times each way, and those wakes were most of the server's CPU per update at
//! a steady rate (bench/HISTORY.md). Here the writer hands the whole commit over once and is
//! woken once when it is durable. Only the commit that appends rows (and touches sessions)
//! alone comes here; one that also binds client ids or audits goes through sqlx (`Db::append_batch_on`), as do
//! compactions, each in a transaction of its own between commits.
//! The hub's writer waits for each before it starts the next, so the two connections never
//! contend for SQLite's write lock.

use super::doc_log::{append_sql, numbered_rows, seqs_of_shares, LogRow, Share};
use super::sessions::{Touch, TOUCH_SQL};
use super::{dialect, now_ms};
use crate::error::{Error, Result};
use rusqlite::types::ToSqlOutput::Borrowed;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// One document's rows to append.
pub type OwnedShare = (String, Vec<LogRow>);

struct Request {
    shares: Vec<OwnedShare>,
    touches: Vec<Touch>,
    /// Each share's seqs, in order, once committed.
    done: oneshot::Sender<Result<Vec<Vec<i64>>>>,
}

/// The thread, and its queue; the thread ends (closing its connection) when this is dropped.
pub struct LogThread {
    tx: mpsc::Sender<Request>,
}

impl LogThread {
    /// Opens a connection to the database file (which sqlx created and migrated) with the
    /// pool's pragmas, and starts its thread.
    pub fn open(path: &Path) -> Result<LogThread> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error)?;
        conn.execute_batch(dialect::SQLITE_PRAGMAS)
            .map_err(sqlite_error)?;
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("renraku-log".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(Request {
                    shares,
                    touches,
                    done,
                }) = rx.recv()
                {
                    let _ = done.send(append(&mut conn, &shares, &touches));
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the log thread: {e}")))?;
        Ok(LogThread { tx })
    }

    /// Appends each share's rows under its document's next seqs and writes the sessions'
    /// touches, in one transaction; returns the seqs once durable.
    pub async fn append(
        &self,
        shares: Vec<OwnedShare>,
        touches: Vec<Touch>,
    ) -> Result<Vec<Vec<i64>>> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request {
                shares,
                touches,
                done,
            })
            .map_err(|_| Error::internal("the log thread has stopped"))?;
        wait.await
            .map_err(|_| Error::internal("the log thread has stopped"))?
    }
}

fn append(conn: &mut Connection, owned: &[OwnedShare], touches: &[Touch]) -> Result<Vec<Vec<i64>>> {
    let shares: Vec<Share<'_>> = owned
        .iter()
        .enumerate()
        .map(|(at, (doc, rows))| (at, doc.as_str(), rows.as_slice()))
        .collect();
    let now = now_ms();
    let rows = numbered_rows(&shares);
    // Dropped without a commit, it rolls back.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    let mut returned = Vec::with_capacity(rows.len());
    for chunk in super::batch::shaped_chunks(&rows) {
        let mut statement = tx
            .prepare_cached(&append_sql(chunk.len()))
            .map_err(sqlite_error)?;
        let mut values = Vec::with_capacity(1 + chunk.len() * 4);
        values.push(Borrowed(ValueRef::Integer(now)));
        for &(i, doc, (user, bytes)) in chunk {
            values.extend([
                Borrowed(ValueRef::Integer(i)),
                Borrowed(ValueRef::Text(doc.as_bytes())),
                Borrowed(ValueRef::Integer(user.get())),
                Borrowed(ValueRef::Blob(bytes)),
            ]);
        }
        // `$n` is the n-th value, as sqlx binds it: SQLite numbers parameters by where they
        // first appear, and `$1` (the time) comes last in the text.
        for index in 1..=statement.parameter_count() {
            let value = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok())
                .and_then(|n| values.get(n.checked_sub(1)?))
                .ok_or_else(|| Error::internal("the append's parameters do not match"))?;
            statement
                .raw_bind_parameter(index, value)
                .map_err(sqlite_error)?;
        }
        let mut appended = statement.raw_query();
        while let Some(row) = appended.next().map_err(sqlite_error)? {
            returned.push((
                row.get::<_, String>("doc").map_err(sqlite_error)?,
                row.get::<_, i64>("seq").map_err(sqlite_error)?,
            ));
        }
    }
    let seqs = seqs_of_shares(&shares, returned)?;
    for touch in touches {
        let mut statement = tx.prepare_cached(TOUCH_SQL).map_err(sqlite_error)?;
        let values = [
            ("$1", ValueRef::Integer(touch.at)),
            ("$2", ValueRef::Text(touch.session.as_str().as_bytes())),
            ("$3", ValueRef::Integer(touch.idle_before)),
        ];
        for (name, value) in values {
            let index = statement
                .parameter_index(name)
                .map_err(sqlite_error)?
                .ok_or_else(|| Error::internal("the touch's parameters do not match"))?;
            statement
                .raw_bind_parameter(index, Borrowed(value))
                .map_err(sqlite_error)?;
        }
        statement.raw_execute().map_err(sqlite_error)?;
    }
    tx.commit().map_err(sqlite_error)?;
    Ok(seqs.into_iter().map(|(_, seqs)| seqs).collect())
}

fn sqlite_error(e: rusqlite::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("SQLite (the log thread)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sessions::SessionId;

    /// What the log thread appends continues each document's seqs past its log and its
    /// snapshot, as sqlx's commit does, and reads back as stored.
    #[tokio::test]
    async fn appends_continue_each_documents_seqs_after_its_log_and_snapshot() {
        let (_dir, _, db, user) = crate::db::demo_db().await;
        let row = |b: u8| (user, vec![b; 3]);
        assert_eq!(
            db.append_updates("room/9001", &[row(1), row(2)])
                .await
                .unwrap(),
            [1, 2]
        );
        // room/9002's log was compacted up to 7 and emptied.
        db.append_batch(&[], &[], &[("room/9002", &[9], 7)])
            .await
            .unwrap();
        let thread = LogThread::open(db.sqlite_file().unwrap()).unwrap();
        let seqs = thread
            .append(
                vec![
                    ("room/9001".into(), vec![row(3)]),
                    ("room/9002".into(), vec![row(4), row(5)]),
                    ("room/9003".into(), (6..46).map(row).collect()),
                ],
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(seqs[0], [3]);
        assert_eq!(seqs[1], [8, 9]);
        assert_eq!(seqs[2], (1..=40).collect::<Vec<i64>>());
        let (_, tail) = db.load_doc("room/9001").await.unwrap();
        assert_eq!(tail.last(), Some(&(3, vec![3; 3])));
        let (snapshot, tail) = db.load_doc("room/9002").await.unwrap();
        assert_eq!(snapshot, Some((vec![9], 7)));
        assert_eq!(tail, [(8, vec![4; 3]), (9, vec![5; 3])]);
        // And sqlx's next commit carries on after them.
        assert_eq!(
            db.append_updates("room/9003", &[row(99)]).await.unwrap(),
            [41]
        );
    }

    /// A touch in the commit starts a live session's idle time again, and leaves one that
    /// had already idled out or passed its end as it was: a touch queued just before the
    /// session ended never brings it back.
    #[tokio::test]
    async fn a_touch_renews_a_live_session_only() {
        let (_dir, _, db, user) = crate::db::demo_db().await;
        // (last seen, absolute end) of a live, an idle and an expired session.
        let sessions: Vec<(SessionId, i64, i64)> = [(1_000, 9_000), (100, 9_000), (1_000, 1_500)]
            .into_iter()
            .map(|(seen, end)| (SessionId::generate(), seen, end))
            .collect();
        for (i, (id, seen, end)) in sessions.iter().enumerate() {
            db.create_session(&crate::db::sessions::NewSession {
                id_hash: &format!("{i:064}"),
                id,
                user,
                now: *seen,
                expires_at: *end,
                user_agent: "test",
            })
            .await
            .unwrap();
        }
        let thread = LogThread::open(db.sqlite_file().unwrap()).unwrap();
        let touches = sessions
            .iter()
            .map(|(id, ..)| Touch {
                session: id.clone(),
                at: 2_000,
                idle_before: 500,
            })
            .collect();
        let seqs = thread
            .append(vec![("room/9001".into(), vec![(user, vec![1])])], touches)
            .await
            .unwrap();
        assert_eq!(seqs, [[1]]);
        let ids: Vec<SessionId> = sessions.iter().map(|(id, ..)| id.clone()).collect();
        let mut seen: Vec<(SessionId, i64)> = db
            .session_times(&ids)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.last_seen_at))
            .collect();
        seen.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
        let last_seen: Vec<i64> = seen.into_iter().map(|(_, at)| at).collect();
        assert_eq!(last_seen, [2_000, 100, 1_000]);
    }
}
