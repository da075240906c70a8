//! The record as a PDF for printing or filing: A4 pages that each name the patient and the
//! period at the top and carry "n / N" at the foot (a printed page lost from the pile still
//! says whose it is), then each thread oldest first as the text export has it — the post's
//! time, author, profession and organization, its text, its reactions — with the replies
//! indented under a bar. One Japanese font ([`PdfFont`]), embedded.

mod font;
mod wrap;

pub use font::{PdfFont, NO_FONT};

use super::{jst_minutes, reactions_line, Entry, Record};
use crate::error::{Error, Result};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;
use krilla::Document;

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 50.0;
/// Where the body starts (below the page heading) and ends (above the page number).
const BODY_TOP: f32 = 100.0;
const BODY_BOTTOM: f32 = PAGE_H - 60.0;
/// Line height as a multiple of the font size: Japanese reads best with air between lines.
const LEADING: f32 = 1.55;
/// How far a reply is indented, and its text further under its heading.
const REPLY_INDENT: f32 = 18.0;
const TEXT_INDENT: f32 = 10.0;
/// Drawn for a character the font has no glyph for (an emoji, say): 〓 is the mark Japanese
/// print has long used for a missing character.
const MISSING: char = '〓';

const INK: (u8, u8, u8) = (20, 20, 20);
const HEADING: (u8, u8, u8) = (25, 60, 110);
const MUTED: (u8, u8, u8) = (100, 100, 100);
const URGENT: (u8, u8, u8) = (180, 30, 30);

/// One line of the body, laid out but not yet placed on a page.
struct Line {
    text: String,
    size: f32,
    x: f32,
    color: (u8, u8, u8),
    /// Extra space above the line (dropped at the top of a page).
    space_before: f32,
    /// A heading stays on the page of its post's first line.
    keep_with_next: bool,
    /// Part of a reply: the bar on its left marks it so.
    reply: bool,
}

impl Line {
    fn height(&self) -> f32 {
        self.size * LEADING
    }
}

/// Renders the record; `printed_at` (unix ms) is printed on every page.
pub fn render(record: &Record, font: &PdfFont, printed_at: i64) -> Result<Vec<u8>> {
    let lines = layout(record, font);
    let pages = paginate(&lines);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} 連絡帳の記録", record.subject))
            .language("ja".into())
            .creator("Renraku".into()),
    );
    let total = pages.len();
    for (n, page_lines) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| Error::internal("A4 is a page size"))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut pen = Pen {
            surface: &mut surface,
            font,
        };
        pen.page_heading(record, printed_at);
        for (line, y) in page_lines {
            let line = &lines[*line];
            if line.reply {
                // The reply bar: from the line's top to its bottom, so a reply's lines join.
                pen.rule(
                    MARGIN_X + REPLY_INDENT - 8.0,
                    y - line.size,
                    MARGIN_X + REPLY_INDENT - 8.0,
                    y - line.size + line.height(),
                    1.5,
                    (190, 200, 215),
                );
            }
            pen.text(&line.text, line.x, *y, line.size, line.color);
        }
        let folio = format!("{} / {}", n + 1, total);
        let w = pen.width(&folio, 9.0);
        pen.text(&folio, (PAGE_W - w) / 2.0, PAGE_H - 30.0, 9.0, MUTED);
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| Error::internal(format!("pdf: {e:?}")))
}

/// Draws on one page with the record's font.
struct Pen<'a, 'b> {
    surface: &'a mut Surface<'b>,
    font: &'a PdfFont,
}

impl Pen<'_, '_> {
    fn text(&mut self, text: &str, x: f32, baseline: f32, size: f32, color: (u8, u8, u8)) {
        if text.is_empty() {
            return;
        }
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(color.0, color.1, color.2).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
        self.surface.draw_text(
            Point::from_xy(x, baseline),
            self.font.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.font.char_width(c, size)).sum()
    }

    fn rule(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: (u8, u8, u8)) {
        let mut path = PathBuilder::new();
        path.move_to(x1, y1);
        path.line_to(x2, y2);
        let Some(path) = path.finish() else { return };
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            paint: rgb::Color::new(color.0, color.1, color.2).into(),
            width,
            ..Default::default()
        }));
        self.surface.draw_path(&path);
        self.surface.set_stroke(None);
    }

    /// Whose record, which period, when printed: on every page.
    fn page_heading(&mut self, record: &Record, printed_at: i64) {
        let title = printable(self.font, &format!("{}　連絡帳の記録", record.subject));
        self.text(&title, MARGIN_X, 58.0, 15.0, INK);
        let period = format!(
            "期間 {} 〜 {}　投稿 {} 件",
            jst_minutes(record.from),
            jst_minutes(record.to),
            record.posts()
        );
        self.text(&period, MARGIN_X, 78.0, 9.5, INK);
        let printed = format!("出力 {}", jst_minutes(printed_at));
        let w = self.width(&printed, 9.0);
        self.text(&printed, PAGE_W - MARGIN_X - w, 78.0, 9.0, MUTED);
        self.rule(MARGIN_X, 86.0, PAGE_W - MARGIN_X, 86.0, 0.8, MUTED);
    }
}

