-- Projection of the CRDT posts and read markers, and web push (issue 4), SQLite.
-- The room documents stay the source of truth; these rows are written in the same
-- transaction as the log rows of the updates they reflect. Flags are INTEGER 0/1, as in 0001.

-- One row per post of a room document. created_at / edited_at are the writer's clock (as the
-- app shows them); stored_at is the server's clock when the post first reached it (what
-- statistics count by). activity_at = max(created_at, edited_at), for "latest activity".
CREATE TABLE posts (
    room_id      BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    post_id      TEXT NOT NULL,
    author_id    BIGINT NOT NULL,
    parent_id    TEXT,
    text         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    edited_at    BIGINT,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    activity_at  BIGINT NOT NULL,
    stored_at    BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, post_id)
);
CREATE INDEX posts_stored ON posts (stored_at);
CREATE INDEX posts_author ON posts (author_id, stored_at);

-- How far each member has read a room: the `read` map of its document.
CREATE TABLE read_markers (
    room_id  BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL,
    post_id  TEXT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- The server's VAPID key pair (P-256), created on first start. One row.
CREATE TABLE push_vapid (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    private_key  TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Per-user notification settings; no row = the defaults (on, no details, no quiet hours).
-- Quiet hours are minutes after midnight, Japan time; start = end means none.
CREATE TABLE push_settings (
    user_id       BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    show_details  INTEGER NOT NULL DEFAULT 0 CHECK (show_details IN (0, 1)),
    quiet_start   BIGINT,
    quiet_end     BIGINT,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE push_mutes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id   BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    muted_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- One browser's push subscription, tied to the session that created it: signing out (or the
-- session ending any other way) removes it.
CREATE TABLE push_subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL REFERENCES sessions (public_id) ON DELETE CASCADE,
    endpoint    TEXT NOT NULL UNIQUE,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions (session_id);

-- Pushes waiting to be sent, queued in the transaction that stored the post. A worker
-- leases rows (lease_until), sends, and deletes them; transient failures come back later.
CREATE TABLE push_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    room_id          BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    urgency          TEXT NOT NULL,
    ttl_secs         BIGINT NOT NULL,
    topic            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at);
CREATE INDEX push_outbox_subscription ON push_outbox (subscription_id);
