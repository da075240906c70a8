-- Administration (issue 5, PostgreSQL): forced password change, the tamper-evident audit
-- chain, announcements, maintenance windows, and the external ids that make imports
-- idempotent. Flags are BOOLEAN, as in 0001.

-- Set by an administrator's password reset: the next session may only change the password.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- The audit log becomes a hash chain: row `seq` stores SHA-256(prev_hash ‖ its fields), so an
-- edited or deleted row breaks every later link. Rows written before this migration have no
-- seq; they are chained (in id order) by the first append after it.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_municipality ON audit_log (municipality_id, at);

-- The end of the chain. Every append first updates this one row, which serializes appends
-- (its row lock is held to the end of the appending transaction) and lets a verifier notice
-- a cut-off tail.
CREATE TABLE audit_chain_head (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq   BIGINT NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, last_seq, last_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: a chained row can be neither changed nor deleted through SQL. (A superuser
-- can still drop the trigger: that is what the chain detects.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log is append-only';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- お知らせ: for one municipality, or for everyone when municipality_id is NULL.
CREATE TABLE announcements (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id  BIGINT REFERENCES municipalities (id),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT,
    created_by       BIGINT REFERENCES users (id),
    created_at       BIGINT NOT NULL
);
CREATE INDEX announcements_municipality ON announcements (municipality_id, starts_at);

-- While a window is open, everyone but administrators gets the maintenance page (503).
CREATE TABLE maintenance_windows (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id  BIGINT REFERENCES municipalities (id),
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT NOT NULL,
    message          TEXT NOT NULL DEFAULT '',
    created_by       BIGINT REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);

-- Ids of imported records in the source system: re-running an import updates, never
-- duplicates. kind: municipality, organization, user, patient, room.
CREATE TABLE external_ids (
    kind         TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    local_id     BIGINT NOT NULL,
    PRIMARY KEY (kind, external_id)
);
