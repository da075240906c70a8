//! The Japanese font of the PDF export. A PDF that is filed must look the same on every
//! computer, so its glyphs are embedded (krilla keeps only the ones used). The font is the
//! operator's (`--pdf-font`) or one of Debian's Japanese Gothic fonts; it is read once, at
//! the first PDF export, and shared by every export after it.

use crate::error::{Error, Result};
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::FileRef;
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Debian's Japanese Gothic fonts, in order of preference: IPAex Gothic is one plain
/// TrueType file made for Japanese documents; Noto Sans CJK is a collection (its JP face is
/// picked); the rest are older choices an operator may already have.
const DEBIAN_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf",
];

/// Told to whoever asks for a PDF when no font is found; the operator's log says the same.
pub const NO_FONT: &str = "PDF 出力には日本語フォントが必要です。管理者は fonts-ipaexfont-gothic \
     (または fonts-noto-cjk) を入れるか、--pdf-font でフォントを指定してください。\
     (PDF export needs a Japanese font: install Debian's fonts-ipaexfont-gothic or \
     fonts-noto-cjk, or set --pdf-font.)";

/// A loaded font: what krilla embeds and the advance widths the line breaking measures.
#[derive(Clone)]
pub struct PdfFont {
    pub path: PathBuf,
    pub font: krilla::text::Font,
    data: Arc<Vec<u8>>,
    index: u32,
    /// Advance widths per character at 1 pt, measured once each.
    advances: Arc<Mutex<HashMap<char, Option<f32>>>>,
}

impl std::fmt::Debug for PdfFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish()
    }
}

impl PdfFont {
    /// Reads the font at `path` (a collection: its Japanese face, else its first). What is
    /// wrong with a font the operator named goes to the log; the person asking for a PDF is
    /// told the export is unavailable.
    pub fn load(path: &Path) -> Result<Self> {
        Self::read(path).map_err(|why| {
            tracing::warn!(font = %path.display(), "pdf export font unusable: {why}");
            Error::Unavailable(NO_FONT)
        })
    }

    fn read(path: &Path) -> std::result::Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| e.to_string())?;
        let index = japanese_face(&data).ok_or("not a font file")?;
        let data = Arc::new(data);
        let font = krilla::text::Font::new(data.clone().into(), index)
            .ok_or("not a font krilla can embed")?;
        let loaded = Self {
            path: path.to_owned(),
            font,
            data,
            index,
            advances: Arc::default(),
        };
        // A Latin-only font would print every Japanese character as 〓.
        if loaded.advance('連').is_none() {
            return Err("no Japanese characters in it".into());
        }
        Ok(loaded)
    }

    /// The operator's font, else the first Debian font installed.
    pub fn find(configured: Option<&Path>) -> Result<Self> {
        if let Some(path) = configured {
            return Self::load(path);
        }
        DEBIAN_FONTS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or(Error::Unavailable(NO_FONT))
            .and_then(Self::load)
    }

    /// The width of `c` drawn at `size`; a character without a glyph counts as one em, the
    /// width of the 〓 drawn for it.
    pub fn char_width(&self, c: char, size: f32) -> f32 {
        self.advance(c).unwrap_or(1.0) * size
    }

    /// The advance width of `c` at 1 pt, or `None` when the font has no glyph for it.
    pub fn advance(&self, c: char) -> Option<f32> {
        let mut cache = self.advances.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(c).or_insert_with(|| {
            let font = FontRef::from_index(&self.data, self.index).ok()?;
            let glyph = font.charmap().map(c)?;
            if glyph.to_u32() == 0 {
                return None;
            }
            font.glyph_metrics(Size::new(1.0), LocationRef::default())
                .advance_width(glyph)
        })
    }
}

/// The face of a font file to use: the only one, or in a collection the one whose family
/// name ends in "JP" (Noto Sans CJK holds JP, KR, SC, TC and HK faces, whose kanji differ).
fn japanese_face(data: &[u8]) -> Option<u32> {
    match FileRef::new(data).ok()? {
        FileRef::Font(_) => Some(0),
        FileRef::Collection(collection) => {
            let faces = collection.len();
            let japanese = (0..faces).find(|&i| {
                collection.get(i).is_ok_and(|face| {
                    face.localized_strings(StringId::FAMILY_NAME)
                        .english_or_first()
                        .is_some_and(|name| name.to_string().trim_end().ends_with("JP"))
                })
            });
            japanese.or((faces > 0).then_some(0))
        }
    }
}
