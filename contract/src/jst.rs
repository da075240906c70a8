//! Japan time for dates both sides compute: parking hours, bookings of a day, statistics by
//! month. Japan has one time zone, UTC+9, and no daylight saving, so a calendar day is a
//! fixed 24 hours and no time-zone database is needed on either side. A *day number* counts
//! days since 1970-01-01 (Japan time).

use crate::Weekday;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Japan Standard Time, UTC+9 all year.
pub const OFFSET_MS: i64 = 9 * HOUR_MS;

/// The day number of unix ms `t`.
pub fn day_of_instant(t: i64) -> i64 {
    (t + OFFSET_MS).div_euclid(DAY_MS)
}

/// Unix ms of 00:00 Japan time on day `day`.
pub fn day_start(day: i64) -> i64 {
    day * DAY_MS - OFFSET_MS
}

/// The weekday of day number `day` (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> Weekday {
    const FROM_THURSDAY: [Weekday; 7] = [
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
    ];
    FROM_THURSDAY[day.rem_euclid(7) as usize]
}

/// Year, month (1–12) and day (1–31) of day number `day`, proleptic Gregorian (Howard
/// Hinnant's civil_from_days).
pub fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of `YYYY-MM-DD`, if it names a day that exists (from 1970 on).
pub fn day_of_date(d: &str) -> Option<i64> {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = d.get(0..4)?.parse().ok()?;
    let m: i64 = d.get(5..7)?.parse().ok()?;
    let day: i64 = d.get(8..10)?.parse().ok()?;
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Hinnant's days_from_civil; a day past the month's end (02-30) comes back as another
    // date and is refused.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let n = era * 146_097 + doe - 719_468;
    (civil(n) == (y, m, day)).then_some(n)
}

/// `YYYY-MM-DD` of day number `day`.
pub fn date_of_day(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_day_numbers_agree() {
        assert_eq!(day_of_date("1970-01-01"), Some(0));
        assert_eq!(weekday(0), Weekday::Thu);
        for date in ["2024-02-29", "2026-12-31", "2027-01-01", "2000-03-01"] {
            assert_eq!(date_of_day(day_of_date(date).unwrap()), date);
        }
        for bad in [
            "2026-02-29",
            "2026-04-31",
            "2026-13-01",
            "1969-12-31",
            "2026-1-01",
            "",
        ] {
            assert_eq!(day_of_date(bad), None, "{bad}");
        }
        // 2026-12-04 00:00 JST is 2026-12-03 15:00 UTC.
        let day = day_of_date("2026-12-04").unwrap();
        assert_eq!(day_start(day), 1_796_310_000_000);
        assert_eq!(day_of_instant(day_start(day) - 1), day - 1);
        assert_eq!(weekday(day), Weekday::Fri);
    }
}
