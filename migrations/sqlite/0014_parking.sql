-- 駐車場 (parking spaces lent to visiting staff), issue 17, SQLite. Flags are INTEGER 0/1
-- (see 0001_base.sql). The rules (who sees and books what, availability) are
-- server/src/domain/parking.rs; docs/parking.md says how it fits together. A booking names
-- a space, an organisation, a user and a plate, never a patient or a room: a lender and the
-- city must not learn whom a visit was for.

-- 貸主: a resident, shop or temple, usually registered by city staff; `user_id` when they
-- have an account of their own (then they see their spaces and those spaces' bookings).
CREATE TABLE parking_lenders (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    name             TEXT NOT NULL,
    contact          TEXT NOT NULL,
    notify_by        TEXT NOT NULL CHECK (notify_by IN ('phone', 'fax', 'mail', 'app')),
    user_id          BIGINT REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX parking_lenders_municipality ON parking_lenders (municipality_id);
CREATE INDEX parking_lenders_user ON parking_lenders (user_id);

-- A space. Coordinates in 10^-7 degree (as the register's). `limits` is a JSON array of
-- the contract's ParkingLimit; `limits_note` free text (高さ制限 2.0m …).
CREATE TABLE parking_spaces (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    lender_id        BIGINT NOT NULL REFERENCES parking_lenders (id),
    name             TEXT NOT NULL,
    address          TEXT NOT NULL,
    latitude_e7      BIGINT NOT NULL,
    longitude_e7     BIGINT NOT NULL,
    limits           TEXT NOT NULL,
    limits_note      TEXT NOT NULL,
    directions       TEXT NOT NULL,
    photo            TEXT,
    paused           INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX parking_spaces_municipality ON parking_spaces (municipality_id);
CREATE INDEX parking_spaces_lender ON parking_spaces (lender_id);

-- Weekly windows in Japan time: minutes from the weekday's midnight. end_min <= start_min
-- means the window runs past midnight into the next day (22:00–06:00).
CREATE TABLE parking_windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    space_id   BIGINT NOT NULL REFERENCES parking_spaces (id) ON DELETE CASCADE,
    weekday    TEXT NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    start_min  BIGINT NOT NULL,
    end_min    BIGINT NOT NULL
);
CREATE INDEX parking_windows_space ON parking_windows (space_id);

-- Exceptions on a date (YYYY-MM-DD, Japan time): 'closed' takes the whole day out of the
-- weekly windows; 'open' adds the hours start_min–end_min (NULL for 'closed').
CREATE TABLE parking_exceptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    space_id   BIGINT NOT NULL REFERENCES parking_spaces (id) ON DELETE CASCADE,
    day        TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('closed', 'open')),
    start_min  BIGINT,
    end_min    BIGINT
);
CREATE INDEX parking_exceptions_space ON parking_exceptions (space_id, day);

-- Organisations the city approved: their staff book the municipality's spaces.
CREATE TABLE parking_approvals (
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    organization_id  BIGINT NOT NULL REFERENCES organizations (id),
    approved_at      BIGINT NOT NULL,
    approved_by      BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (municipality_id, organization_id)
);

-- Users a municipality's administrators designated as parking managers (the city's side).
CREATE TABLE parking_managers (
    user_id  BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE
);

-- A municipality opening its parking to the other members of a wide-area agreement it is
-- in (an agreement alone shares rooms, not parking). Read only together with
-- agreement_members, so a row outliving the membership opens nothing.
CREATE TABLE parking_agreement_shares (
    agreement_id     BIGINT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    PRIMARY KEY (agreement_id, municipality_id)
);

-- Bookings: [start_ms, end_ms) in unix ms. 'left_early' keeps the part used (end_ms is
-- when they left, released_end_ms the end booked); 'cancelled' holds no time at all.
CREATE TABLE parking_bookings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    space_id         BIGINT NOT NULL REFERENCES parking_spaces (id),
    user_id          BIGINT NOT NULL REFERENCES users (id),
    organization_id  BIGINT NOT NULL REFERENCES organizations (id),
    start_ms         BIGINT NOT NULL,
    end_ms           BIGINT NOT NULL,
    plate            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'left_early')),
    released_end_ms  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CHECK (start_ms <= end_ms)
    -- No double booking: SQLite has no exclusion constraint; the overlap check runs inside
    -- the write transaction, which takes SQLite's one write lock before it reads
    -- (server/src/db/parking.rs, dialect::write_lock_in).
);
CREATE INDEX parking_bookings_space ON parking_bookings (space_id, start_ms);
CREATE INDEX parking_bookings_user ON parking_bookings (user_id, start_ms);

-- トラブル報告 to the city, by a lender or a booker.
CREATE TABLE parking_troubles (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id  BIGINT NOT NULL REFERENCES municipalities (id),
    space_id         BIGINT REFERENCES parking_spaces (id),
    booking_id       BIGINT REFERENCES parking_bookings (id),
    reporter_id      BIGINT NOT NULL REFERENCES users (id),
    side             TEXT NOT NULL CHECK (side IN ('lender', 'booker', 'city')),
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX parking_troubles_municipality ON parking_troubles (municipality_id, created_at);
