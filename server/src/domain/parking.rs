//! 駐車場 (issue 17): who sees and books a municipality's parking, when a space is available,
//! and what a lender, a space or a booking may hold. The HTTP handlers gather the facts
//! (`server/src/http/parking.rs`) and ask these; the database guarantees the one rule that
//! must hold under concurrency — no two bookings of a space overlap (`db/parking.rs`).
//!
//! Who is what to municipality `M`'s parking:
//! - the city: `M`'s administrators and the users they designated parking managers — every
//!   lender, space, booking (organisation, plate, time), report and statistic of `M`;
//! - a lender with an account: their own spaces and those spaces' bookings (organisation,
//!   plate, time); they may pause and resume their spaces;
//! - a booker: a user whose organisation `M` approved, and whose municipality is `M` or
//!   shares a wide-area agreement with `M` into which `M` opened its parking (an agreement
//!   alone shares rooms, not parking: [`Reach`]); they search `M`'s active spaces, see free
//!   windows, book, cancel and leave early — their own bookings only;
//! - everyone else of `M`: the overview and nothing more (booking is 403);
//! - anyone else: nothing (404), as if `M` had no parking.
//!
//! Times: every stored time is unix ms. Availability is written in Japan time (UTC+9, no
//! daylight saving) as weekly windows — a weekday and minutes after midnight, where an end at
//! or before the start runs past midnight into the next day — and exceptions on dates: a
//! closed date takes its whole day (00:00–24:00) out of the weekly windows, an open date adds
//! hours. Available time = (weekly windows − closed dates) ∪ extra hours, merged, so windows
//! that touch (9–12 and 12–17) make one. A booking must lie inside one available stretch.

use super::text::{self, Problem};
use renraku_contract::{
    Availability, AvailabilityException, ExceptionKind, NewBooking, NewLender, NewSpace,
    ParkingPoint, TimeWindow, Weekday, WeeklyWindow, PARKING_BOOKING_MAX_MIN, PARKING_LINE_MAX,
    PARKING_NAME_MAX, PARKING_PLATE_MAX, PARKING_TEXT_MAX, PARKING_WINDOWS_MAX,
};

// Japan time, the same on both sides (`renraku_contract::jst`).
pub use renraku_contract::jst::{
    date_of_day, day_of_date, day_of_instant as jst_day, day_start, weekday, DAY_MS, HOUR_MS,
    MINUTE_MS, OFFSET_MS as JST_OFFSET_MS,
};
/// Coordinates are kept as integers of 10⁻⁷ degree, as the register's.
pub const DEGREE_UNITS: f64 = 10_000_000.0;
/// The largest search radius, metres.
pub const RADIUS_MAX_M: f64 = 5000.0;
pub const RADIUS_DEFAULT_M: f64 = 1000.0;

/// The asking user as the parking rules see them, for municipality `M`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing<M> {
    pub home: M,
    /// A municipality (or system) administrator of `home`.
    pub admin: bool,
    /// Designated a parking manager of `home`.
    pub manager: bool,
    /// Lender records of `M` linked to this account.
    pub lender: bool,
    /// Their organisation is approved in `M`.
    pub approved: bool,
}

/// The municipalities whose approved organisations' staff may book `M`'s parking: `M`, and
/// each municipality that shares an agreement with `M` into which `M` opened its parking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach<M> {
    /// The agreements `M` is in, as member lists, with whether `M` shares parking in each.
    pub agreements: Vec<(Vec<M>, bool)>,
}

/// No agreements: only `M`'s own staff.
impl<M> Default for Reach<M> {
    fn default() -> Self {
        Self {
            agreements: Vec::new(),
        }
    }
}

impl<M: PartialEq + Clone> Reach<M> {
    /// The agreements `M` is in, each with whether `M` opened its parking into it.
    pub fn new(agreements: Vec<(Vec<M>, bool)>) -> Self {
        Self { agreements }
    }

    /// Whether staff of `home` may use `m`'s parking (given an approval).
    pub fn admits(&self, m: &M, home: &M) -> bool {
        m == home
            || self
                .agreements
                .iter()
                .any(|(members, shares)| *shares && members.contains(m) && members.contains(home))
    }
}

