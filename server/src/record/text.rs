//! The record as text to paste into a care or medical record (支援経過記録, カルテ): a heading
//! with the patient and the period, then each thread oldest first — the post's time, author,
//! profession and organization, its text, its reactions — with the replies indented under it.

use super::{jst_minutes, reactions_line, Entry, Record};
use std::fmt::Write;

/// The indentation of a reply's lines.
const REPLY_INDENT: &str = "    ";

pub fn render(record: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}　連絡帳の記録（{} 〜 {}）",
        record.subject,
        jst_minutes(record.from),
        jst_minutes(record.to)
    );
    let _ = writeln!(out, "投稿 {} 件", record.posts());
    for thread in &record.threads {
        out.push('\n');
        entry(&mut out, &thread.root, "■ ", "");
        for reply in &thread.replies {
            entry(&mut out, reply, "↳ ", REPLY_INDENT);
        }
    }
    out
}

fn entry(out: &mut String, e: &Entry, mark: &str, indent: &str) {
    let a = &e.author;
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
    let _ = writeln!(
        out,
        "{indent}{mark}{} {}（{}{org}）{edited}",
        jst_minutes(e.post.created_at),
        a.name,
        a.profession
    );
    for line in e.post.text.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
    if !e.post.attachments.is_empty() {
        let _ = writeln!(
            out,
            "{indent}（添付ファイル {} 件）",
            e.post.attachments.len()
        );
    }
    let reactions = reactions_line(&e.reactions);
    if !reactions.is_empty() {
        let _ = writeln!(out, "{indent}［{reactions}］");
    }
}
