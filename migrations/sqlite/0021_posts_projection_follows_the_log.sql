-- The posts projection (posts, read markers, acknowledgements and the pushes new posts call
-- for) follows the update log on SQLite: the writer projects what it acknowledged a moment
-- later, many rooms' posts in one transaction, instead of inside every acknowledged commit.
-- How far each room document's log is projected, so that a start after a crash in between
-- projects again what the log holds past it.
CREATE TABLE projected_upto (
    doc TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;

-- Until now every commit projected its own rows: all that is stored is projected.
INSERT INTO projected_upto (doc, seq)
SELECT doc, MAX(s) FROM (
    SELECT doc, MAX(seq) AS s FROM doc_updates WHERE doc LIKE 'room/%' GROUP BY doc
    UNION ALL
    SELECT doc, up_to_seq AS s FROM doc_snapshots WHERE doc LIKE 'room/%'
) AS known GROUP BY doc;
