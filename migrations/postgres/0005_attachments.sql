-- Attachments of posts (photos, documents). The bytes live in the attachment store under
-- their SHA-256 (so identical files are kept once); this table says who may see which.
-- The id is a ULID made by the uploading client, so an offline post can name it first.
CREATE TABLE attachments (
    id             TEXT PRIMARY KEY,
    room_id        BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader_id    BIGINT NOT NULL REFERENCES users (id),
    name           TEXT NOT NULL,
    mime           TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    has_thumbnail  BOOLEAN NOT NULL DEFAULT FALSE,
    width          BIGINT,
    height         BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX attachments_room ON attachments (room_id, created_at);
-- A blob may only be deleted once no row names it.
CREATE INDEX attachments_sha256 ON attachments (sha256);
