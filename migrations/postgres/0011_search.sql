-- Full-text search over posts (issue 18), PostgreSQL. The rule of a match lives in
-- sync-protocol/src/search.rs: the normalized text (NFKC, lower case) contains every term.
-- search_text is that normalized text; a pg_trgm GIN index serves `LIKE '%term%'` on it
-- (pg_trgm ships with Debian's PostgreSQL; creating the extension needs a role that may).
-- search_grams is SQLite's index input, kept for the same schema on both backends and left
-- empty here. Rows from before this migration are filled at start.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE posts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN search_grams TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN has_attachments BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX posts_search ON posts USING gin (search_text gin_trgm_ops);
