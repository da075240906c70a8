-- Client certificates (issue 8, SQLite): a municipality may require that its professionals
-- connect with a client certificate (mTLS) issued by the configured CA and registered to
-- their account. Flags are INTEGER 0/1, as in 0001.

ALTER TABLE municipalities ADD COLUMN require_client_certificate INTEGER NOT NULL DEFAULT 0
    CHECK (require_client_certificate IN (0, 1));

-- Certificates bound to users by the SHA-256 of their DER encoding. The DER is kept so a
-- reloaded CRL can be checked against every registered certificate (and the owners' live
-- connections ended).
CREATE TABLE client_certificates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL UNIQUE,
    der          BLOB NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX client_certificates_user ON client_certificates (user_id);
