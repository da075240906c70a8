-- Passkeys (WebAuthn, issue 8, PostgreSQL): a second factor beside TOTP. One row per registered
-- credential; `passkey` is webauthn-rs' serialized `Passkey` (credential id, public key,
-- counter, flags: no private material exists on the server). `counter`, `backup_eligible`
-- and `backup_state` repeat what the last ceremony reported, for listing and auditing.
CREATE TABLE passkeys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- base64url of the credential id, unique across all users (WebAuthn §7.1 step 22).
    credential_id   TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    passkey         TEXT NOT NULL,
    counter         BIGINT NOT NULL DEFAULT 0,
    backup_eligible BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- The server half of a ceremony between its two requests: short-lived, single-use (taken
-- with DELETE … RETURNING), and bound to the user and, for registration and unlocking, the
-- session that started it. A password-less sign-in knows no user until the authenticator
-- names one: user_id NULL. Kept in the database so any node can finish what another began.
CREATE TABLE webauthn_ceremonies (
    id_hash     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('register', 'signin', 'unlock')),
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT,
    state       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
