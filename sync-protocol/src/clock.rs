//! The device's clock against the server's. The server refuses posts dated more than
//! [`MAX_CLOCK_AHEAD_MS`](crate::validate::MAX_CLOCK_AHEAD_MS) ahead of its clock, so a
//! phone whose clock runs fast would have its honest posts refused: the app measures how far
//! its clock is off from the `Date` header of the server's answers and dates what it writes
//! by the server's clock instead.

/// Exchanges slower than this say too little about when the server answered.
pub const MAX_ROUND_TRIP_MS: i64 = 30_000;

/// A `Date` header counts whole seconds: the server's moment lies somewhere in that second.
const DATE_RESOLUTION_MS: i64 = 1_000;

/// How far the server's clock is ahead of the device's (negative: behind), in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockOffset(pub i64);

impl ClockOffset {
    /// What one request says: the device's clock when it left (`sent_ms`) and when the answer
    /// arrived (`received_ms`), and the server's `Date` header in ms (whole seconds). The
    /// server answered somewhere within the round trip, taken as its middle. `None` for an
    /// exchange too slow (or a device clock stepped during it) to tell anything.
    ///
    /// An offset within the measurement's own uncertainty (half the round trip plus the
    /// header's second) is no offset: a device whose clock is right keeps it, rather than
    /// dating its posts with a second of noise from each measurement.
    pub fn measure(sent_ms: i64, received_ms: i64, server_date_ms: i64) -> Option<ClockOffset> {
        let round_trip = received_ms.checked_sub(sent_ms)?;
        if !(0..=MAX_ROUND_TRIP_MS).contains(&round_trip) {
            return None;
        }
        let server_mid = server_date_ms.checked_add(DATE_RESOLUTION_MS / 2)?;
        let device_mid = sent_ms + round_trip / 2;
        let offset = server_mid.checked_sub(device_mid)?;
        let uncertainty = round_trip / 2 + DATE_RESOLUTION_MS / 2;
        Some(ClockOffset(if offset.abs() <= uncertainty {
            0
        } else {
            offset
        }))
    }

    /// The server's time when the device's clock reads `device_ms`.
    pub fn server_time(self, device_ms: i64) -> i64 {
        device_ms.saturating_add(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::MAX_CLOCK_AHEAD_MS;

    const HOUR: i64 = 3_600_000;
    /// 2026-12-02 16:00:00 UTC, a whole second as a `Date` header has it.
    const SERVER: i64 = 1_796_227_200_000;

    #[test]
    fn a_phone_an_hour_fast_dates_by_the_servers_clock() {
        // The request left at the phone's 17:00:00.100 and was answered 300 ms later; the
        // server's Date said 16:00:00.
        let sent = SERVER + HOUR + 100;
        let offset = ClockOffset::measure(sent, sent + 300, SERVER).unwrap();
        let dated = offset.server_time(sent + 300);
        // The server's true time then was within 16:00:00.000 … 16:00:01.000 + round trip.
        assert!(
            (SERVER..=SERVER + 1_300).contains(&dated),
            "{}",
            dated - SERVER
        );
        assert!(dated - SERVER < MAX_CLOCK_AHEAD_MS);
    }

    #[test]
    fn a_phone_behind_is_moved_forward() {
        let sent = SERVER - 10 * 60_000;
        let offset = ClockOffset::measure(sent, sent + 200, SERVER).unwrap();
        assert!((10 * 60_000 - 200..=10 * 60_000 + 1_000).contains(&offset.0));
    }

    #[test]
    fn a_right_clock_is_left_alone() {
        // Answered in the middle of the Date's second, or at either end of it.
        for sent in [SERVER + 400, SERVER - 100, SERVER + 950] {
            let offset = ClockOffset::measure(sent, sent + 100, SERVER).unwrap();
            assert_eq!(offset, ClockOffset(0), "sent at {}", sent - SERVER);
        }
    }

    #[test]
    fn slow_or_backwards_exchanges_tell_nothing() {
        assert_eq!(
            ClockOffset::measure(SERVER, SERVER + MAX_ROUND_TRIP_MS + 1, SERVER),
            None
        );
        assert_eq!(ClockOffset::measure(SERVER, SERVER - 1, SERVER), None);
        assert_eq!(ClockOffset::measure(i64::MIN, i64::MAX, SERVER), None);
    }

    #[test]
    fn no_measurement_changes_nothing() {
        assert_eq!(ClockOffset::default().server_time(SERVER), SERVER);
    }
}
