-- Room tokens belong to the session that minted them (issue 13): they end with it, however it
-- ends (sign-out, revocation, expiry, a password change). Tokens live 5 minutes, so the
-- table is rebuilt rather than migrated; tokens minted before this are gone.
DROP TABLE room_tokens;
CREATE TABLE room_tokens (
    token_hash  TEXT PRIMARY KEY,
    room_id     BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL REFERENCES sessions (public_id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX room_tokens_session ON room_tokens (session_id);
CREATE INDEX room_tokens_expiry ON room_tokens (expires_at);
-- The sweeper looks for ended sessions by these.
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
