-- Renraku base schema (SQLite). Times are unix milliseconds in BIGINT columns.
-- Flags are INTEGER 0/1: sqlx's Any driver cannot read SQLite's BOOLEAN declared type.

CREATE TABLE municipalities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Wide-area collaboration: municipalities whose professionals may join each other's rooms.
CREATE TABLE agreements (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    name  TEXT NOT NULL
);

CREATE TABLE agreement_members (
    agreement_id     BIGINT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    PRIMARY KEY (agreement_id, municipality_id)
);

CREATE TABLE organizations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN
        ('clinic', 'hospital', 'nursing_station', 'care_office', 'pharmacy', 'city', 'other'))
);
CREATE INDEX organizations_municipality ON organizations (municipality_id);

CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id    BIGINT NOT NULL REFERENCES municipalities (id),
    organization_id    BIGINT REFERENCES organizations (id),
    login_id           TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    display_name_kana  TEXT NOT NULL,
    profession         TEXT NOT NULL CHECK (profession IN
        ('doctor', 'nurse', 'care_manager', 'pharmacist', 'therapist', 'helper', 'city_staff', 'other')),
    role               TEXT NOT NULL DEFAULT 'member' CHECK (role IN
        ('member', 'municipality_admin', 'system_admin')),
    totp_secret        TEXT,
    disabled           INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at         BIGINT NOT NULL,
    UNIQUE (municipality_id, login_id)
);

CREATE TABLE patients (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    name             TEXT NOT NULL,
    name_kana        TEXT NOT NULL,
    birth_date       TEXT NOT NULL,
    address          TEXT NOT NULL DEFAULT '',
    care_level       TEXT NOT NULL DEFAULT '',
    disaster_flag    INTEGER NOT NULL DEFAULT 0 CHECK (disaster_flag IN (0, 1)),
    triage           TEXT CHECK (triage IN ('red', 'yellow', 'green', 'black')),
    archived         INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
);
CREATE INDEX patients_municipality ON patients (municipality_id);

CREATE TABLE rooms (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    kind             TEXT NOT NULL CHECK (kind IN ('patient', 'project', 'message')),
    title            TEXT NOT NULL,
    patient_id       BIGINT REFERENCES patients (id),
    created_at       BIGINT NOT NULL,
    archived         INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
);
CREATE INDEX rooms_municipality ON rooms (municipality_id);

CREATE TABLE room_members (
    room_id   BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id),
    role      TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
    added_by  BIGINT REFERENCES users (id),
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
-- "My rooms" is the most frequent query after sign-in.
CREATE INDEX room_members_user ON room_members (user_id);

-- Only the SHA-256 of a session token is stored: a leaked table grants no sessions.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE room_tokens (
    token_hash  TEXT PRIMARY KEY,
    room_id     BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);

-- Append-only CRDT update log per document (`room/12`, `user/5`); seq is per document.
CREATE TABLE doc_updates (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    doc           TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    update_bytes  BLOB NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (doc, seq)
);

CREATE TABLE doc_snapshots (
    doc         TEXT PRIMARY KEY,
    state       BLOB NOT NULL,
    up_to_seq   BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- A yrs client id belongs to the first user who wrote with it (see DESIGN.md §5).
CREATE TABLE yjs_clients (
    client_id   BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               BIGINT NOT NULL,
    user_id          BIGINT,
    municipality_id  BIGINT,
    action           TEXT NOT NULL,
    target           TEXT NOT NULL DEFAULT '',
    detail           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
