//! The one writer of update logs: every room hands its accepted batch here, and whatever
//! all rooms handed in while the previous transaction was committing goes into the next one
//! — group commit across rooms, so a busy server pays one fsync for many rooms instead of
//! one each, and rooms never queue on SQLite's single write lock. Compactions wait outside
//! it and are written one at a time between commits ([`Compactions`]).
//!
//! Where the posts projection follows the log ([`crate::db::Backend::projects_after_commit`])
//! the writer holds what each commit's updates wrote and, every `project_every`, writes what
//! it holds, each room's posts of many commits together, in pieces between its commits (or
//! all at once when a reader waits for it: [`crate::db::projection_lag`]); the acknowledged
//! commit then writes the log alone.

use super::held_projection::HeldProjection;
use crate::db::audit::AuditEntry;
use crate::db::doc_log::{Appended, DocAppend, Snapshot};
use crate::db::log_thread::LogThread;
use crate::db::posts::{NewPost, Projection};
use crate::db::search::INDEX_STEP;
use crate::db::sessions::Touch;
use crate::db::Db;
use renraku_sync::UserId;
use sqlx::pool::PoolConnection;
use sqlx::Any;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

/// Jobs taken into one transaction at most.
const MAX_JOBS: usize = 1024;

const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

type Done<T> = oneshot::Sender<Result<T, String>>;

enum Job {
    Append {
        doc: String,
        rows: Vec<(UserId, Vec<u8>)>,
        /// yrs client ids the rows use for the first time, and their users.
        bind: Vec<(UserId, u64)>,
        /// What the rows wrote, for the `posts` / `read_markers` projection.
        projection: Option<Projection>,
        done: Done<Appended>,
    },
    /// Client ids bound with no update (a Yjs client's presence names them first).
    Bind {
        bind: Vec<(UserId, u64)>,
        done: Done<Result<(), u64>>,
    },
    Audit {
        entry: AuditEntry,
        done: Done<()>,
    },
    /// A session used: written in the commit, like the rest (see [`Touch`]).
    Touch {
        touch: Touch,
        done: Option<Done<()>>,
    },
    /// The WAL was checkpointed beside the writer: what is left of it is copied, and it is
    /// started over, between commits (see [`checkpoints`]).
    RestartWal,
    /// Not waited for: a failed compaction only leaves a longer log to replay. Not in the
    /// group commit either, which rooms wait for (see [`Compactions`]).
    Compact {
        doc: String,
        state: Vec<u8>,
        up_to_seq: i64,
    },
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task; it ends when the last `Writer` is dropped. The posts each
    /// commit stored for the first time go to `activity` (see `activity.rs`); every
    /// `index_every`, the posts stored meanwhile go into the search index together (one
    /// index segment for all of them, not one per commit: `Db::index_pending_posts_on`).
    pub fn spawn(
        db: Db,
        activity: mpsc::Sender<Vec<NewPost>>,
        index_every: std::time::Duration,
        project_every: std::time::Duration,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(MAX_JOBS * 4);
        tokio::spawn(checkpoints(db.clone(), tx.downgrade()));
        let every = Every {
            index: index_every,
            project: project_every,
        };
        tokio::spawn(run(db, rx, activity, every));
        Writer { tx }
    }

    /// Appends `rows` to `doc`'s log, binds the client ids they use first (`bind`), and
    /// writes the projection of what they wrote (room documents), all in the same
    /// transaction; returns their seqs once committed, or the client id that another user
    /// holds (then nothing of it was stored).
    pub async fn append_projected(
        &self,
        doc: String,
        rows: Vec<(UserId, Vec<u8>)>,
        bind: Vec<(UserId, u64)>,
        projection: Option<Projection>,
    ) -> Result<Appended, String> {
        let (done, wait) = oneshot::channel();
        let job = Job::Append {
            doc,
            rows,
            bind,
            projection,
            done,
        };
        self.submit(job, wait).await
    }

