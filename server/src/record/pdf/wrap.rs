//! Line breaking for the PDF: Japanese breaks between any two characters, a Latin word or
//! number stays whole, and the marks that may not begin a line (。、」 …, 行頭禁則) hang at the
//! end of the line before instead.

/// Characters a Japanese line may not begin with.
const NO_LINE_START: &str = "、。，．,.・：；:;？！?!）)]｝}〕〉》」』】〙〗ゝゞヽヾーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〻…‥";
/// Characters a Japanese line may not end with.
const NO_LINE_END: &str = "（([｛{〔〈《「『【〘〖";

/// A piece the breaker never splits (unless it is wider than a line by itself).
fn units(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word = c.is_ascii_alphanumeric() || "-_/@%#&+=~'\"*<>^`|\\$.,:".contains(c);
        match (word, start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, Some(s)) => {
                out.push(&text[s..i]);
                out.push(&text[i..i + c.len_utf8()]);
                start = None;
            }
            (false, None) => out.push(&text[i..i + c.len_utf8()]),
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// Breaks one paragraph (no newline in it) into lines no wider than `width`, measuring each
/// character with `advance` (its width at the size drawn). An empty paragraph is one empty
/// line, so blank lines in a post stay.
pub fn wrap(text: &str, width: f32, advance: impl Fn(char) -> f32) -> Vec<String> {
    let measure = |s: &str| s.chars().map(&advance).sum::<f32>();
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0_f32;
    for unit in units(text) {
        let w = measure(unit);
        let first = unit.chars().next().unwrap_or(' ');
        let hangs = NO_LINE_START.contains(first);
        if used + w > width && !line.is_empty() && !hangs {
            // An opening bracket at the end of the line moves down with what it opens.
            let carried = match line.chars().last() {
                Some(c) if NO_LINE_END.contains(c) && line.chars().count() > 1 => {
                    line.pop();
                    Some(c)
                }
                _ => None,
            };
            lines.push(std::mem::take(&mut line).trim_end().to_owned());
            used = 0.0;
            if let Some(c) = carried {
                line.push(c);
                used = advance(c);
            }
            if unit == " " && line.is_empty() {
                continue;
            }
        }
        if w > width {
            // A unit wider than a whole line (a long URL): break it where it overflows.
            for c in unit.chars() {
                let cw = advance(c);
                if used + cw > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                line.push(c);
                used += cw;
            }
            continue;
        }
        line.push_str(unit);
        used += w;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    /// Every character one unit wide: the width counts characters.
    fn cells(text: &str, width: f32) -> Vec<String> {
        wrap(text, width, |c| if c.is_ascii() { 0.5 } else { 1.0 })
    }

    #[test]
    fn japanese_breaks_between_characters() {
        assert_eq!(cells("本日訪問しました", 3.0), ["本日訪", "問しま", "した"]);
    }

    #[test]
    fn a_closing_mark_hangs_instead_of_starting_a_line() {
        assert_eq!(cells("発熱あり。様子見", 4.0), ["発熱あり。", "様子見"]);
    }

    #[test]
    fn an_opening_bracket_moves_down_with_what_it_opens() {
        assert_eq!(cells("服薬は「朝食後」", 4.0), ["服薬は", "「朝食後」"]);
    }

    #[test]
    fn latin_words_and_numbers_stay_whole() {
        assert_eq!(cells("SpO2 96%で安定", 4.0), ["SpO2 96%", "で安定"]);
        assert_eq!(cells("体温37.5度", 3.0), ["体温", "37.5度"]);
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut() {
        assert_eq!(
            cells("https://example.jp/a", 4.0),
            ["https://", "example.", "jp/a"]
        );
    }

    #[test]
    fn a_blank_paragraph_stays_a_blank_line() {
        assert_eq!(cells("", 4.0), [""]);
    }
}
