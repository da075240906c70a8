//! The original file name: checked once at the edge, shown to people and offered again on
//! download, never used to build a path (blobs are stored under their SHA-256).

use super::Refusal;
use std::fmt;

/// Longest name kept, in bytes: what common file systems accept.
pub const MAX_NAME_BYTES: usize = 255;

/// A file name a person can be shown safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// Refuses rather than repairs: a name with a path or a hidden direction change is a sign
    /// of a crafted file (`invoice\u{202E}gpj.exe` shows as `invoiceexe.jpg`), and silently
    /// renaming it would hide that from the person who sent it.
    pub fn parse(raw: &str) -> Result<FileName, Refusal> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Refusal::BadFileName("名前がありません (empty)"));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(Refusal::BadFileName("長すぎます (too long)"));
        }
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(Refusal::BadFileName(
                "フォルダ名を含めないでください (a path, not a name)",
            ));
        }
        if name.chars().any(is_bidi_control) {
            return Err(Refusal::BadFileName(
                "文字の向きを変える制御文字が含まれています (bidirectional control character)",
            ));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(Refusal::BadFileName(
                "制御文字が含まれています (control character)",
            ));
        }
        Ok(FileName(name.to_owned()))
    }

    /// The name as it arrives in the upload header: percent-encoded UTF-8, optionally in
    /// RFC 5987 form (`UTF-8''…`), so any name survives an HTTP header.
    pub fn from_header(value: &[u8]) -> Result<FileName, Refusal> {
        let value = std::str::from_utf8(value)
            .map_err(|_| Refusal::BadFileName("ヘッダーが読めません (header not ASCII)"))?;
        let encoded = value
            .strip_prefix("UTF-8''")
            .or_else(|| value.strip_prefix("utf-8''"))
            .unwrap_or(value);
        let decoded = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .map_err(|_| Refusal::BadFileName("UTF-8 ではありません (not UTF-8)"))?;
        FileName::parse(&decoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The extension after the last dot, lower-cased, if the name has one.
    pub fn extension(&self) -> Option<String> {
        let (stem, ext) = self.0.rsplit_once('.')?;
        (!stem.is_empty() && !ext.is_empty() && ext.len() <= 8).then(|| ext.to_ascii_lowercase())
    }

    /// A `Content-Disposition` value: the RFC 6266 / 5987 `filename*` with the exact name,
    /// and a plain ASCII `filename` for old clients.
    pub fn content_disposition(&self, inline: bool) -> String {
        let kind = if inline { "inline" } else { "attachment" };
        let fallback: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let encoded = percent_encoding::utf8_percent_encode(&self.0, RFC5987_ESCAPE);
        format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything but RFC 5987's `attr-char` is escaped.
const RFC5987_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Characters that reorder how the rest of a name is displayed (Unicode's explicit
/// directional embeddings, overrides, isolates and marks).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_controls_and_direction_overrides() {
        for bad in [
            "",
            "   ",
            "../../etc/passwd",
            "..\\boot.ini",
            "a/b.jpg",
            "..",
            "invoice\u{202E}gpj.exe",
            "x\u{2066}.pdf",
            "line\nbreak.txt",
            "nul\0.txt",
        ] {
            assert!(
                matches!(FileName::parse(bad), Err(Refusal::BadFileName(_))),
                "{bad:?}"
            );
        }
        assert!(FileName::parse(&"あ".repeat(100)).is_err());
        let ok = FileName::parse("褥瘡 写真 2024-05-01.JPG").unwrap();
        assert_eq!(ok.extension().as_deref(), Some("jpg"));
        assert_eq!(FileName::parse(".bashrc").unwrap().extension(), None);
    }

    #[test]
    fn header_names_are_percent_decoded_and_dispositions_reencoded() {
        let name = FileName::from_header(b"UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6.pdf").unwrap();
        assert_eq!(name.as_str(), "紹介状.pdf");
        assert_eq!(
            FileName::from_header(b"%2E%2E%2Fx.pdf"),
            Err(Refusal::BadFileName(
                "フォルダ名を含めないでください (a path, not a name)"
            ))
        );
        assert_eq!(
            name.content_disposition(false),
            "attachment; filename=\"___.pdf\"; filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6.pdf"
        );
        let quote = FileName::parse("a\"b;c.txt").unwrap();
        assert!(quote
            .content_disposition(true)
            .starts_with("inline; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%3Bc.txt"));
    }
}
