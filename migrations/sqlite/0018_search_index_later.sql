-- The search index follows the posts instead of being written in every commit (issue 20).
-- An FTS5 insert flushes a new index segment at each commit and merges segments as they
-- pile up: about five pages of every group commit, a third of what each stored post cost on
-- disk. A new post's row now only names it in `posts_fts_pending` (one small page); the
-- hub's writer moves what is pending into `posts_fts` once a second, in one transaction
-- (`Db::index_pending_posts`). A search reads `posts_fts` and the pending posts together
-- (`Backend::search_from`), so what it finds does not change: only where it is looked up.
--
-- Named `posts_fts_…`: derived from `posts` like the index itself, left out of a backup's
-- checksum and emptied when a restore rebuilds the index (`db/backup.rs`).

CREATE TABLE posts_fts_pending (
    post_rowid INTEGER PRIMARY KEY
);

-- Every post is in the index now: the old triggers wrote it in each commit.
DROP TRIGGER posts_fts_insert;
DROP TRIGGER posts_fts_delete;
DROP TRIGGER posts_fts_update;

CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts_pending (post_rowid) VALUES (new.rowid);
END;

-- A pending post is not in the index: there is nothing to take out of it.
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams)
        SELECT 'delete', old.rowid, old.search_grams
        WHERE NOT EXISTS (SELECT 1 FROM posts_fts_pending WHERE post_rowid = old.rowid);
    DELETE FROM posts_fts_pending WHERE post_rowid = old.rowid;
END;

-- A pending post is indexed later with the text it has then.
CREATE TRIGGER posts_fts_update AFTER UPDATE OF search_grams ON posts
WHEN NOT EXISTS (SELECT 1 FROM posts_fts_pending WHERE post_rowid = old.rowid) BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams) VALUES ('delete', old.rowid, old.search_grams);
    INSERT INTO posts_fts (rowid, search_grams) VALUES (new.rowid, new.search_grams);
END;