    /// Binds client ids to their users in the next group commit; `Err(id)` when that id is
    /// another user's (then none is bound).
    pub async fn bind(&self, bind: Vec<(UserId, u64)>) -> Result<Result<(), u64>, String> {
        let (done, wait) = oneshot::channel();
        self.submit(Job::Bind { bind, done }, wait).await
    }

    /// Writes an audit entry; returns once committed.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.submit(Job::Audit { entry, done }, wait).await
    }

    /// Records a use of a session; returns once committed.
    pub async fn touch(&self, touch: Touch) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        let job = Job::Touch {
            touch,
            done: Some(done),
        };
        self.submit(job, wait).await
    }

    /// [`Writer::touch`], not waited for. Queued behind whatever this task handed the
    /// writer before (so in the same commit or an earlier one than what it hands in
    /// after); dropped if the queue is full, when the session's next use touches it.
    pub fn touch_soon(&self, touch: Touch) {
        if let Err(e) = self.tx.try_send(Job::Touch { touch, done: None }) {
            tracing::warn!(error = %e, "session activity not queued");
        }
    }

    /// Queues a compaction of `doc` into `state`, covering its log up to `up_to_seq`.
    pub fn compact(&self, doc: String, state: Vec<u8>, up_to_seq: i64) {
        let job = Job::Compact {
            doc,
            state,
            up_to_seq,
        };
        if let Err(e) = self.tx.try_send(job) {
            // A full queue means a busy writer: the room compacts again at its next threshold.
            tracing::warn!(error = %e, "compaction not queued");
        }
    }

    async fn submit<T>(
        &self,
        job: Job,
        wait: oneshot::Receiver<Result<T, String>>,
    ) -> Result<T, String> {
        self.tx
            .send(job)
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the writer has stopped".to_owned())?
    }
}

/// How often the writer does what follows its commits.
struct Every {
    /// Moves new posts into the search index.
    index: std::time::Duration,
    /// Writes the projection it holds.
    project: std::time::Duration,
}

/// The projection the writer holds back, and how many commits' worth it has held and
/// written since start (for readers waiting on it: `ProjectionLag`).
#[derive(Default)]
struct Held {
    projection: HeldProjection,
    commits: u64,
    /// Writes failed in a row (see [`write_held`]).
    failures: u32,
}

/// Failed writes of the held projection after which it is written room by room, and a room
/// that still fails is left to the next start (its mark stays behind its log).
const FAILURES_BEFORE_SPLIT: u32 = 3;