/// `text` with what the font cannot draw replaced: control characters dropped, tabs as
/// spaces, emoji presentation selectors and joiners dropped, any other missing glyph as 〓.
fn printable(font: &PdfFont, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            '\u{200d}' | '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}' => {}
            c if font.advance(c).is_some() => out.push(c),
            _ => out.push(MISSING),
        }
    }
    out
}

/// Every line of the body, in reading order.
fn layout(record: &Record, font: &PdfFont) -> Vec<Line> {
    let mut lines = Vec::new();
    if record.threads.is_empty() {
        lines.push(Line {
            text: "この期間の投稿はありません。".into(),
            size: 10.5,
            x: MARGIN_X,
            color: MUTED,
            space_before: 0.0,
            keep_with_next: false,
            reply: false,
        });
    }
    for thread in &record.threads {
        entry(&mut lines, font, &thread.root, false);
        for reply in &thread.replies {
            entry(&mut lines, font, reply, true);
        }
    }
    lines
}

fn entry(lines: &mut Vec<Line>, font: &PdfFont, e: &Entry, reply: bool) {
    let a = &e.author;
    let x = if reply {
        MARGIN_X + REPLY_INDENT
    } else {
        MARGIN_X
    };
    let org = if a.organization.is_empty() {
        String::new()
    } else {
        format!("・{}", a.organization)
    };
    let edited = e
        .post
        .edited_at
        .map(|at| format!("（{} 編集）", jst_minutes(at)))
        .unwrap_or_default();
    let urgent = if e.post.urgent { "【至急】" } else { "" };
    // └ rather than the text export's ↳: Japanese fonts (JIS X 0208) have the box drawing.
    let mark = if reply { "└ " } else { "■ " };
    let heading = printable(
        font,
        &format!(
            "{mark}{urgent}{} {}（{}{org}）{edited}",
            jst_minutes(e.post.created_at),
            a.name,
            a.profession
        ),
    );
    let right = PAGE_W - MARGIN_X;
    let size = 10.0;
    push_wrapped(lines, font, &heading, x, right, size, |line, first| Line {
        text: line,
        size,
        x,
        color: if e.post.urgent { URGENT } else { HEADING },
        space_before: if first {
            if reply {
                4.0
            } else {
                12.0
            }
        } else {
            0.0
        },
        keep_with_next: true,
        reply,
    });
    let body_x = x + TEXT_INDENT;
    for paragraph in e.post.text.lines() {
        let paragraph = printable(font, paragraph);
        push_wrapped(lines, font, &paragraph, body_x, right, size, |line, _| {
            Line {
                text: line,
                size,
                x: body_x,
                color: INK,
                space_before: 0.0,
                keep_with_next: false,
                reply,
            }
        });
    }
    let small = 8.5;
    if !e.post.attachments.is_empty() {
        lines.push(Line {
            text: format!("（添付ファイル {} 件）", e.post.attachments.len()),
            size: small,
            x: body_x,
            color: MUTED,
            space_before: 0.0,
            keep_with_next: false,
            reply,
        });
    }
    let reactions = reactions_line(&e.reactions);
    if !reactions.is_empty() {
        let reactions = printable(font, &format!("［{reactions}］"));
        push_wrapped(lines, font, &reactions, body_x, right, small, |line, _| {
            Line {
                text: line,
                size: small,
                x: body_x,
                color: MUTED,
                space_before: 0.0,
                keep_with_next: false,
                reply,
            }
        });
    }
}

fn push_wrapped(
    lines: &mut Vec<Line>,
    font: &PdfFont,
    text: &str,
    x: f32,
    right: f32,
    size: f32,
    line: impl Fn(String, bool) -> Line,
) {
    let advance = |c: char| font.char_width(c, size);
    for (i, text) in wrap::wrap(text, right - x, advance).into_iter().enumerate() {
        lines.push(line(text, i == 0));
    }
}

/// Places the lines on pages: each page gets (line index, baseline) pairs. A heading is
/// never the last line of a page, and the space before a post is dropped at a page's top.
fn paginate(lines: &[Line]) -> Vec<Vec<(usize, f32)>> {
    let mut pages = vec![Vec::new()];
    let mut y = BODY_TOP;
    for (i, line) in lines.iter().enumerate() {
        let mut needed = line.space_before + line.height();
        if line.keep_with_next {
            needed += lines.get(i + 1).map_or(0.0, Line::height);
        }
        let page_empty = pages.last().is_some_and(Vec::is_empty);
        if y + needed > BODY_BOTTOM && !page_empty {
            pages.push(Vec::new());
            y = BODY_TOP;
        }
        let page_empty = pages.last().is_some_and(Vec::is_empty);
        if !page_empty {
            y += line.space_before;
        }
        // The baseline sits a font size below the line's top.
        let baseline = y + line.size;
        if let Some(page) = pages.last_mut() {
            page.push((i, baseline));
        }
        y += line.height();
    }
    pages
}