impl<M: PartialEq> Standing<M> {
    /// The city's side of `m`'s parking.
    pub fn manages(&self, m: &M) -> bool {
        self.home == *m && (self.admin || self.manager)
    }

    /// Designates managers and opens parking into agreements.
    pub fn administers(&self, m: &M) -> bool {
        self.home == *m && self.admin
    }
}

impl<M: PartialEq + Clone> Standing<M> {
    /// May search and book `m`'s spaces.
    pub fn books(&self, m: &M, reach: &Reach<M>) -> bool {
        self.approved && reach.admits(m, &self.home)
    }

    /// Sees anything of `m`'s parking at all (else 404).
    pub fn sees_any(&self, m: &M, reach: &Reach<M>) -> bool {
        self.home == *m || self.lender || self.books(m, reach)
    }
}

/// One refused field and why, as `field problem`.
fn bad(field: &str, problem: impl std::fmt::Display) -> String {
    format!("{field} {problem}")
}

fn keep(field: &str, r: Result<&str, Problem>) -> Result<String, String> {
    r.map(str::to_owned).map_err(|p| bad(field, p))
}

fn optional_text(value: &str, max: usize) -> Result<&str, Problem> {
    match text::paragraph(value, max) {
        Err(Problem::Empty) => Ok(""),
        other => other,
    }
}

/// A lender's fields, trimmed.
pub fn check_lender(l: &NewLender) -> Result<NewLender, String> {
    Ok(NewLender {
        name: keep("name", text::line(&l.name, PARKING_NAME_MAX))?,
        contact: keep("contact", text::optional_line(&l.contact, PARKING_LINE_MAX))?,
        notify_by: l.notify_by,
        user: l.user,
    })
}

/// A space's fields, trimmed, the location rounded to what is stored.
pub fn check_space(s: &NewSpace) -> Result<NewSpace, String> {
    let p = s.location;
    if !(p.latitude.is_finite() && (-90.0..=90.0).contains(&p.latitude)) {
        return Err(bad("location.latitude", "is not between -90 and 90"));
    }
    if !(p.longitude.is_finite() && (-180.0..=180.0).contains(&p.longitude)) {
        return Err(bad("location.longitude", "is not between -180 and 180"));
    }
    let mut limits = s.limits.clone();
    limits.dedup();
    Ok(NewSpace {
        lender: s.lender,
        name: keep("name", text::line(&s.name, PARKING_NAME_MAX))?,
        address: keep("address", text::line(&s.address, PARKING_LINE_MAX))?,
        location: ParkingPoint {
            latitude: (p.latitude * DEGREE_UNITS).round() / DEGREE_UNITS,
            longitude: (p.longitude * DEGREE_UNITS).round() / DEGREE_UNITS,
        },
        limits,
        limits_note: keep(
            "limits_note",
            text::optional_line(&s.limits_note, PARKING_LINE_MAX),
        )?,
        directions: keep("directions", optional_text(&s.directions, PARKING_TEXT_MAX))?,
    })
}

fn check_minutes(field: &str, start: i64, end: i64) -> Result<(), String> {
    if !(0..1440).contains(&start) {
        return Err(bad(field, "start_min must be 0 to 1439"));
    }
    if !(1..=1440).contains(&end) {
        return Err(bad(field, "end_min must be 1 to 1440"));
    }
    Ok(())
}

/// A space's availability, checked: minutes in range, dates that exist, an `open`
/// exception with its hours, not too many of either.
pub fn check_availability(a: &Availability) -> Result<Availability, String> {
    if a.weekly.len() > PARKING_WINDOWS_MAX || a.exceptions.len() > PARKING_WINDOWS_MAX {
        return Err(format!(
            "at most {PARKING_WINDOWS_MAX} weekly windows and {PARKING_WINDOWS_MAX} exceptions"
        ));
    }
    for (i, w) in a.weekly.iter().enumerate() {
        check_minutes(&format!("weekly[{i}]"), w.start_min, w.end_min)?;
    }
    let mut exceptions = Vec::with_capacity(a.exceptions.len());
    for (i, e) in a.exceptions.iter().enumerate() {
        let field = format!("exceptions[{i}]");
        let date = e.date.trim();
        if day_of_date(date).is_none() {
            return Err(bad(&format!("{field}.date"), "is not a date YYYY-MM-DD"));
        }
        let (start_min, end_min) = match (e.kind, e.start_min, e.end_min) {
            (ExceptionKind::Closed, _, _) => (None, None),
            (ExceptionKind::Open, Some(s), Some(t)) => {
                check_minutes(&field, s, t)?;
                (Some(s), Some(t))
            }
            (ExceptionKind::Open, _, _) => {
                return Err(bad(&field, "an open exception needs start_min and end_min"))
            }
        };
        exceptions.push(AvailabilityException {
            date: date.to_owned(),
            kind: e.kind,
            start_min,
            end_min,
        });
    }
    Ok(Availability {
        weekly: a.weekly.clone(),
        exceptions,
    })
}

