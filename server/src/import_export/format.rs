//! The import/export format and its checks. Pure: no I/O, no database.

use crate::db::municipalities::OrganizationKind;
use crate::db::users::{Profession, Role};
use crate::domain::patient;
use renraku_sync::{PostId, Reaction, RoomKind};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The value of the `format` field this version reads and writes.
pub const FORMAT: &str = "renraku/1";

/// A whole data set. Records refer to each other by their `id` (external ids: any
/// non-empty string, unique per kind).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub format: String,
    #[serde(default)]
    pub municipalities: Vec<MunicipalityRec>,
    #[serde(default)]
    pub agreements: Vec<AgreementRec>,
    #[serde(default)]
    pub organizations: Vec<OrganizationRec>,
    #[serde(default)]
    pub users: Vec<UserRec>,
    #[serde(default)]
    pub patients: Vec<PatientRec>,
    #[serde(default)]
    pub rooms: Vec<RoomRec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityRec {
    pub id: String,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub require_second_factor: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementRec {
    pub id: String,
    pub name: String,
    /// Municipality ids.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationRec {
    pub id: String,
    pub municipality: String,
    pub name: String,
    pub kind: OrganizationKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRec {
    pub id: String,
    pub municipality: String,
    #[serde(default)]
    pub organization: Option<String>,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    #[serde(default = "member")]
    pub role: Role,
    #[serde(default)]
    pub disabled: bool,
    /// An argon2id PHC string (`$argon2id$…`). Absent: the account cannot sign in until an
    /// administrator resets its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

fn member() -> Role {
    Role::Member
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientRec {
    pub id: String,
    pub municipality: String,
    pub name: String,
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub care_level: String,
    #[serde(default)]
    pub disaster_flag: bool,
    #[serde(default)]
    pub triage: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomRec {
    pub id: String,
    pub municipality: String,
    pub kind: RoomKind,
    pub title: String,
    /// For patient rooms: the patient's id.
    #[serde(default)]
    pub patient: Option<String>,
    #[serde(default)]
    pub archived: bool,
    /// Unix milliseconds.
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub members: Vec<MemberRec>,
    /// Thread roots before their replies (a reply names its thread root as `parent`).
    #[serde(default)]
    pub posts: Vec<PostRec>,
    #[serde(default)]
    pub reactions: Vec<ReactionRec>,
    #[serde(default)]
    pub pins: Vec<PinRec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRec {
    pub user: String,
    /// `owner` or `member`.
    #[serde(default = "member_role")]
    pub role: String,
}

fn member_role() -> String {
    "member".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostRec {
    /// A ULID (26 characters, Crockford base32), kept as the post's id.
    pub id: PostId,
    pub author: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<PostId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionRec {
    pub post: PostId,
    pub user: String,
    /// `like`, `ack` or `checked`.
    pub kind: Reaction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRec {
    pub post: PostId,
    pub by: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// Why a file cannot be imported, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    /// JSON path of the bad value, e.g. `rooms[2].posts[5].author` (`.` for the whole file).
    pub path: String,
    /// 1-based line and column, when the JSON itself is malformed or mistyped there.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}", self.path)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, " (line {line}, column {column})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ImportError {}

pub(super) fn bad(path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError {
        path: path.into(),
        line: None,
        column: None,
        message: message.into(),
    }
}

/// Reads and checks a data set: JSON syntax and types, then every rule the database would
/// otherwise enforce halfway through an import (unique ids, known references, formats).
pub fn parse(bytes: &[u8]) -> Result<Dataset, ImportError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let dataset: Dataset = match serde_path_to_error::deserialize(&mut de) {
        Ok(d) => d,
        Err(e) => {
            // An error in the top-level object itself (an unknown key, say) has an empty
            // path; the format promises `.` for the whole file.
            let path = match e.path().to_string() {
                p if p.is_empty() => ".".to_owned(),
                p => p,
            };
            let inner = e.into_inner();
            let (line, column) = (inner.line(), inner.column());
            return Err(ImportError {
                path,
                line: (line > 0).then_some(line),
                column: (line > 0).then_some(column),
                message: inner.to_string(),
            });
        }
    };
    if let Err(e) = de.end() {
        return Err(ImportError {
            path: ".".into(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: e.to_string(),
        });
    }
    check(&dataset)?;
    Ok(dataset)
}

/// A name, title or id: the same rule as the API's ([`crate::domain::text::line`]).
fn nonempty(path: String, value: &str, max: usize) -> Result<(), ImportError> {
    crate::domain::text::line(value, max)
        .map(|_| ())
        .map_err(|problem| bad(path, problem.to_string()))
}

/// Ids of one kind, checked unique.
fn ids<'a>(
    kind: &str,
    records: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, ImportError> {
    let mut seen = HashSet::new();
    for (i, id) in records.enumerate() {
        let path = format!("{kind}[{i}].id");
        nonempty(path.clone(), id, 200)?;
        if !seen.insert(id) {
            return Err(bad(path, format!("duplicate id {id:?}")));
        }
    }
    Ok(seen)
}

fn known(set: &HashSet<&str>, path: String, what: &str, id: &str) -> Result<(), ImportError> {
    if set.contains(id) {
        Ok(())
    } else {
        Err(bad(path, format!("unknown {what} {id:?}")))
    }
}

fn check(d: &Dataset) -> Result<(), ImportError> {
    if d.format != FORMAT {
        return Err(bad(
            "format",
            format!("expected {FORMAT:?}, found {:?}", d.format),
        ));
    }
    let municipalities = ids(
        "municipalities",
        d.municipalities.iter().map(|r| r.id.as_str()),
    )?;
    let mut slugs = HashSet::new();
    for (i, m) in d.municipalities.iter().enumerate() {
        let p = format!("municipalities[{i}]");
        let slug_ok = (2..=40).contains(&m.slug.len())
            && m.slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(bad(
                format!("{p}.slug"),
                "2–40 lower-case letters, digits or '-'",
            ));
        }
        if !slugs.insert(m.slug.as_str()) {
            return Err(bad(format!("{p}.slug"), "duplicate slug"));
        }
        nonempty(format!("{p}.name"), &m.name, 100)?;
    }
    ids("agreements", d.agreements.iter().map(|r| r.id.as_str()))?;
    for (i, a) in d.agreements.iter().enumerate() {
        nonempty(format!("agreements[{i}].name"), &a.name, 100)?;
        for (j, m) in a.members.iter().enumerate() {
            known(
                &municipalities,
                format!("agreements[{i}].members[{j}]"),
                "municipality",
                m,
            )?;
        }
    }
    let organizations = ids(
        "organizations",
        d.organizations.iter().map(|r| r.id.as_str()),
    )?;
    let org_home: HashMap<&str, &str> = d
        .organizations
        .iter()
        .map(|o| (o.id.as_str(), o.municipality.as_str()))
        .collect();
    for (i, o) in d.organizations.iter().enumerate() {
        let p = format!("organizations[{i}]");
        known(
            &municipalities,
            format!("{p}.municipality"),
            "municipality",
            &o.municipality,
        )?;
        nonempty(format!("{p}.name"), &o.name, 100)?;
    }
    let users = ids("users", d.users.iter().map(|r| r.id.as_str()))?;
    let mut logins = HashSet::new();
    for (i, u) in d.users.iter().enumerate() {
        let p = format!("users[{i}]");
        known(
            &municipalities,
            format!("{p}.municipality"),
            "municipality",
            &u.municipality,
        )?;
        if let Some(o) = &u.organization {
            known(
                &organizations,
                format!("{p}.organization"),
                "organization",
                o,
            )?;
            if org_home.get(o.as_str()) != Some(&u.municipality.as_str()) {
                return Err(bad(
                    format!("{p}.organization"),
                    "the organization belongs to another municipality",
                ));
            }
        }
        let login_ok = (1..=64).contains(&u.login_id.len())
            && u.login_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
        if !login_ok {
            return Err(bad(
                format!("{p}.login_id"),
                "1–64 ASCII letters, digits or . _ - @",
            ));
        }
        if !logins.insert((u.municipality.as_str(), u.login_id.as_str())) {
            return Err(bad(
                format!("{p}.login_id"),
                "duplicate login id in the municipality",
            ));
        }
        nonempty(format!("{p}.display_name"), &u.display_name, 100)?;
        nonempty(format!("{p}.display_name_kana"), &u.display_name_kana, 100)?;
        if let Some(hash) = &u.password_hash {
            if !hash.starts_with("$argon2") || hash.len() > 500 {
                return Err(bad(
                    format!("{p}.password_hash"),
                    "not an argon2 PHC string",
                ));
            }
        }
    }
    let patients = ids("patients", d.patients.iter().map(|r| r.id.as_str()))?;
    let patient_home: HashMap<&str, &str> = d
        .patients
        .iter()
        .map(|p| (p.id.as_str(), p.municipality.as_str()))
        .collect();
    for (i, pt) in d.patients.iter().enumerate() {
        let p = format!("patients[{i}]");
        known(
            &municipalities,
            format!("{p}.municipality"),
            "municipality",
            &pt.municipality,
        )?;
        // The admin API's rules for a patient's fields.
        let field = |name: &str, checked: Result<&str, crate::domain::text::Problem>| {
            checked
                .map(|_| ())
                .map_err(|problem| bad(format!("{p}.{name}"), problem.to_string()))
        };
        field("name", patient::name(&pt.name))?;
        field("name_kana", patient::name_kana(&pt.name_kana))?;
        field("address", patient::address(&pt.address))?;
        field("care_level", patient::care_level(&pt.care_level))?;
        if !patient::birth_date_is_valid(&pt.birth_date) {
            return Err(bad(format!("{p}.birth_date"), "expected YYYY-MM-DD"));
        }
        if !patient::triage_is_valid(pt.triage.as_deref()) {
            return Err(bad(format!("{p}.triage"), "red, yellow, green or black"));
        }
    }
    ids("rooms", d.rooms.iter().map(|r| r.id.as_str()))?;
    for (i, r) in d.rooms.iter().enumerate() {
        check_room(
            &format!("rooms[{i}]"),
            r,
            &municipalities,
            &users,
            &patient_home,
            &patients,
        )?;
    }
    Ok(())
}

fn check_room(
    p: &str,
    r: &RoomRec,
    municipalities: &HashSet<&str>,
    users: &HashSet<&str>,
    patient_home: &HashMap<&str, &str>,
    patients: &HashSet<&str>,
) -> Result<(), ImportError> {
    known(
        municipalities,
        format!("{p}.municipality"),
        "municipality",
        &r.municipality,
    )?;
    nonempty(format!("{p}.title"), &r.title, 200)?;
    match (r.kind, &r.patient) {
        (RoomKind::Patient, Some(pt)) => {
            known(patients, format!("{p}.patient"), "patient", pt)?;
            if patient_home.get(pt.as_str()) != Some(&r.municipality.as_str()) {
                return Err(bad(
                    format!("{p}.patient"),
                    "the patient belongs to another municipality",
                ));
            }
        }
        (RoomKind::Patient, None) => {
            return Err(bad(
                format!("{p}.patient"),
                "a patient room needs its patient",
            ))
        }
        (_, Some(_)) => {
            return Err(bad(
                format!("{p}.patient"),
                "only patient rooms have a patient",
            ))
        }
        (_, None) => {}
    }
    let mut members = HashSet::new();
    for (j, m) in r.members.iter().enumerate() {
        let mp = format!("{p}.members[{j}]");
        known(users, format!("{mp}.user"), "user", &m.user)?;
        if !matches!(m.role.as_str(), "owner" | "member") {
            return Err(bad(format!("{mp}.role"), "owner or member"));
        }
        if !members.insert(m.user.as_str()) {
            return Err(bad(format!("{mp}.user"), "listed twice"));
        }
    }
    let mut posts: HashMap<&PostId, bool> = HashMap::new();
    for (j, post) in r.posts.iter().enumerate() {
        let pp = format!("{p}.posts[{j}]");
        known(users, format!("{pp}.author"), "user", &post.author)?;
        if post.text.len() > 100_000 {
            return Err(bad(format!("{pp}.text"), "longer than 100,000 bytes"));
        }
        if let Some(parent) = &post.parent {
            match posts.get(parent) {
                Some(true) => {}
                Some(false) => {
                    return Err(bad(
                        format!("{pp}.parent"),
                        "a reply names its thread root, not another reply",
                    ))
                }
                None => {
                    return Err(bad(
                        format!("{pp}.parent"),
                        "no earlier post with this id in the room",
                    ))
                }
            }
        }
        if posts.insert(&post.id, post.parent.is_none()).is_some() {
            return Err(bad(format!("{pp}.id"), "duplicate post id"));
        }
    }
    let mut reacted = HashSet::new();
    for (j, reaction) in r.reactions.iter().enumerate() {
        let rp = format!("{p}.reactions[{j}]");
        if !posts.contains_key(&reaction.post) {
            return Err(bad(
                format!("{rp}.post"),
                "no post with this id in the room",
            ));
        }
        known(users, format!("{rp}.user"), "user", &reaction.user)?;
        if !reacted.insert((&reaction.post, reaction.user.as_str())) {
            return Err(bad(rp, "one reaction per user and post"));
        }
    }
    let mut pinned = HashSet::new();
    for (j, pin) in r.pins.iter().enumerate() {
        let pp = format!("{p}.pins[{j}]");
        if !posts.contains_key(&pin.post) {
            return Err(bad(
                format!("{pp}.post"),
                "no post with this id in the room",
            ));
        }
        known(users, format!("{pp}.by"), "user", &pin.by)?;
        if !pinned.insert(&pin.post) {
            return Err(bad(format!("{pp}.post"), "pinned twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_line_and_type_errors_the_path() {
        let e = parse(b"{\n  \"format\": \"renraku/1\",\n  \"users\": [ ,\n]}").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse(
            br#"{"format": "renraku/1", "municipalities": [{"id": "m", "slug": "aa", "name": 5}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "municipalities[0].name", "{e}");
        // Found by the import_parser fuzz target: an unknown top-level key had no path.
        let e = parse(b"{\n  \"\": 1}").unwrap_err();
        assert_eq!((e.path.as_str(), e.line), (".", Some(2)), "{e}");
    }

    #[test]
    fn references_are_checked_before_anything_is_written() {
        let e = parse(
            br#"{"format": "renraku/1",
            "municipalities": [{"id": "m", "slug": "aa", "name": "A"}],
            "rooms": [{"id": "r", "municipality": "m", "kind": "project", "title": "t",
                       "members": [{"user": "ghost"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "rooms[0].members[0].user", "{e}");
        assert!(e.message.contains("ghost"));
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"{"format": "other/9"}"#).is_err());
        assert_eq!(
            parse(br#"{"format": "renraku/1"}"#).unwrap(),
            Dataset {
                format: FORMAT.into(),
                ..Dataset::default()
            }
        );
    }
}