async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Job>,
    activity: mpsc::Sender<Vec<NewPost>>,
    every: Every,
) {
    let defer = db.backend().projects_after_commit();
    let lag = db.projection_lag().clone();
    let mut held = Held::default();
    let mut project_every = tokio::time::interval(every.project);
    project_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut jobs = Vec::with_capacity(MAX_JOBS);
    // The writer's own connection, kept between commits (see `Db::append_batch_on`); given
    // back to the pool after a failed commit, and taken again for the next.
    let mut conn: Option<PoolConnection<Any>> = None;
    // Another, for what the log alone can make again (see `RebuildableConn`).
    let mut rebuildable = RebuildableConn::default();
    // Between commits, on the same connection: the index's transaction never waits on the
    // group commit's lock, nor a commit on the index's (SQLite would make either sleep).
    let mut index_every = tokio::time::interval(every.index);
    index_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut log = LogConn::new(db.sqlite_file().filter(|_| defer));
    let mut compactions = Compactions::default();
    let mut restart_wal = false;
    loop {
        tokio::select! {
            got = rx.recv_many(&mut jobs, MAX_JOBS) => if got == 0 {
                // Shutting down: what is held is written now, or at the next start.
                if !held.projection.is_empty() {
                    write_held(&db, &mut rebuildable, &mut held, &activity, Take::All).await;
                }
                while !compactions.is_empty() {
                    compactions.write_one(&db, &mut rebuildable).await;
                }
                return;
            },
            // Between commits, one at a time: a room's compaction never rides in a commit
            // that other rooms wait for.
            _ = std::future::ready(()), if !compactions.is_empty() => {
                compactions.write_one(&db, &mut rebuildable).await;
                continue;
            }
            // Not restarted when a request is in the way: again after the next checkpoint.
            _ = std::future::ready(()), if restart_wal => {
                restart_wal = false;
                let restarted = async { db.restart_wal_on(rebuildable.get(&db).await?).await }.await;
                if let Err(e) = restarted {
                    rebuildable.failed();
                    tracing::warn!(error = %e, "WAL restart failed");
                }
                continue;
            }
            _ = project_every.tick(), if !held.projection.is_empty() => {
                held.projection.tick();
                write_held(&db, &mut rebuildable, &mut held, &activity, Take::Piece).await;
                continue;
            }
            // What a tick made due, a piece at a time: after each commit (below), or here
            // when no commit is waiting.
            _ = std::future::ready(()), if held.projection.piece_due() && rx.is_empty() => {
                write_held(&db, &mut rebuildable, &mut held, &activity, Take::Piece).await;
                continue;
            }
            _ = lag.wanted() => {
                if !held.projection.is_empty() {
                    write_held(&db, &mut rebuildable, &mut held, &activity, Take::All).await;
                }
                continue;
            }
            _ = index_every.tick() => {
                match index_pending(&db, &mut rebuildable).await {
                    // The next step right after the commits queued meanwhile.
                    Ok(true) => index_every.reset_immediately(),
                    Ok(false) => {}
                    Err(e) => {
                        rebuildable.failed();
                        tracing::warn!(error = %e, "search indexing failed; again in a second");
                    }
                }
                continue;
            }
        }
        let mut appends = Vec::new();
        let mut binds = Vec::new();
        let mut audits = Vec::new();
        let mut touches = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Append {
                    doc,
                    rows,
                    bind,
                    projection,
                    done,
                } => appends.push((doc, rows, bind, projection, done)),
                Job::Bind { bind, done } => binds.push((bind, done)),
                Job::Audit { entry, done } => audits.push((entry, done)),
                Job::Touch { touch, done } => touches.push((touch, done)),
                Job::Compact {
                    doc,
                    state,
                    up_to_seq,
                } => compactions.queue(doc, state, up_to_seq),
                Job::RestartWal => restart_wal = true,
            }
        }
        if appends.is_empty() && binds.is_empty() && audits.is_empty() && touches.is_empty() {
            continue; // compactions or a checkpoint only
        }
        let jobs_taken = appends.len() + binds.len() + audits.len() + touches.len();
        let touched: Vec<Touch> = touches.iter().map(|(touch, _)| touch.clone()).collect();
        // Rows alone, with any sessions' touches (the steady state of a busy server): on
        // the log thread, one wake for the whole commit. Anything else, with sqlx, in one
        // transaction as ever.
        let rows_alone = binds.is_empty()
            && audits.is_empty()
            && appends
                .iter()
                .all(|(_, rows, bind, ..)| bind.is_empty() && !rows.is_empty());
        let on_log_thread = if rows_alone { log.thread() } else { None };
        let committed = if let Some(thread) = on_log_thread {
            let shares = appends
                .iter_mut()
                .map(|(doc, rows, ..)| (doc.clone(), std::mem::take(rows)))
                .collect();
            let appended = thread.append(shares, touched).await;
            if appended.is_err() {
                log.failed();
            }
            appended.map(|seqs| (seqs.into_iter().map(Ok).collect(), Vec::new()))
        } else {
            // A bind-only job is a document share with no rows (the document is never named).
            let docs: Vec<DocAppend> = appends
                .iter()
                .map(|(doc, rows, bind, projection, _)| DocAppend {
                    doc: doc.as_str(),
                    rows: rows.as_slice(),
                    bind: bind.as_slice(),
                    // Held and written after the commit, where the projection follows the log.
                    projection: projection.as_ref().filter(|_| !defer),
                })
                .chain(binds.iter().map(|(bind, _)| DocAppend {
                    doc: "",
                    rows: &[],
                    bind: bind.as_slice(),
                    projection: None,
                }))
                .collect();
            let entries: Vec<AuditEntry> = audits.iter().map(|(entry, _)| entry.clone()).collect();
            let committed = async {
                let held = connection(&db, &mut conn).await?;
                db.append_batch_on(held, &docs, &entries, &touched, &[])
                    .await
            }
            .await;
            if committed.is_err() {
                conn = None;
            }
            committed
        };
        match committed {
            Ok((results, new_posts)) => {
                // After the commit, never waited for: members' room lists are told by
                // another task, and a full queue only costs them a live update (the list
                // is fetched again on every visit).
                if !new_posts.is_empty() && activity.try_send(new_posts).is_err() {
                    tracing::warn!("room activity not queued");
                }
                let mut results = results.into_iter();
                let mut answers = Vec::with_capacity(appends.len());
                for ((doc, _, _, projection, done), appended) in
                    appends.into_iter().zip(results.by_ref())
                {
                    if let (true, Some(projection), Ok(seqs)) = (defer, projection, &appended) {
                        if let Some(&upto) = seqs.iter().max() {
                            held.projection.hold(&doc, upto, projection);
                        }
                    }
                    answers.push((done, appended));
                }
                // Counted before anyone hears of the commit: a reader who starts after an
                // acknowledgement waits for its projection.
                if defer && !held.projection.is_empty() {
                    held.commits += 1;
                    lag.held(held.commits);
                }
                for (done, appended) in answers {
                    let _ = done.send(Ok(appended));
                }
                for ((_, done), appended) in binds.into_iter().zip(results) {
                    let _ = done.send(Ok(appended.map(|_| ())));
                }
                for (_, done) in audits {
                    let _ = done.send(Ok(()));
                }
                for done in touches.into_iter().filter_map(|(_, done)| done) {
                    let _ = done.send(Ok(()));
                }
                if held.projection.piece_due() {
                    write_held(&db, &mut rebuildable, &mut held, &activity, Take::Piece).await;
                }
            }
            Err(e) => {
                error!(error = %e, jobs = jobs_taken, "group commit failed");
                let reason = "storage unavailable".to_owned();
                for (.., done) in appends {
                    let _ = done.send(Err(reason.clone()));
                }
                for (_, done) in binds {
                    let _ = done.send(Err(reason.clone()));
                }
                for (_, done) in audits {
                    let _ = done.send(Err(reason.clone()));
                }
                for done in touches.into_iter().filter_map(|(_, done)| done) {
                    let _ = done.send(Err(reason.clone()));
                }
            }
        }
    }
}

