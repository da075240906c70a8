//! What "a post matches a search" means, in one place for every side that searches: the
//! server's index and query (SQLite and PostgreSQL alike) and the app's search of the rooms
//! kept on the device.
//!
//! Text and query are compared after [`normalize`] (Unicode NFKC, then lower case), so
//! full-width ＳｐＯ２ finds SpO2 and half-width ｶﾅ finds カナ; kana and kanji stay as typed.
//! A query is split at white space into terms; a post matches when its normalized text
//! contains every term. Two characters are enough (発熱, 褥瘡): the SQLite index is made of
//! character bigrams ([`bigrams`]), which finds any term of two or more letters, and every
//! candidate is checked against the rule itself, so both backends give the same results.

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// At most this many terms are looked for.
pub const MAX_TERMS: usize = 8;

/// NFKC, then lower case.
pub fn normalize(text: &str) -> String {
    nfkc(text).chars().flat_map(char::to_lowercase).collect()
}

/// Unicode NFKC. ASCII is its own NFKC, and most of what is searched (numbers, SpO2) is.
#[cfg(not(target_arch = "wasm32"))]
fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        return text.into();
    }
    text.nfkc().collect::<String>().into()
}

/// Unicode NFKC by the browser (the app): the same normal form, from the browser's Unicode
/// tables instead of the crate's. Both follow the Unicode standard; they can differ only for
/// characters added in a Unicode version one of them does not have yet.
#[cfg(target_arch = "wasm32")]
fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    String::from(js_sys::JsString::from(text).normalize("NFKC")).into()
}

/// The normalized, de-duplicated terms of a query (empty when there is nothing to look for).
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in normalize(query).split_whitespace() {
        if !out.iter().any(|t| t == term) {
            out.push(term.to_owned());
        }
        if out.len() == MAX_TERMS {
            break;
        }
    }
    out
}

/// Whether `text` (not yet normalized) contains every term.
pub fn matches(text: &str, terms: &[String]) -> bool {
    let text = normalize(text);
    !terms.is_empty() && terms.iter().all(|t| text.contains(t.as_str()))
}

/// The runs of letters and digits of a normalized text (what an index can see).
fn runs(normalized: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().collect())
}

/// The index terms of a normalized text: every pair of neighbouring letters or digits
/// (and a lone one as itself), separated by spaces, for a word-splitting full-text index.
pub fn bigrams(normalized: &str) -> String {
    let mut out = String::new();
    for run in runs(normalized) {
        if run.len() == 1 {
            push_token(&mut out, &run[..]);
        }
        for pair in run.windows(2) {
            push_token(&mut out, pair);
        }
    }
    out
}

fn push_token(out: &mut String, chars: &[char]) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.extend(chars);
}

/// An FTS5 query over [`bigrams`] that every matching text satisfies: each run of two or
/// more letters of each term as a phrase of its bigrams. `None` when no term has such a run
/// (a one-letter query): then only the rule itself can decide.
pub fn fts_query(terms: &[String]) -> Option<String> {
    let phrases: Vec<String> = terms
        .iter()
        .flat_map(|t| runs(t).collect::<Vec<_>>())
        .filter(|run| run.len() >= 2)
        .map(|run| {
            let grams: Vec<String> = run.windows(2).map(|p| p.iter().collect()).collect();
            // Tokens are letters and digits only: nothing in them needs quoting.
            format!("\"{}\"", grams.join(" "))
        })
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" AND "))
}

/// Where the terms occur in `text`: character ranges `[start, end)` of the original text,
/// merged and in order, for highlighting.
pub fn highlights(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    // Each normalized character remembers the original character it came from.
    let mut normalized: Vec<char> = Vec::new();
    let mut origin: Vec<usize> = Vec::new();
    for (i, c) in text.chars().enumerate() {
        let mut buf = [0; 4];
        for n in nfkc(c.encode_utf8(&mut buf))
            .chars()
            .flat_map(char::to_lowercase)
        {
            normalized.push(n);
            origin.push(i);
        }
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for term in terms {
        let term: Vec<char> = term.chars().collect();
        if term.is_empty() || term.len() > normalized.len() {
            continue;
        }
        let mut at = 0;
        while at + term.len() <= normalized.len() {
            if normalized[at..at + term.len()] == term[..] {
                ranges.push((origin[at], origin[at + term.len() - 1] + 1));
                at += term.len();
            } else {
                at += 1;
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_half_width_forms_meet() {
        assert_eq!(normalize("ＳｐＯ２ 92％"), "spo2 92%");
        assert_eq!(normalize("ｶﾀｶﾅ"), "カタカナ");
        assert!(matches("夜間の SpO2 が低下", &terms("ＳｐＯ２")));
        assert!(matches("夜間のＳｐＯ２が低下", &terms("spo2")));
        // Kana and kanji stay as typed.
        assert!(!matches("はつねつ", &terms("発熱")));
    }

    #[test]
    fn every_term_must_occur() {
        let t = terms("発熱  抗菌薬 発熱");
        assert_eq!(t, ["発熱", "抗菌薬"]);
        assert!(matches("発熱あり。抗菌薬を開始", &t));
        assert!(!matches("発熱あり", &t));
        assert!(!matches("anything", &[]));
    }

    #[test]
    fn the_index_finds_every_match_of_two_letters_or_more() {
        let text = normalize("高発熱です。SpO2 は 37.85 と…");
        let grams = bigrams(&text);
        let index: Vec<&str> = grams.split(' ').collect();
        for term in ["発熱", "熱で", "spo2", "37.8", "po"] {
            let q = fts_query(&terms(term)).unwrap();
            for phrase in q.split(" AND ") {
                let grams: Vec<&str> = phrase.trim_matches('"').split(' ').collect();
                assert!(
                    index.windows(grams.len()).any(|w| w == grams.as_slice()),
                    "{term}: {phrase} not in {index:?}"
                );
            }
        }
        assert_eq!(fts_query(&terms("熱")), None);
        assert_eq!(
            fts_query(&terms("抗菌薬 発熱")).unwrap(),
            "\"抗菌 菌薬\" AND \"発熱\""
        );
    }

    #[test]
    fn highlights_point_into_the_original_text() {
        let text = "夜間のＳｐＯ２が低下、SpO2 88%";
        let h = highlights(text, &terms("spo2"));
        let chars: Vec<char> = text.chars().collect();
        let found: Vec<String> = h
            .iter()
            .map(|&(s, e)| chars[s..e].iter().collect())
            .collect();
        assert_eq!(found, ["ＳｐＯ２", "SpO2"]);
    }
}
