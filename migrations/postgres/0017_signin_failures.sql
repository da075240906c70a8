-- Sign-in failures per account and per client address (server/src/auth/throttle.rs), kept
-- in the database so that every node of a deployment counts the same failures (issue 19):
-- guesses spread over the nodes behind a load balancer meet one limit. `key` is the
-- SHA-256 (hex) of `account/{municipality}/{login id, lowercased}` or `address/{IP, IPv6
-- cut to its /64}` (hashed: a login id as typed is sometimes a password); a fixed window starts at the key's first failure (unix ms). Rows whose window is over
-- are deleted by the session sweeper, and a success deletes its account's row.
CREATE TABLE signin_failures (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    window_start  BIGINT NOT NULL
);
CREATE INDEX signin_failures_window ON signin_failures (window_start);