/// How much of the held projection [`write_held`] writes.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    /// All of it: a reader waits for it, or the writer is stopping.
    All,
    /// A piece ([`HeldProjection::take_piece`]): what the tick made due, a piece after each
    /// commit. Writing a room after every commit that carried it wrote the same index pages
    /// over and over: at 4,000 updates/s every commit carried ~100 rooms, and their
    /// projection took three quarters of the writer's time (bench/HISTORY.md).
    Piece,
}

/// Writes the projection held back, or a piece of it (see `Db::project_following_on`), and
/// tells members' room lists of the new posts. A failed write keeps it held, for the next tick; after
/// [`FAILURES_BEFORE_SPLIT`] in a row it is written room by room, so that one room's rows
/// that cannot be written hold up no other room nor any reader: that room is projected
/// again from its log at the next start.
async fn write_held(
    db: &Db,
    conn: &mut RebuildableConn,
    held: &mut Held,
    activity: &mpsc::Sender<Vec<NewPost>>,
    take: Take,
) {
    let (projections, marks) = match take {
        Take::All => held.projection.take(),
        Take::Piece => held.projection.take_piece(),
    };
    let split = held.failures >= FAILURES_BEFORE_SPLIT;
    let parts: Vec<std::ops::Range<usize>> = if split {
        (0..projections.len()).map(|i| i..i + 1).collect()
    } else {
        std::iter::once(0..projections.len()).collect()
    };
    let mut new_posts = Vec::new();
    for part in parts {
        let written = async {
            let refs: Vec<&Projection> = projections[part.clone()].iter().collect();
            let marks: Vec<(&str, i64)> = marks[part.clone()]
                .iter()
                .map(|(doc, seq)| (doc.as_str(), *seq))
                .collect();
            let held_conn = conn.get(db).await?;
            db.project_following_on(held_conn, &refs, &marks).await
        }
        .await;
        match written {
            Ok(posts) => new_posts.extend(posts),
            Err(e) if split => {
                conn.failed();
                error!(error = %e, doc = %marks[part.start].0,
                    "the posts projection of a room cannot be written; it is projected \
                     again from its log at the next start");
            }
            Err(e) => {
                conn.failed();
                held.failures += 1;
                error!(error = %e, rooms = projections.len(),
                    "writing the posts projection failed; again at the next tick");
                for (projection, (doc, upto)) in projections.into_iter().zip(marks) {
                    held.projection.hold(&doc, upto, projection);
                }
                return;
            }
        }
    }
    held.failures = 0;
    // Readers wait for every acknowledged commit's projection, so only once nothing is held.
    if held.projection.is_empty() {
        db.projection_lag().written(held.commits);
    }
    if !new_posts.is_empty() && activity.try_send(new_posts).is_err() {
        tracing::warn!("room activity not queued");
    }
}

