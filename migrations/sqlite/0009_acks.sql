-- Acknowledgement requests (要確認) and urgent posts (至急), issue 15, SQLite. A projection
-- of the room documents like `posts`: the request is part of the post value, each
-- acknowledgement its recipient's own key in the `acks` root map. Written in the same
-- transaction as the log rows they reflect. Flags are INTEGER 0/1, as in 0001.

-- One row per post that asks for acknowledgement. The scheduler (server/src/acks.rs) looks
-- at a row when next_at has come: stage 0 waits for the deadline, 1 has sent the deadline
-- pushes and waits for the reminder, 2 is done reminding. closed_at: everyone asked has
-- acknowledged (and the author was told).
CREATE TABLE ack_requests (
    room_id     BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    post_id     TEXT NOT NULL,
    author_id   BIGINT NOT NULL,
    everyone    INTEGER NOT NULL DEFAULT 0 CHECK (everyone IN (0, 1)),
    urgent      INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    due_at      BIGINT,
    created_at  BIGINT NOT NULL,
    stage       BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT,
    closed_at   BIGINT,
    PRIMARY KEY (room_id, post_id)
);
CREATE INDEX ack_requests_next ON ack_requests (next_at);
CREATE INDEX ack_requests_author ON ack_requests (author_id);

-- The members a request names (none when it asks the whole team).
CREATE TABLE ack_recipients (
    room_id  BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    post_id  TEXT NOT NULL,
    user_id  BIGINT NOT NULL,
    PRIMARY KEY (room_id, post_id, user_id)
);
CREATE INDEX ack_recipients_user ON ack_recipients (user_id);

-- Who acknowledged which post, and when (their device's idea of the server's clock).
CREATE TABLE acks (
    room_id  BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    post_id  TEXT NOT NULL,
    user_id  BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (room_id, post_id, user_id)
);

-- Urgent posts may reach a user during quiet hours: only if they said so.
ALTER TABLE push_settings ADD COLUMN urgent_in_quiet INTEGER NOT NULL DEFAULT 0
    CHECK (urgent_in_quiet IN (0, 1));
