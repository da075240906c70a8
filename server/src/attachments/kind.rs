//! What a file is, decided by its bytes (never its name or the client's Content-Type), and
//! the allow-list: photos, PDF, Office documents and plain text.

use super::Refusal;
use std::fmt;
use std::str::FromStr;

/// How many leading bytes the sniffer needs: Office Open XML is recognised by the names of
/// the first few entries of its zip, which may sit behind large extra fields.
pub const HEAD_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Doc,
    Xls,
    Ppt,
    Text,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Jpeg,
        Kind::Png,
        Kind::Webp,
        Kind::Pdf,
        Kind::Docx,
        Kind::Xlsx,
        Kind::Pptx,
        Kind::Doc,
        Kind::Xls,
        Kind::Ppt,
        Kind::Text,
    ];

    /// The stored and served media type. Always one of ours, so a response's Content-Type
    /// is never something a client chose.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Kind::Doc => "application/msword",
            Kind::Xls => "application/vnd.ms-excel",
            Kind::Ppt => "application/vnd.ms-powerpoint",
            Kind::Text => "text/plain",
        }
    }

    /// Extensions a name of this kind may end in.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Kind::Png => &["png"],
            Kind::Webp => &["webp"],
            Kind::Pdf => &["pdf"],
            Kind::Docx => &["docx", "docm"],
            Kind::Xlsx => &["xlsx", "xlsm"],
            Kind::Pptx => &["pptx", "pptm"],
            Kind::Doc => &["doc"],
            Kind::Xls => &["xls"],
            Kind::Ppt => &["ppt"],
            Kind::Text => &["txt", "text", "csv", "tsv", "md", "log"],
        }
    }

    /// Photos: metadata stripped, thumbnailed, shown inline.
    pub fn is_image(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Png | Kind::Webp)
    }

    /// A short name for messages: `JPEG`, `PDF`, …
    pub fn label(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Webp => "WebP",
            Kind::Pdf => "PDF",
            Kind::Docx => "Word",
            Kind::Xlsx => "Excel",
            Kind::Pptx => "PowerPoint",
            Kind::Doc => "Word 97-2003",
            Kind::Xls => "Excel 97-2003",
            Kind::Ppt => "PowerPoint 97-2003",
            Kind::Text => "テキスト",
        }
    }

    fn from_infer_mime(mime: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.mime() == mime && *k != Kind::Text)
    }

    /// The name's extension must agree with the bytes: an HTML page or a program renamed
    /// `.jpg` is refused here even where a later check would not catch it.
    pub fn check_extension(self, extension: Option<&str>) -> Result<(), Refusal> {
        match extension {
            Some(ext) if !self.extensions().contains(&ext) => Err(Refusal::TypeMismatch {
                found: self.label().to_owned(),
                extension: ext.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.mime() == s)
            .ok_or_else(|| format!("not an attachment type: {s}"))
    }
}

/// What the sniffer learned while the body streamed past.
#[derive(Debug, Default)]
pub struct Evidence {
    /// The first [`HEAD_BYTES`] bytes.
    pub head: Vec<u8>,
    /// Whether any byte was NUL (text never holds one; every binary format does).
    pub saw_nul: bool,
}

impl Evidence {
    pub fn observe(&mut self, chunk: &[u8]) {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if !self.saw_nul && chunk.contains(&0) {
            self.saw_nul = true;
        }
    }
}

/// Classifies an upload. `whole` reads the entire file, needed only for the legacy Office
/// formats, whose type is the class id inside a compound file.
pub fn classify(
    evidence: &Evidence,
    whole: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Kind, Refusal> {
    let head = &evidence.head;
    // A compound file (D0 CF 11 E0): Word/Excel/PowerPoint 97-2003, but also .msi
    // installers and others; only the class id, read from the whole file, tells.
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        let bytes = whole().map_err(|_| Refusal::Incomplete)?;
        if infer::doc::is_doc(&bytes) {
            return Ok(Kind::Doc);
        }
        if infer::doc::is_xls(&bytes) {
            return Ok(Kind::Xls);
        }
        if infer::doc::is_ppt(&bytes) {
            return Ok(Kind::Ppt);
        }
        return Err(Refusal::UnsupportedType {
            found: "application/x-ole-storage".to_owned(),
        });
    }
    if let Some(found) = infer::get(head) {
        if let Some(kind) = Kind::from_infer_mime(found.mime_type()) {
            return Ok(kind);
        }
        return Err(Refusal::UnsupportedType {
            found: found.mime_type().to_owned(),
        });
    }
    if looks_like_text(evidence) {
        return Ok(Kind::Text);
    }
    Err(Refusal::UnsupportedType {
        found: "application/octet-stream".to_owned(),
    })
}

/// Plain text: no NUL byte anywhere, and not markup a browser would run (HTML, SVG, XML).
/// Shift_JIS and other legacy encodings count as text too: Japanese offices still write them.
fn looks_like_text(evidence: &Evidence) -> bool {
    if evidence.saw_nul {
        return false;
    }
    let head = evidence
        .head
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&evidence.head);
    if infer::text::is_html(head) || infer::text::is_xml(head) {
        return false;
    }
    let lower: Vec<u8> = head.iter().take(4096).map(u8::to_ascii_lowercase).collect();
    let markup = [
        &b"<!doctype"[..],
        b"<html",
        b"<script",
        b"<svg",
        b"<iframe",
        b"<body",
        b"<head",
        b"<meta",
        b"<object",
        b"<embed",
    ];
    !markup
        .iter()
        .any(|tag| lower.windows(tag.len()).any(|w| w == *tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(bytes: &[u8]) -> Result<Kind, Refusal> {
        let mut evidence = Evidence::default();
        evidence.observe(bytes);
        classify(&evidence, || Ok(bytes.to_vec()))
    }

    #[test]
    fn bytes_decide_not_names() {
        assert_eq!(kind_of(b"%PDF-1.7\n%\xE2\xE3"), Ok(Kind::Pdf));
        assert_eq!(kind_of(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(Kind::Png));
        assert_eq!(kind_of(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), Ok(Kind::Jpeg));
        assert_eq!(kind_of("申し送り\r\n".as_bytes()), Ok(Kind::Text));
        assert!(matches!(
            kind_of(b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
            Err(Refusal::UnsupportedType { .. })
        ));
        assert!(matches!(
            kind_of(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xFF\xFF"),
            Err(Refusal::UnsupportedType { .. })
        ));
        for page in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"  <html >",
            b"hello <script>x</script>",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='x()'/>",
            b"<?xml version='1.0'?><svg/>",
        ] {
            assert!(
                matches!(kind_of(page), Err(Refusal::UnsupportedType { .. })),
                "{:?}",
                String::from_utf8_lossy(page)
            );
        }
    }

    #[test]
    fn extensions_must_agree() {
        assert!(Kind::Jpeg.check_extension(Some("jpeg")).is_ok());
        assert!(Kind::Text.check_extension(None).is_ok());
        assert!(matches!(
            Kind::Text.check_extension(Some("png")),
            Err(Refusal::TypeMismatch { .. })
        ));
        for kind in Kind::ALL {
            assert_eq!(kind.mime().parse::<Kind>(), Ok(kind));
        }
    }
}
