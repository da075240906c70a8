-- The update log's rowid without AUTOINCREMENT (issue 20). AUTOINCREMENT keeps the largest
-- id ever used in `sqlite_sequence` and updates that row at every insert: one more page of
-- every group commit written to the WAL and fsynced (the log row, its (doc, seq) index and
-- this), for an id that nothing reads — documents are ordered by `seq`. A plain rowid is
-- still one past the largest, so rows still append to the table's last page; only an id of
-- rows compaction deleted may come again.

CREATE TABLE doc_updates_rowid (
    id            INTEGER PRIMARY KEY,
    doc           TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    update_bytes  BLOB NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (doc, seq)
);

INSERT INTO doc_updates_rowid (id, doc, seq, user_id, update_bytes, created_at)
    SELECT id, doc, seq, user_id, update_bytes, created_at FROM doc_updates;

DROP TABLE doc_updates;

ALTER TABLE doc_updates_rowid RENAME TO doc_updates;

DELETE FROM sqlite_sequence WHERE name = 'doc_updates';
