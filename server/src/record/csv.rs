//! The record as CSV for Excel: UTF-8 with a byte-order mark (Excel reads Japanese correctly
//! only then), CRLF line ends, one row per post, oldest first, replies right after their
//! thread's first post. The columns (README "Exporting a patient's record"):
//!
//! | column | holds |
//! |---|---|
//! | 投稿ID | the post's id (a ULID) |
//! | スレッドID | the id of the thread's first post |
//! | 種別 | 投稿 (a thread's first post) or 返信 (a reply) |
//! | 日時 | when it was written, `YYYY-MM-DD HH:MM`, Japan Standard Time |
//! | 投稿者 | the author's name |
//! | 職種 | the author's profession |
//! | 所属 | the author's organization |
//! | 本文 | the text, line breaks kept |
//! | 添付 | how many files are attached |
//! | リアクション | `了解: 南 健一、佐藤 花子 / いいね: …` |
//! | 編集日時 | when it was last edited, empty if never |

use super::{jst_minutes, reactions_line, thread_of, Entry, Record};
use crate::error::{Error, Result};

pub const HEADER: [&str; 11] = [
    "投稿ID",
    "スレッドID",
    "種別",
    "日時",
    "投稿者",
    "職種",
    "所属",
    "本文",
    "添付",
    "リアクション",
    "編集日時",
];

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn render(record: &Record) -> Result<Vec<u8>> {
    let mut out = BOM.to_vec();
    {
        let mut w = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(&mut out);
        let fail = |e: ::csv::Error| Error::internal(format!("writing CSV: {e}"));
        w.write_record(HEADER).map_err(fail)?;
        for thread in &record.threads {
            for e in std::iter::once(&thread.root).chain(thread.replies.iter()) {
                w.write_record(row(e)).map_err(fail)?;
            }
        }
        w.flush()
            .map_err(|e| Error::internal(format!("writing CSV: {e}")))?;
    }
    Ok(out)
}

fn row(e: &Entry) -> [String; 11] {
    [
        e.post.id.to_string(),
        thread_of(&e.post).to_string(),
        if e.post.parent.is_some() {
            "返信"
        } else {
            "投稿"
        }
        .to_owned(),
        jst_minutes(e.post.created_at),
        cell(&e.author.name),
        e.author.profession.to_owned(),
        cell(&e.author.organization),
        cell(&e.post.text),
        e.post.attachments.len().to_string(),
        cell(&reactions_line(&e.reactions)),
        e.post.edited_at.map(jst_minutes).unwrap_or_default(),
    ]
}

/// People's text as a cell Excel shows and never evaluates: one starting like a formula
/// (`=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'` (OWASP's advice
/// against CSV injection); anything else is written as it is.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_never_evaluated() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("血圧 132/84"), "血圧 132/84");
    }
}
