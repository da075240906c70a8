-- Full-text search over posts (issue 18), SQLite. The rule of a match lives in
-- sync-protocol/src/search.rs: the normalized text (NFKC, lower case) contains every term.
-- search_text is that normalized text, checked by every query; search_grams its character
-- bigrams, indexed by FTS5 (the standard tokenizer sees each bigram as a word), so two-letter
-- Japanese terms (発熱, 褥瘡) are found through the index. Both are written by the posts
-- projection (server/src/db/posts.rs); rows from before this migration are filled at start.

ALTER TABLE posts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN search_grams TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN has_attachments INTEGER NOT NULL DEFAULT 0 CHECK (has_attachments IN (0, 1));

-- External content: the index keeps no copy of the text. Its rowids are the posts' rowids,
-- which VACUUM may renumber, so a restored backup rebuilds it (server/src/backup.rs).
CREATE VIRTUAL TABLE posts_fts USING fts5(
    search_grams, content = 'posts', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, search_grams) VALUES (new.rowid, new.search_grams);
END;
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams) VALUES ('delete', old.rowid, old.search_grams);
END;
CREATE TRIGGER posts_fts_update AFTER UPDATE OF search_grams ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, search_grams) VALUES ('delete', old.rowid, old.search_grams);
    INSERT INTO posts_fts (rowid, search_grams) VALUES (new.rowid, new.search_grams);
END;