/// Compactions rooms asked for, written one at a time between group commits: when many
/// rooms reach their threshold together (rooms that grow at the same pace do), a commit
/// carrying all their snapshots and deletions stopped every room for over 100 ms
/// (bench/HISTORY.md). A room asking again before its turn replaces its request: the newer
/// state covers more of its log.
#[derive(Default)]
struct Compactions {
    due: std::collections::VecDeque<(String, Vec<u8>, i64)>,
}

impl Compactions {
    fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    fn queue(&mut self, doc: String, state: Vec<u8>, up_to_seq: i64) {
        match self.due.iter_mut().find(|(queued, ..)| *queued == doc) {
            Some(queued) if queued.2 <= up_to_seq => *queued = (doc, state, up_to_seq),
            Some(_) => {}
            None => self.due.push_back((doc, state, up_to_seq)),
        }
    }

    /// Writes the oldest; a failure drops it (the log stays longer, nothing is lost).
    async fn write_one(&mut self, db: &Db, conn: &mut RebuildableConn) {
        let Some((doc, state, up_to_seq)) = self.due.pop_front() else {
            return;
        };
        let snapshot: Snapshot = (doc.as_str(), state.as_slice(), up_to_seq);
        let written = async {
            let held = conn.get(db).await?;
            db.append_batch_on(held, &[], &[], &[], &[snapshot]).await
        }
        .await;
        if let Err(e) = written {
            conn.failed();
            tracing::warn!(doc = %doc, error = %e, "compaction failed; the log stays as it is");
        }
    }
}

/// The log thread the writer commits rows on where it can (SQLite: `db::log_thread`),
/// opened again after a failure, as the pooled connection is taken again.
struct LogConn {
    file: Option<std::path::PathBuf>,
    thread: Option<LogThread>,
}

impl LogConn {
    fn new(file: Option<&std::path::Path>) -> LogConn {
        LogConn {
            file: file.map(ToOwned::to_owned),
            thread: None,
        }
    }

    /// The thread, started if need be; none where there is none (PostgreSQL) or it cannot
    /// start now (then this commit goes through sqlx).
    fn thread(&mut self) -> Option<&LogThread> {
        if self.thread.is_none() {
            let file = self.file.as_deref()?;
            match LogThread::open(file) {
                Ok(thread) => self.thread = Some(thread),
                Err(e) => tracing::warn!(error = %e, "the log thread cannot start"),
            }
        }
        self.thread.as_ref()
    }

