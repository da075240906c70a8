-- The posts still to index are those after a watermark, not rows of a list (issue 20).
-- `posts_fts_pending` cost every group commit one more page (its row, written by the insert
-- trigger) for what the posts' own rowids already say: a new post's rowid is one past the
-- largest, so the posts not indexed yet are those whose rowid is past the last the index
-- took. The hub's writer moves them into `posts_fts` in rowid order and advances `upto` in
-- the same transaction (`Db::index_pending_posts_on`); a search reads the index and the posts
-- past `upto` together (`Backend::search_from`).
--
-- Posts are never deleted by Renraku; should rows be deleted by hand, the delete trigger
-- lowers `upto` to the largest rowid left, so that a rowid used again is indexed again.
-- Named `posts_fts_…`: derived state, left out of a backup's checksum and reset when a
-- restore rebuilds the index (`db/backup.rs`).

CREATE TABLE posts_fts_indexed (
    upto INTEGER NOT NULL
);

-- What was pending goes into the index now, and the watermark starts past every post.
INSERT INTO posts_fts (rowid, search_grams)
    SELECT p.rowid, p.search_grams FROM posts p
    WHERE p.rowid IN (SELECT post_rowid FROM posts_fts_pending);

INSERT INTO posts_fts_indexed (upto) SELECT COALESCE(MAX(rowid), 0) FROM posts;

DROP TRIGGER posts_fts_insert;
DROP TRIGGER posts_fts_delete;
DROP TRIGGER posts_fts_update;
DROP TABLE posts_fts_pending;

-- A post past the watermark is not in the index: there is nothing to take out of it.
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams)
        SELECT 'delete', old.rowid, old.search_grams
        WHERE old.rowid <= (SELECT upto FROM posts_fts_indexed);
    UPDATE posts_fts_indexed SET upto = (SELECT COALESCE(MAX(rowid), 0) FROM posts)
        WHERE upto > (SELECT COALESCE(MAX(rowid), 0) FROM posts);
END;

-- A post past the watermark is indexed later with the text it has then.
CREATE TRIGGER posts_fts_update AFTER UPDATE OF search_grams ON posts
WHEN old.rowid <= (SELECT upto FROM posts_fts_indexed) BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams) VALUES ('delete', old.rowid, old.search_grams);
    INSERT INTO posts_fts (rowid, search_grams) VALUES (new.rowid, new.search_grams);
END;
