-- 要援護者名簿 (the register of people who need assistance in a disaster), issue 16, PostgreSQL.
-- Who sees which row is one rule, server/src/domain/register.rs; fields are checked there
-- before they get here.

-- One person per row, per municipality; retired, never deleted. `external_id` is the
-- municipality's own id of the person, for re-imports. Lists (reasons, contacts, helpers)
-- are JSON arrays of the contract's types. Coordinates in 10^-7 degree.
CREATE TABLE register_people (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id     BIGINT NOT NULL REFERENCES municipalities (id),
    external_id         TEXT,
    name                TEXT NOT NULL,
    kana                TEXT NOT NULL,
    birth_date          TEXT,
    sex                 TEXT NOT NULL,
    address             TEXT NOT NULL,
    area                TEXT NOT NULL,
    phone               TEXT NOT NULL,
    household           TEXT NOT NULL,
    reasons             TEXT NOT NULL,
    emergency_contacts  TEXT NOT NULL,
    helpers             TEXT NOT NULL,
    consent             BOOLEAN NOT NULL,
    latitude_e7         BIGINT,
    longitude_e7        BIGINT,
    label               TEXT NOT NULL CHECK (label IN ('red', 'yellow', 'blue')),
    room_id             BIGINT REFERENCES rooms (id),
    notes               TEXT NOT NULL,
    retired             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX register_people_municipality ON register_people (municipality_id, retired);
CREATE UNIQUE INDEX register_people_external ON register_people (municipality_id, external_id);
CREATE INDEX register_people_room ON register_people (room_id);

-- What a colour means in a municipality; a colour without a row has the default meaning.
CREATE TABLE register_legend (
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    label            TEXT NOT NULL CHECK (label IN ('red', 'yellow', 'blue')),
    meaning          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, label)
);

-- Users of a municipality its administrators designated as register editors, and those
-- designated as responders; the municipality is the user's own.
CREATE TABLE register_staff (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    editor     BOOLEAN NOT NULL DEFAULT FALSE,
    responder  BOOLEAN NOT NULL DEFAULT FALSE
);

-- 災害モード, one row per declaration; the one with ended_at NULL is in force.
CREATE TABLE register_disasters (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    reason           TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    started_by       BIGINT NOT NULL REFERENCES users (id),
    ended_at         BIGINT,
    ended_by         BIGINT REFERENCES users (id)
);
CREATE UNIQUE INDEX register_disasters_in_force ON register_disasters (municipality_id)
    WHERE ended_at IS NULL;

-- Partner municipalities whose responders a municipality in 災害モード granted access, for
-- that disaster only.
CREATE TABLE register_disaster_partners (
    disaster_id      BIGINT NOT NULL REFERENCES register_disasters (id),
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    granted_at       BIGINT NOT NULL,
    granted_by       BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (disaster_id, municipality_id)
);

-- 安否確認 marks: every mark stays (the history); the current status is the latest by
-- marked_at, then id. The id is the client's, so a mark sent again is stored once.
CREATE TABLE register_marks (
    id           TEXT PRIMARY KEY,
    person_id    BIGINT NOT NULL REFERENCES register_people (id),
    disaster_id  BIGINT NOT NULL REFERENCES register_disasters (id),
    status       TEXT NOT NULL CHECK (status IN ('unconfirmed', 'safe', 'needs_support', 'evacuated')),
    note         TEXT NOT NULL,
    marked_at    BIGINT NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    received_at  BIGINT NOT NULL
);
CREATE INDEX register_marks_person ON register_marks (disaster_id, person_id, marked_at);
