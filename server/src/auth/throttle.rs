//! Sign-in throttling: after too many failures for one account, further attempts are refused
//! for a while, before any password is checked. In memory, per node: with N nodes an
//! attacker gets N times the budget, which still makes online guessing hopeless.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account within [`WINDOW`].
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Above this many tracked accounts, stale entries are swept, bounding memory.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    fn key(municipality: i64, login_id: &str) -> String {
        format!("{municipality}/{}", login_id.to_lowercase())
    }

    /// Whether another attempt is allowed now.
    pub fn allows(&self, municipality: i64, login_id: &str) -> bool {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&Self::key(municipality, login_id)) {
            Some((count, since)) => *count < MAX_FAILURES || since.elapsed() >= WINDOW,
            None => true,
        }
    }

    pub fn failed(&self, municipality: i64, login_id: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = map
            .entry(Self::key(municipality, login_id))
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, municipality: i64, login_id: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Self::key(municipality, login_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_too_many_failures_per_account() {
        let t = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(t.allows(1, "nurse1"));
            t.failed(1, "Nurse1");
        }
        assert!(!t.allows(1, "nurse1"));
        assert!(t.allows(1, "nurse2"));
        assert!(t.allows(2, "nurse1"));
        t.succeeded(1, "nurse1");
        assert!(t.allows(1, "nurse1"));
    }
}