/// A window of minutes on `day` as unix ms; an end at or before the start is the next day's.
fn stretch(day: i64, start_min: i64, end_min: i64) -> (i64, i64) {
    let start = day_start(day) + start_min * MINUTE_MS;
    let end_day = if end_min <= start_min { day + 1 } else { day };
    (start, day_start(end_day) + end_min * MINUTE_MS)
}

/// Sorted, with overlapping and touching stretches joined.
fn merge(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.retain(|(s, e)| s < e);
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` without the (merged) stretches of `b`.
fn subtract(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for &(mut s, e) in a {
        for &(bs, be) in b {
            if be <= s || bs >= e {
                continue;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = s.max(be);
            if s >= e {
                break;
            }
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// The available stretches (merged, unix ms) touching days `from_day..=to_day`. A window of
/// the day before is included because it may run past midnight into `from_day`.
pub fn available(a: &Availability, from_day: i64, to_day: i64) -> Vec<(i64, i64)> {
    let mut weekly = Vec::new();
    let mut extra = Vec::new();
    let mut closed = Vec::new();
    for day in (from_day - 1)..=(to_day + 1) {
        let wd = weekday(day);
        for w in a.weekly.iter().filter(|w| w.weekday == wd) {
            weekly.push(stretch(day, w.start_min, w.end_min));
        }
    }
    for e in &a.exceptions {
        let Some(day) = day_of_date(&e.date) else {
            continue;
        };
        if day < from_day - 1 || day > to_day + 1 {
            continue;
        }
        match (e.kind, e.start_min, e.end_min) {
            (ExceptionKind::Closed, _, _) => closed.push((day_start(day), day_start(day + 1))),
            (ExceptionKind::Open, Some(s), Some(t)) => extra.push(stretch(day, s, t)),
            _ => {}
        }
    }
    let open = subtract(&merge(weekly), &merge(closed));
    merge(open.into_iter().chain(extra).collect())
}

/// Whether `[start, end)` lies inside one available stretch.
pub fn covers(a: &Availability, start: i64, end: i64) -> bool {
    available(a, jst_day(start), jst_day(end))
        .iter()
        .any(|&(s, e)| s <= start && end <= e)
}

/// The free windows of day `day`: available, not held by `booked` (each `[start, end)`),
/// cut to the day.
pub fn free_on(a: &Availability, booked: &[(i64, i64)], day: i64) -> Vec<TimeWindow> {
    let (lo, hi) = (day_start(day), day_start(day + 1));
    let open: Vec<(i64, i64)> = available(a, day, day)
        .into_iter()
        .map(|(s, e)| (s.max(lo), e.min(hi)))
        .filter(|(s, e)| s < e)
        .collect();
    subtract(&open, &merge(booked.to_vec()))
        .into_iter()
        .map(|(start, end)| TimeWindow { start, end })
        .collect()
}

/// Why a booking as asked is refused before the database is asked, if it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Field(String),
    /// Not inside the space's availability (or the space is paused).
    Unavailable(String),
}

/// A booking request checked at server time `now`: the plate one line, the window forward,
/// not in the past, not longer than [`PARKING_BOOKING_MAX_MIN`], whole minutes, inside the
/// availability. Returns the trimmed plate.
pub fn check_booking(
    b: &NewBooking,
    a: &Availability,
    paused: bool,
    now: i64,
) -> Result<String, Refusal> {
    let plate = text::line(&b.plate, PARKING_PLATE_MAX)
        .map_err(|p| Refusal::Field(bad("plate", p)))?
        .to_owned();
    if b.end <= b.start {
        return Err(Refusal::Field("end must be after start".into()));
    }
    if b.start % MINUTE_MS != 0 || b.end % MINUTE_MS != 0 {
        return Err(Refusal::Field("start and end must be whole minutes".into()));
    }
    if b.end <= now {
        return Err(Refusal::Field("the window is over already".into()));
    }
    if b.end - b.start > PARKING_BOOKING_MAX_MIN * MINUTE_MS {
        return Err(Refusal::Field(format!(
            "a booking is at most {} hours",
            PARKING_BOOKING_MAX_MIN / 60
        )));
    }
    if paused {
        return Err(Refusal::Unavailable(
            "この駐車場は現在休止中です。(This space is paused.)".into(),
        ));
    }
    if !covers(a, b.start, b.end) {
        return Err(Refusal::Unavailable(format!(
            "{} は貸出時間外です。(Outside the space's available hours.)",
            describe_window(b.start, b.end)
        )));
    }
    Ok(plate)
}

/// `2026-12-03 09:00–10:30` in Japan time (the end's date too when it is another day).
pub fn describe_window(start: i64, end: i64) -> String {
    let hm = |t: i64| {
        let m = (t + JST_OFFSET_MS).rem_euclid(DAY_MS) / MINUTE_MS;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let (ds, de) = (jst_day(start), jst_day(end));
    // An end at midnight is written 24:00 of the start's day.
    if de == ds + 1 && (end + JST_OFFSET_MS).rem_euclid(DAY_MS) == 0 {
        return format!("{} {}–24:00", date_of_day(ds), hm(start));
    }
    if ds == de {
        format!("{} {}–{}", date_of_day(ds), hm(start), hm(end))
    } else {
        format!(
            "{} {}–{} {}",
            date_of_day(ds),
            hm(start),
            date_of_day(de),
            hm(end)
        )
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(a: ParkingPoint, b: ParkingPoint) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dla = la2 - la1;
    let dlo = (b.longitude - a.longitude).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Walking minutes, estimated: the straight line × 1.3 for the streets' detours, at 80 m a
/// minute (the walking speed Japanese property listings use), rounded up.
pub fn walk_min(distance_m: f64) -> i64 {
    (distance_m * 1.3 / 80.0).ceil() as i64
}

/// A search radius as asked, or the default; bounded.
pub fn radius(asked: Option<f64>) -> Result<f64, String> {
    match asked {
        None => Ok(RADIUS_DEFAULT_M),
        Some(r) if r.is_finite() && r > 0.0 && r <= RADIUS_MAX_M => Ok(r),
        Some(_) => Err(format!(
            "radius_m must be more than 0 and at most {RADIUS_MAX_M}"
        )),
    }
}

/// A trouble report's text.
pub fn trouble_body(value: &str) -> Result<&str, String> {
    text::paragraph(value, PARKING_TEXT_MAX).map_err(|p| bad("body", p))
}

/// The weekly window as written (for tests and the docs).
pub fn window(weekday: Weekday, start: (i64, i64), end: (i64, i64)) -> WeeklyWindow {
    WeeklyWindow {
        weekday,
        start_min: start.0 * 60 + start.1,
        end_min: end.0 * 60 + end.1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 is a Monday.
    fn monday() -> i64 {
        day_of_date("2026-12-07").unwrap()
    }

    fn at(day: i64, h: i64, m: i64) -> i64 {
        day_start(day) + (h * 60 + m) * MINUTE_MS
    }

    #[test]
    fn days_and_weekdays() {
        assert_eq!(day_of_date("1970-01-01"), Some(0));
        assert_eq!(weekday(0), Weekday::Thu);
        assert_eq!(weekday(monday()), Weekday::Mon);
        assert_eq!(date_of_day(monday()), "2026-12-07");
        assert_eq!(
            date_of_day(day_of_date("2028-02-29").unwrap()),
            "2028-02-29"
        );
        assert_eq!(day_of_date("2027-02-29"), None);
        // 2026-12-07 00:00 JST is 2026-12-06 15:00 UTC.
        assert_eq!(jst_day(day_start(monday())), monday());
        assert_eq!(jst_day(day_start(monday()) - 1), monday() - 1);
    }

    #[test]
    fn touching_windows_join_and_midnight_crosses() {
        let a = Availability {
            weekly: vec![
                window(Weekday::Mon, (9, 0), (12, 0)),
                window(Weekday::Mon, (12, 0), (17, 0)),
                window(Weekday::Mon, (22, 0), (6, 0)),
            ],
            exceptions: vec![],
        };
        let d = monday();
        assert!(covers(&a, at(d, 11, 0), at(d, 13, 0)));
        assert!(covers(&a, at(d, 9, 0), at(d, 17, 0)));
        assert!(!covers(&a, at(d, 16, 0), at(d, 17, 1)));
        // Monday 23:00 to Tuesday 05:00 is inside 22:00–06:00.
        assert!(covers(&a, at(d, 23, 0), at(d + 1, 5, 0)));
        assert!(!covers(&a, at(d + 1, 5, 0), at(d + 1, 7, 0)));
        // Tuesday's free windows start with the night's tail.
        let free = free_on(&a, &[], d + 1);
        assert_eq!(
            free,
            vec![TimeWindow {
                start: at(d + 1, 0, 0),
                end: at(d + 1, 6, 0)
            }]
        );
    }

    #[test]
    fn exceptions_close_a_day_and_add_hours() {
        let d = monday();
        let a = Availability {
            weekly: vec![window(Weekday::Mon, (9, 0), (17, 0))],
            exceptions: vec![
                AvailabilityException {
                    date: date_of_day(d),
                    kind: ExceptionKind::Closed,
                    start_min: None,
                    end_min: None,
                },
                AvailabilityException {
                    date: date_of_day(d + 1),
                    kind: ExceptionKind::Open,
                    start_min: Some(13 * 60),
                    end_min: Some(15 * 60),
                },
            ],
        };
        assert!(!covers(&a, at(d, 10, 0), at(d, 11, 0)));
        assert!(covers(&a, at(d + 7, 10, 0), at(d + 7, 11, 0)));
        assert!(covers(&a, at(d + 1, 13, 0), at(d + 1, 15, 0)));
        assert!(!covers(&a, at(d + 1, 12, 0), at(d + 1, 15, 0)));
    }

    #[test]
    fn free_windows_leave_out_bookings() {
        let d = monday();
        let a = Availability {
            weekly: vec![window(Weekday::Mon, (9, 0), (17, 0))],
            exceptions: vec![],
        };
        let free = free_on(&a, &[(at(d, 10, 0), at(d, 11, 0))], d);
        assert_eq!(
            free,
            vec![
                TimeWindow {
                    start: at(d, 9, 0),
                    end: at(d, 10, 0)
                },
                TimeWindow {
                    start: at(d, 11, 0),
                    end: at(d, 17, 0)
                },
            ]
        );
        assert_eq!(
            describe_window(at(d, 9, 0), at(d, 10, 30)),
            "2026-12-07 09:00–10:30"
        );
        assert_eq!(
            describe_window(at(d, 22, 0), at(d + 1, 0, 0)),
            "2026-12-07 22:00–24:00"
        );
    }

    #[test]
    fn who_books() {
        let reach = Reach::new(vec![(vec![1, 2], true), (vec![1, 3], false)]);
        let s = |home, approved| Standing {
            home,
            admin: false,
            manager: false,
            lender: false,
            approved,
        };
        assert!(s(1, true).books(&1, &reach));
        assert!(!s(1, false).books(&1, &reach));
        assert!(s(2, true).books(&1, &reach));
        // An agreement that does not include parking opens nothing.
        assert!(!s(3, true).books(&1, &reach));
        assert!(!s(3, true).sees_any(&1, &reach));
        assert!(s(1, false).sees_any(&1, &reach));
    }

    #[test]
    fn walking() {
        let a = ParkingPoint {
            latitude: 35.70,
            longitude: 139.70,
        };
        let b = ParkingPoint {
            latitude: 35.70 + 0.0036,
            longitude: 139.70,
        };
        let d = distance_m(a, b);
        assert!((d - 400.3).abs() < 1.0, "{d}");
        assert_eq!(walk_min(d), 7);
    }
}
