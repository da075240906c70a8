//! Sign-in throttling, per account and per client address: after too many failures within a
//! window, further attempts are refused (429 with `Retry-After`) before any password is
//! checked. Per account stops guessing one person's password from many addresses; per
//! address stops trying one common password against many accounts from one place.
//!
//! The counters live in the database (`signin_failures`, `db/signin_failures.rs`), so every
//! node sharing it counts the same failures: guesses spread by a load balancer over several
//! nodes meet one limit, not one per node, and a restart forgets nothing. Windows are read
//! by the state's clock (tests move a manual one); counters whose window is over are swept
//! with expired sessions (`auth::sweeper`), which bounds the table by the failures of one
//! window.

use crate::clock::Clock;
use crate::db::Db;
use crate::error::Result;
use std::net::IpAddr;
use std::time::Duration;

/// Failures allowed per account within [`WINDOW`] (second-factor failures count too).
pub const MAX_ACCOUNT_FAILURES: u32 = 10;
/// Failures allowed per address within [`WINDOW`]: higher, because one office or care
/// station behind one NAT address has many people mistyping.
pub const MAX_ADDRESS_FAILURES: u32 = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const WINDOW_MS: i64 = WINDOW.as_millis() as i64;

/// How long a key with `failures` in a window that started at `window_start` is still
/// blocked at `now`, if it is. A window started "in the future" (another node's clock a
/// little ahead) counts as just started.
fn blocked(failures: i64, window_start: i64, now: i64, limit: u32) -> Option<Duration> {
    let elapsed = now.saturating_sub(window_start).max(0);
    (failures >= i64::from(limit) && elapsed < WINDOW_MS)
        .then(|| Duration::from_millis((WINDOW_MS - elapsed) as u64))
}

/// The throttle of one node; what it counts is shared through the database.
pub struct Throttle {
    db: Db,
    clock: Clock,
}

impl Throttle {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// A counter's key as stored: hashed, because a login id as typed is sometimes a
    /// password typed into the wrong field.
    fn account(municipality: i64, login_id: &str) -> String {
        super::token::token_hash(&format!(
            "account/{municipality}/{}",
            login_id.to_lowercase()
        ))
    }

    fn address(addr: IpAddr) -> String {
        super::token::token_hash(&format!("address/{}", Self::network(addr)))
    }

    /// IPv6 clients are counted per /64: one host usually holds a whole /64.
    fn network(addr: IpAddr) -> IpAddr {
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
    pub async fn check(
        &self,
        municipality: i64,
        login_id: &str,
        addr: IpAddr,
    ) -> Result<std::result::Result<(), Duration>> {
        let now = self.clock.now_ms();
        let account = Self::account(municipality, login_id);
        let address = Self::address(addr);
        let counters = self.db.signin_failures([&account, &address]).await?;
        let wait = counters
            .iter()
            .filter_map(|c| {
                let limit = if c.key == account {
                    MAX_ACCOUNT_FAILURES
                } else {
                    MAX_ADDRESS_FAILURES
                };
                blocked(c.failures, c.window_start, now, limit)
            })
            .max();
        Ok(wait.map_or(Ok(()), Err))
    }

    /// Counts a failure against the account and the address.
    pub async fn failed(&self, municipality: i64, login_id: &str, addr: IpAddr) -> Result<()> {
        let now = self.clock.now_ms();
        let over = now - WINDOW_MS;
        let db = &self.db;
        db.record_signin_failure(&Self::account(municipality, login_id), now, over)
            .await?;
        db.record_signin_failure(&Self::address(addr), now, over)
            .await
    }

    /// Clears the account's failures only: signing in to one's own account must not reset
    /// the budget of an address that is guessing at others.
    pub async fn succeeded(&self, municipality: i64, login_id: &str) -> Result<()> {
        self.db
            .clear_signin_failures(&Self::account(municipality, login_id))
            .await
    }

    /// Forgets the counters whose window is over; how many.
    pub async fn sweep(&self) -> Result<u64> {
        let over = self.clock.now_ms() - WINDOW_MS;
        self.db.sweep_signin_failures(over).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_from_its_limit_until_its_window_ends() {
        let start = 1_000_000;
        assert_eq!(blocked(9, start, start, 10), None);
        assert_eq!(blocked(10, start, start, 10), Some(WINDOW));
        let later = start + 60_000;
        assert_eq!(
            blocked(10, start, later, 10),
            Some(WINDOW - Duration::from_secs(60))
        );
        assert_eq!(
            blocked(10, start, start + WINDOW_MS - 1, 10),
            Some(Duration::from_millis(1))
        );
        assert_eq!(blocked(10, start, start + WINDOW_MS, 10), None);
        // Another node's clock slightly ahead: never more than a window.
        assert_eq!(blocked(50, start + 5_000, start, 50), Some(WINDOW));
    }

    #[test]
    fn accounts_ignore_case_and_addresses_have_their_own_keys() {
        assert_eq!(
            Throttle::account(1, "Nurse1"),
            Throttle::account(1, "nurse1")
        );
        assert_ne!(
            Throttle::account(1, "nurse1"),
            Throttle::account(2, "nurse1")
        );
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Throttle::address(mapped), Throttle::address(v4));
        assert_ne!(Throttle::address(v4), Throttle::account(1, "192.0.2.1"));
        assert!(!Throttle::account(1, "nurse1").contains("nurse1"));
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
