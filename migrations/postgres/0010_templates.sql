-- 定型文 (templates), issue 15 §4, PostgreSQL. A municipality's shared ones (owner_id NULL, kept
-- by its administrators) and each user's own (owner_id set). Text is checked by
-- server/src/domain/text.rs before it gets here (server/src/http/templates.rs).
CREATE TABLE templates (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    owner_id         BIGINT REFERENCES users (id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    sort_order       BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX templates_municipality ON templates (municipality_id, sort_order);
CREATE INDEX templates_owner ON templates (owner_id);
