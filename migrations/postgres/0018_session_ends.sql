-- A count of the times session rows were deleted or had their time shortened, by any
-- process (the server, `renraku` commands, another node). The session sweeper
-- (server/src/auth/sweeper.rs) reads this one row twice a second and looks at every open
-- socket's session only when it moved; otherwise only at the sessions whose known end has
-- come. Sessions' times only move later in normal use (a touch), so nothing else can end one
-- early. Counted once per deleting statement: a sign-out, not each row of a purge.
CREATE TABLE session_ends (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO session_ends (id, n) VALUES (1, 0);

CREATE FUNCTION count_session_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_ends SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION count_session_ends();

CREATE TRIGGER sessions_shortened AFTER UPDATE OF expires_at, last_seen_at ON sessions
    FOR EACH ROW WHEN (NEW.expires_at < OLD.expires_at OR NEW.last_seen_at < OLD.last_seen_at)
    EXECUTE FUNCTION count_session_ends();
