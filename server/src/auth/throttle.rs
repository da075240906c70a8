//! Sign-in throttling, per account and per client address: after too many failures within a
//! window, further attempts are refused (429 with `Retry-After`) before any password is
//! checked. Per account stops guessing one person's password from many addresses; per
//! address stops trying one common password against many accounts from one place.
//!
//! In memory, per node, lost on restart: with N nodes an attacker gets N times the budget,
//! which still makes online guessing hopeless, and nothing has to be stored or cleaned up.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account within [`WINDOW`] (second-factor failures count too).
pub const MAX_ACCOUNT_FAILURES: u32 = 10;
/// Failures allowed per address within [`WINDOW`]: higher, because one office or care
/// station behind one NAT address has many people mistyping.
pub const MAX_ADDRESS_FAILURES: u32 = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Above this many tracked keys, stale entries are swept, bounding memory.
const SWEEP_ABOVE: usize = 10_000;

/// Failures per key in a fixed window that starts at the first failure.
struct Counter<K> {
    limit: u32,
    failures: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Eq + Hash> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` is blocked.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((count, since)) if *count >= self.limit && since.elapsed() < WINDOW => {
                Err(WINDOW.saturating_sub(since.elapsed()))
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, key: K) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, key: &K) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }
}

pub struct Throttle {
    accounts: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            accounts: Counter::new(MAX_ACCOUNT_FAILURES),
            addresses: Counter::new(MAX_ADDRESS_FAILURES),
        }
    }
}

impl Throttle {
    fn account(municipality: i64, login_id: &str) -> String {
        format!("{municipality}/{}", login_id.to_lowercase())
    }

    /// IPv6 clients are counted per /64: one host usually holds a whole /64.
    fn address(addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(prefix.into())
                }
            },
            v4 => v4,
        }
    }

    /// Whether another attempt is allowed now; `Err(wait)` until the longer block ends.
    pub fn check(&self, municipality: i64, login_id: &str, addr: IpAddr) -> Result<(), Duration> {
        let account = self.accounts.check(&Self::account(municipality, login_id));
        let address = self.addresses.check(&Self::address(addr));
        match (account, address) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(wait), _) | (_, Err(wait)) => Err(wait),
        }
    }

    pub fn failed(&self, municipality: i64, login_id: &str, addr: IpAddr) {
        self.accounts.failed(Self::account(municipality, login_id));
        self.addresses.failed(Self::address(addr));
    }

    /// Clears the account's failures only: signing in to one's own account must not reset
    /// the budget of an address that is guessing at others.
    pub fn succeeded(&self, municipality: i64, login_id: &str) {
        self.accounts.clear(&Self::account(municipality, login_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn blocks_after_too_many_failures_per_account() {
        let t = Throttle::default();
        for i in 0..MAX_ACCOUNT_FAILURES {
            assert!(t.check(1, "nurse1", HOME).is_ok());
            // From changing addresses: the account budget is what runs out.
            let addr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i as u8));
            t.failed(1, "Nurse1", addr);
        }
        let wait = t.check(1, "nurse1", AWAY).unwrap_err();
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(60));
        assert!(t.check(1, "nurse2", HOME).is_ok());
        assert!(t.check(2, "nurse1", HOME).is_ok());
        t.succeeded(1, "nurse1");
        assert!(t.check(1, "nurse1", HOME).is_ok());
    }

    #[test]
    fn blocks_after_too_many_failures_per_address() {
        let t = Throttle::default();
        for i in 0..MAX_ADDRESS_FAILURES {
            t.failed(1, &format!("guess{i}"), HOME);
        }
        assert!(t.check(1, "nurse1", HOME).is_err());
        assert!(t.check(1, "nurse1", AWAY).is_ok());
        // A success elsewhere does not reset the address.
        t.succeeded(1, "guess0");
        assert!(t.check(1, "guess0", HOME).is_err());
    }

    #[test]
    fn ipv6_addresses_count_per_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Throttle::address(a), Throttle::address(b));
        assert_ne!(Throttle::address(a), Throttle::address(c));
    }
}