    /// Its commit failed: the next one starts on a new connection.
    fn failed(&mut self) {
        self.thread = None;
    }
}

/// The writer's connection: the one it holds, or a new one from the pool.
async fn connection<'c>(
    db: &Db,
    conn: &'c mut Option<PoolConnection<Any>>,
) -> crate::Result<&'c mut PoolConnection<Any>> {
    match conn {
        Some(held) => Ok(held),
        None => Ok(conn.insert(db.pool().acquire().await?)),
    }
}

/// Indexes the posts stored since the last time, if any (one read when there are none), a
/// step of at most [`INDEX_STEP`]; `true` when some are still pending (the next step then
/// comes after the group commits queued meanwhile).
async fn index_pending(db: &Db, conn: &mut RebuildableConn) -> crate::Result<bool> {
    if !db.backend().indexes_search_later() {
        return Ok(false);
    }
    let conn = conn.get(db).await?;
    let (taken, indexed) = db.index_pending_posts_on(conn, INDEX_STEP).await?;
    tracing::trace!(posts = indexed, "search index updated");
    Ok(taken >= INDEX_STEP as u64)
}

/// The writer's connection for what the update log alone can make again: the posts
/// projection, the search index and compactions. Its own, with unsynced commits, where the
/// database allows (`Db::rebuildable_writer`: SQLite), so that none of them costs an fsync
/// that every room's next commit waits behind; else one from the pool. Dropped after a
/// failure and opened again for the next write.
#[derive(Default)]
struct RebuildableConn(Option<HeldConn>);

enum HeldConn {
    Own(sqlx::AnyConnection),
    Pooled(PoolConnection<Any>),
}

impl RebuildableConn {
    async fn get(&mut self, db: &Db) -> crate::Result<&mut sqlx::AnyConnection> {
        if self.0.is_none() {
            self.0 = Some(match db.rebuildable_writer().await? {
                Some(own) => HeldConn::Own(own),
                None => HeldConn::Pooled(db.pool().acquire().await?),
            });
        }
        Ok(match self.0.as_mut().expect("opened above") {
            HeldConn::Own(conn) => conn,
            HeldConn::Pooled(conn) => conn,
        })
    }

    fn failed(&mut self) {
        self.0 = None;
    }
}

/// Checkpoints SQLite's WAL every second on a connection of its own, so that the copy into
/// the database file (and its fsync) never happens inside a commit that rooms wait for;
/// then the writer copies the few frames committed meanwhile and starts the WAL over,
/// between two commits. Without that, under a steady load the WAL never started over: it
/// grew by every commit (2.4 MB/s at 200 updates/s, without bound; bench/HISTORY.md).
/// Ends with the writer.
async fn checkpoints(db: Db, writer: mpsc::WeakSender<Job>) {
    if !db.backend().checkpoints_wal() {
        return;
    }
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(writer) = writer.upgrade() else {
            return;
        };
        match db.checkpoint().await {
            // Not waited for: a full queue means a busy writer, and the next second asks again.
            Ok(()) => {
                let _ = writer.try_send(Job::RestartWal);
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Compactions;

    #[test]
    fn a_room_asking_again_before_its_turn_keeps_its_place_with_the_newer_state() {
        let mut due = Compactions::default();
        due.queue("room/1".into(), vec![1], 10);
        due.queue("room/2".into(), vec![2], 5);
        due.queue("room/1".into(), vec![3], 20);
        // An older state (a stale request) never replaces a newer one.
        due.queue("room/2".into(), vec![0], 4);
        let queued: Vec<_> = due.due.iter().cloned().collect();
        assert_eq!(
            queued,
            [
                ("room/1".to_owned(), vec![3], 20),
                ("room/2".to_owned(), vec![2], 5)
            ]
        );
    }
}
