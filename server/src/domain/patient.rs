//! A patient's fields: the rules the admin API (create, edit) and `renraku import` both
//! check, so a patient the one refuses the other refuses too. Each entry point words the
//! refusal its own way (an HTTP 400 naming the field, an import error naming the JSON path).

use super::text::{self, Problem};

/// Longest name or kana name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Longest care level (要介護3, 要支援2 …), in characters.
pub const MAX_CARE_LEVEL_CHARS: usize = 50;

/// The patient's name: one line, not empty.
pub fn name(value: &str) -> Result<&str, Problem> {
    text::line(value, MAX_NAME_CHARS)
}

/// The patient's name in kana: one line, not empty.
pub fn name_kana(value: &str) -> Result<&str, Problem> {
    text::line(value, MAX_NAME_CHARS)
}

/// The address: one line, may be empty.
pub fn address(value: &str) -> Result<&str, Problem> {
    text::optional_line(value, MAX_ADDRESS_CHARS)
}

/// The care level: one line, may be empty.
pub fn care_level(value: &str) -> Result<&str, Problem> {
    text::optional_line(value, MAX_CARE_LEVEL_CHARS)
}

/// A birth date is `YYYY-MM-DD` with a month 1–12 and a day 1–31.
pub fn birth_date_is_valid(date: &str) -> bool {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && (1..=12).contains(&date[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&date[8..10].parse::<u8>().unwrap_or(0))
}

/// Disaster triage is one of the four colours, or unset (absent or empty).
pub fn triage_is_valid(triage: Option<&str>) -> bool {
    matches!(
        triage,
        None | Some("" | "red" | "yellow" | "green" | "black")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_are_iso_calendar_days() {
        assert!(birth_date_is_valid("1941-03-09"));
        for bad in [
            "1941-3-9",
            "1941-13-01",
            "1941-00-10",
            "1941-01-32",
            "19410309",
            "１９４１-03-09",
        ] {
            assert!(!birth_date_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn triage_is_a_colour_or_unset() {
        for ok in [None, Some(""), Some("red"), Some("black")] {
            assert!(triage_is_valid(ok));
        }
        assert!(!triage_is_valid(Some("blue")));
        assert!(!triage_is_valid(Some("Red")));
    }

    #[test]
    fn optional_fields_may_be_empty_but_not_carry_control_characters() {
        assert_eq!(address(" "), Ok(""));
        assert_eq!(care_level("要介護3"), Ok("要介護3"));
        assert!(address("東京都\0").is_err());
        assert!(name(" ").is_err());
        assert!(name_kana(&"あ".repeat(101)).is_err());
    }
}
