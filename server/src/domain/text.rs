//! The one rule for text people give the server to show to others: names, titles, labels
//! (one line) and announcement bodies or messages (free text). Every entry point — the API,
//! the admin API, the import — checks through here, so a name refused in one is refused in
//! all of them.
//!
//! Control characters are refused rather than stripped: a NUL ends the string early in C
//! tools, terminals and some PDF/CSV readers, an escape sequence rewrites a terminal that
//! shows the audit log, and a hidden direction change (`\u{202E}`) makes a name read as
//! another on screen. Silently removing them would hide a crafted value from whoever sent it.

use std::fmt;

/// Why a piece of text was refused; the field's name is added by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Empty,
    TooLong {
        max: usize,
    },
    /// A C0 or C1 control character (NUL, ESC, DEL, …), or a line break in a one-line value.
    ControlCharacter(char),
    /// A character that changes the direction text is shown in.
    BidiControl(char),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => write!(f, "must not be empty"),
            Problem::TooLong { max } => write!(f, "is longer than {max} characters"),
            Problem::ControlCharacter(c) => {
                write!(f, "contains a control character (U+{:04X})", u32::from(*c))
            }
            Problem::BidiControl(c) => write!(
                f,
                "contains a bidirectional control character (U+{:04X})",
                u32::from(*c)
            ),
        }
    }
}

/// A one-line value (a name, title or label): trimmed, not empty, at most `max` characters,
/// no control characters at all (line breaks and tabs included) and no direction changes.
pub fn line(value: &str, max: usize) -> Result<&str, Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Problem::ControlCharacter(c));
    }
    if let Some(c) = value.chars().find(|c| is_bidi_control(*c)) {
        return Err(Problem::BidiControl(c));
    }
    within(value, max)
}

/// [`line`] for a value that may be left empty (an address, a care level).
pub fn optional_line(value: &str, max: usize) -> Result<&str, Problem> {
    match line(value, max) {
        Err(Problem::Empty) => Ok(""),
        other => other,
    }
}

/// Free text (an announcement's body, a maintenance message): trimmed, not empty, at most
/// `max` characters; line breaks and tabs are allowed, other control characters are not.
pub fn paragraph(value: &str, max: usize) -> Result<&str, Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Problem::Empty);
    }
    free_of_controls(value)?;
    within(value, max)
}

/// The control-character half of [`paragraph`], for free text that may be empty.
pub fn free_of_controls(value: &str) -> Result<(), Problem> {
    match value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some(c) => Err(Problem::ControlCharacter(c)),
        None => Ok(()),
    }
}

fn within(value: &str, max: usize) -> Result<&str, Problem> {
    if value.chars().count() > max {
        Err(Problem::TooLong { max })
    } else {
        Ok(value)
    }
}

/// Characters that reorder how the text around them is shown (Trojan Source, CVE-2021-42574).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_trimmed_and_keeps_japanese_and_spaces_inside() {
        assert_eq!(line("  佐藤 花子\u{3000}", 100), Ok("佐藤 花子"));
    }

    #[test]
    fn a_line_refuses_nul_escape_del_c1_and_line_breaks() {
        for bad in [
            "佐藤\0花子",
            "a\u{1b}[2Jb",
            "a\u{7f}b",
            "a\u{85}b",
            "上\n下",
            "a\tb",
        ] {
            assert!(
                matches!(line(bad, 100), Err(Problem::ControlCharacter(_))),
                "{bad:?}"
            );
        }
        assert_eq!(line("a\0", 100), Err(Problem::ControlCharacter('\0')));
    }

    #[test]
    fn a_line_refuses_direction_changes() {
        assert_eq!(
            line("invoice\u{202E}gpj.exe", 100),
            Err(Problem::BidiControl('\u{202E}'))
        );
    }

    #[test]
    fn empty_and_long_values_are_refused_by_characters_not_bytes() {
        assert_eq!(line(" \t ", 10), Err(Problem::Empty));
        assert_eq!(optional_line(" ", 10), Ok(""));
        assert_eq!(
            optional_line("a\0", 10),
            Err(Problem::ControlCharacter('\0'))
        );
        assert_eq!(line(&"あ".repeat(10), 10), Ok("あ".repeat(10).as_str()));
        assert_eq!(
            line(&"あ".repeat(11), 10),
            Err(Problem::TooLong { max: 10 })
        );
    }

    #[test]
    fn a_paragraph_keeps_line_breaks_and_tabs_but_not_nul() {
        assert_eq!(
            paragraph("一行目\r\n\t二行目\n", 100),
            Ok("一行目\r\n\t二行目")
        );
        assert_eq!(
            paragraph("一行目\n\0", 100),
            Err(Problem::ControlCharacter('\0'))
        );
        assert_eq!(free_of_controls(""), Ok(()));
    }

    #[test]
    fn problems_read_with_the_field_name_in_front() {
        let message = format!("title {}", Problem::ControlCharacter('\0'));
        assert_eq!(message, "title contains a control character (U+0000)");
    }
}
