-- Security slice of issue 8 (SQLite): second-factor policy, TOTP enrolment, recovery codes,
-- sessions with a public id. Flags are INTEGER 0/1, as in 0001.

-- A municipality's policy: whether its professionals must use a second factor.
ALTER TABLE municipalities ADD COLUMN require_second_factor INTEGER NOT NULL DEFAULT 0
    CHECK (require_second_factor IN (0, 1));

-- users.totp_secret (0001) holds the confirmed secret; a new one waits here until the user
-- proves their authenticator has it.
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
-- The last TOTP time step accepted: a code is accepted only for a later step, so a code
-- seen over someone's shoulder cannot be replayed within its window.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Single-use recovery codes, only their SHA-256 stored (each has 80 random bits).
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    UNIQUE (user_id, code_hash)
);

-- Sessions gain a public id (listed and revoked by it; never the token) and the client's
-- User-Agent (to tell sessions apart). Sessions are short-lived, so the table is rebuilt
-- rather than altered: everyone signs in once more after this migration.
DROP TABLE sessions;
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    user_agent    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
