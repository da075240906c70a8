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

#[cfg(test)]
mod tests {
    use super::super::{Author, Entry, Record, Thread};
    use renraku_sync::{PatientId, Post, PostId, Reaction, UserId};

    /// The expected text, reviewed by eye: what a care manager pastes into a 支援経過記録.
    /// After an intended change, rewrite it with `RENRAKU_UPDATE_GOLDEN=1 cargo test -p
    /// renraku-server --lib record` and review the diff.
    const GOLDEN: &str = "src/record/golden/record.txt";

    /// 2026-11-05 14:30 JST.
    const NOV_5: i64 = 1_793_856_600_000;
    const HOUR: i64 = 3_600_000;

    fn post(n: u8, text: &str, at: i64, parent: Option<u8>) -> Post {
        let id = |n: u8| PostId::parse(&format!("01JD000000000000000000000{n}")).unwrap();
        Post {
            id: id(n),
            author: UserId::new(i64::from(n)),
            created_at: at,
            text: text.into(),
            parent: parent.map(id),
            attachments: Vec::new(),
            edited_at: None,
            deleted: false,
            ack: None,
            urgent: false,
        }
    }

    fn author(name: &str, profession: &'static str, organization: &str) -> Author {
        Author {
            name: name.into(),
            profession,
            organization: organization.into(),
        }
    }

    fn record() -> Record {
        let nurse = author("佐藤 花子", "看護師", "ひかり訪問看護");
        let doctor = author("南 健一", "医師", "みなみ在宅クリニック");
        let helper = author("渡辺 洋子", "ホームヘルパー", "");
        let mut visit = post(
            1,
            "訪問しました。\n血圧 132/84、SpO2 96%。\n\n食欲あり。",
            NOV_5,
            None,
        );
        visit.attachments = vec!["a1".into(), "a2".into()];
        let mut edited = post(3, "夕方に再訪します。", NOV_5 + 2 * HOUR, Some(1));
        edited.edited_at = Some(NOV_5 + 2 * HOUR + 600_000);
        Record {
            subject: "山田 太郎".into(),
            patient: Some(PatientId::new(7)),
            from: NOV_5 - 24 * HOUR,
            to: NOV_5 + 24 * HOUR,
            threads: vec![
                Thread {
                    root: Entry {
                        post: visit,
                        author: nurse.clone(),
                        reactions: vec![
                            (Reaction::Ack, vec!["南 健一".into(), "渡辺 洋子".into()]),
                            (Reaction::Like, Vec::new()),
                        ],
                    },
                    replies: vec![
                        Entry {
                            post: post(2, "承知しました。解熱剤は継続で。", NOV_5 + HOUR, Some(1)),
                            author: doctor,
                            reactions: Vec::new(),
                        },
                        Entry {
                            post: edited,
                            author: nurse,
                            reactions: vec![(Reaction::Checked, vec!["南 健一".into()])],
                        },
                    ],
                },
                Thread {
                    root: Entry {
                        post: post(4, "明日の買い物は午前に変更です。", NOV_5 + 5 * HOUR, None),
                        author: helper,
                        reactions: Vec::new(),
                    },
                    replies: Vec::new(),
                },
            ],
        }
    }

    #[test]
    fn the_text_export_matches_its_golden_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
        let text = super::render(&record());
        if std::env::var_os("RENRAKU_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &text).expect("writing the golden file");
            return;
        }
        let golden = std::fs::read_to_string(&path).expect("the golden file is checked in");
        assert_eq!(
            text, golden,
            "the text export changed; if intended: RENRAKU_UPDATE_GOLDEN=1 cargo test -p \
             renraku-server --lib record"
        );
    }
}
