-- Client certificates (issue 8, PostgreSQL): a municipality may require that its
-- professionals connect with a client certificate (mTLS) issued by the configured CA and
-- registered to their account. Flags are BOOLEAN, as in 0001.

ALTER TABLE municipalities ADD COLUMN require_client_certificate BOOLEAN NOT NULL DEFAULT FALSE;

-- Certificates bound to users by the SHA-256 of their DER encoding. The DER is kept so a
-- reloaded CRL can be checked against every registered certificate (and the owners' live
-- connections ended).
CREATE TABLE client_certificates (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL UNIQUE,
    der          BYTEA NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX client_certificates_user ON client_certificates (user_id);
