//! Per-connection limits on what a client may send (how many messages, how fast, how large)
//! and on what may wait for it (how many bytes, for how long); and how many connections a
//! user, and the whole server, may hold.
//!
//! A message rate limit protects the room tasks and the database from one client flooding
//! them (a bug or an attacker with a valid session); it is per connection, so one client's
//! excess never slows anybody else. A well-behaved client stays far below it: it sends a few
//! messages per user action, and merges its offline outbox into one update on reconnect.

use std::time::{Duration, Instant};

/// The limits of one connection, from the server configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Sustained messages per second (the bucket's refill rate).
    pub messages_per_second: u32,
    /// Messages a client may send at once before the rate applies (the bucket's size).
    pub message_burst: u32,
    /// Largest frame read; a larger one (up to 8× this) is answered `TooLarge` and the
    /// connection lives on.
    pub max_frame_bytes: usize,
    /// A send to the client that takes longer than this (it stopped reading) ends the
    /// connection: its socket, buffers and queue are freed.
    pub send_timeout: Duration,
    /// Bytes that may wait in the connection's outbox; more and it is closed as too slow.
    pub outbox_bytes: usize,
}

/// How many WebSockets are served at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnCaps {
    /// Per user: a person has a few tabs and devices, not thousands of sockets.
    pub per_user: usize,
    /// On this server: kept below the open-files limit, so sign-in and the API still get
    /// file descriptors when sockets pile up.
    pub total: usize,
}

impl ConnLimits {
    /// Messages larger than this close the socket at the protocol level (WebSocket close
    /// 1009), before they are buffered whole.
    pub fn hard_message_bytes(&self) -> usize {
        self.max_frame_bytes.saturating_mul(8)
    }
}

/// A token bucket: holds up to `burst` tokens, refilled continuously at `rate` per second;
/// each message takes one.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(limits: &ConnLimits) -> Self {
        let capacity = f64::from(limits.message_burst.max(1));
        Self {
            capacity,
            per_second: f64::from(limits.messages_per_second),
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Takes a token if one is left.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token, for the close reason a client can act on.
    pub fn retry_after(&self) -> Duration {
        if self.per_second <= 0.0 {
            return Duration::MAX;
        }
        Duration::from_secs_f64(((1.0 - self.tokens).max(0.0)) / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32) -> ConnLimits {
        ConnLimits {
            messages_per_second: rate,
            message_burst: burst,
            max_frame_bytes: 1024,
            send_timeout: Duration::from_secs(1),
            outbox_bytes: 1024,
        }
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate_applies() {
        let mut bucket = TokenBucket::new(&limits(10, 5));
        let t0 = bucket.last;
        for _ in 0..5 {
            assert!(bucket.take_at(t0));
        }
        assert!(!bucket.take_at(t0), "the burst is spent");
        // 10 per second: one token per 100 ms.
        assert!(!bucket.take_at(t0 + Duration::from_millis(50)));
        assert!(bucket.take_at(t0 + Duration::from_millis(101)));
        assert!(!bucket.take_at(t0 + Duration::from_millis(102)));
        // A long pause refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(bucket.take_at(later));
        }
        assert!(!bucket.take_at(later));
    }

    #[test]
    fn retry_after_names_the_wait_for_one_token() {
        let mut bucket = TokenBucket::new(&limits(4, 1));
        let t0 = bucket.last;
        assert!(bucket.take_at(t0));
        assert!(!bucket.take_at(t0));
        let wait = bucket.retry_after();
        assert!(wait > Duration::from_millis(240) && wait <= Duration::from_millis(250));
    }
}
