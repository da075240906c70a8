//! A patient's record for one's own chart (issue 18): the posts of a room in a period, read
//! from the room's stored document (the source of truth; reactions are not projected), as
//! text to paste into a care or medical record ([`text`]), as CSV for Excel ([`csv`]), as a
//! PDF for printing or filing ([`pdf`]) or as a FHIR R4 Bundle for another system ([`fhir`]).
//! Who may export (members only) and the audit entry are the HTTP handler's
//! (`http/record.rs`).

pub mod csv;
pub mod fhir;
pub mod pdf;
pub mod text;

use crate::db::Db;
use crate::error::{Error, Result};
use renraku_contract::Profession;
use renraku_sync::room::{Post, Reaction, RoomDoc};
use renraku_sync::{DocId, PatientId, PostId, RoomId, UserId};
use std::collections::HashMap;

/// Japan Standard Time: every time in an export is what the care team's clocks showed.
const JST: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+9 is a valid offset"),
};

/// Unix ms as `YYYY-MM-DD HH:MM` in Japan Standard Time.
pub fn jst_minutes(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(JST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// Who wrote a post, as the record names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub profession: &'static str,
    pub organization: String,
}

/// One post of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub post: Post,
    pub author: Author,
    /// Reactions by kind, with the names of who pressed them.
    pub reactions: Vec<(Reaction, Vec<String>)>,
}

/// A thread: its first post and the replies written in the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub root: Entry,
    pub replies: Vec<Entry>,
}

/// What an export holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The patient's name (patient rooms) or the room's title.
    pub subject: String,
    /// The patient of a patient room (the audit entry names them).
    pub patient: Option<PatientId>,
    /// The period asked for (unix ms, inclusive).
    pub from: i64,
    pub to: i64,
    /// Oldest first, as a chart reads.
    pub threads: Vec<Thread>,
}

impl Record {
    pub fn posts(&self) -> usize {
        self.threads.iter().map(|t| 1 + t.replies.len()).sum()
    }
}

/// Reads a room's record for the period `[from, to]`: threads with a post written in it
/// (a thread started earlier appears with its first post and the period's replies).
/// Deleted posts are left out.
pub async fn collect(db: &Db, room: RoomId, from: i64, to: i64) -> Result<Record> {
    if from > to {
        return Err(Error::BadRequest("from: after to".into()));
    }
    let row = db.room(room).await?.ok_or(Error::NotFound)?;
    let subject = match row.patient {
        Some(patient) => db
            .patient(patient)
            .await?
            .map(|p| p.name)
            .unwrap_or(row.title.clone()),
        None => row.title.clone(),
    };
    let doc = load(db, room).await?;
    let in_period = |p: &Post| !p.deleted && p.created_at >= from && p.created_at <= to;
    let mut names: HashMap<UserId, Author> = HashMap::new();
    let mut threads = Vec::new();
    let mut all = doc.threads();
    // Oldest first.
    all.sort_by(|a, b| {
        a.root
            .created_at
            .cmp(&b.root.created_at)
            .then(a.root.id.cmp(&b.root.id))
    });
    for t in all {
        let replies: Vec<Post> = t.replies.iter().filter(|r| in_period(r)).cloned().collect();
        if !in_period(&t.root) && replies.is_empty() || t.root.deleted {
            continue;
        }
        let root = entry(db, &doc, &mut names, t.root).await?;
        let mut entries = Vec::with_capacity(replies.len());
        for reply in replies {
            entries.push(entry(db, &doc, &mut names, reply).await?);
        }
        threads.push(Thread {
            root,
            replies: entries,
        });
    }
    Ok(Record {
        subject,
        patient: row.patient,
        from,
        to,
        threads,
    })
}

/// The room's document as stored (snapshot and log).
async fn load(db: &Db, room: RoomId) -> Result<RoomDoc> {
    let server = db.load_server_doc(DocId::Room(room)).await?;
    let doc = RoomDoc::server_replica();
    doc.apply_update(&server.encode_state())
        .map_err(|e| Error::internal(format!("room/{room}: {e}")))?;
    Ok(doc)
}

async fn author(db: &Db, names: &mut HashMap<UserId, Author>, id: UserId) -> Result<Author> {
    if let Some(a) = names.get(&id) {
        return Ok(a.clone());
    }
    let a = match db.user(id).await? {
        Some(u) => Author {
            name: u.display_name,
            profession: u.profession.japanese(),
            organization: u.organization_name.unwrap_or_default(),
        },
        None => Author {
            name: format!("（利用者 {id}）"),
            profession: Profession::Other.japanese(),
            organization: String::new(),
        },
    };
    names.insert(id, a.clone());
    Ok(a)
}

async fn entry(
    db: &Db,
    doc: &RoomDoc,
    names: &mut HashMap<UserId, Author>,
    post: Post,
) -> Result<Entry> {
    let mut reactions = Vec::new();
    for r in doc.reactions(&post.id) {
        let mut who = Vec::with_capacity(r.users.len());
        for u in r.users {
            who.push(author(db, names, u).await?.name);
        }
        reactions.push((r.kind, who));
    }
    Ok(Entry {
        author: author(db, names, post.author).await?,
        post,
        reactions,
    })
}

/// The reactions of a post in words: `了解: 南 健一、佐藤 花子 / いいね: …`.
pub fn reactions_line(reactions: &[(Reaction, Vec<String>)]) -> String {
    reactions
        .iter()
        .filter(|(_, who)| !who.is_empty())
        .map(|(kind, who)| format!("{}: {}", reaction_label(*kind), who.join("、")))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn reaction_label(kind: Reaction) -> &'static str {
    match kind {
        Reaction::Like => "いいね",
        Reaction::Ack => "了解",
        Reaction::Checked => "確認しました",
    }
}

/// The thread id a post belongs to.
pub fn thread_of(post: &Post) -> &PostId {
    post.parent.as_ref().unwrap_or(&post.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_japan_standard_time() {
        assert_eq!(jst_minutes(0), "1970-01-01 09:00");
        // 2026-12-02 15:30 UTC is the next morning in Japan.
        assert_eq!(jst_minutes(1_796_225_400_000), "2026-12-03 00:30");
    }
}
