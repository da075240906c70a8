-- Which attachments each post names (issue 18: a post is found by its files' names). Kept by
-- the posts projection; an attachment uploaded after its post arrived (a phone that was
-- offline sends the post first) re-indexes the posts naming it (server/src/db/attachments.rs).
CREATE TABLE post_attachments (
    room_id        BIGINT NOT NULL,
    post_id        TEXT NOT NULL,
    attachment_id  TEXT NOT NULL,
    PRIMARY KEY (room_id, post_id, attachment_id),
    FOREIGN KEY (room_id, post_id) REFERENCES posts (room_id, post_id) ON DELETE CASCADE
);
CREATE INDEX post_attachments_attachment ON post_attachments (attachment_id);
