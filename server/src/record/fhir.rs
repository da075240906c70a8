//! The record as a FHIR R4 (4.0.1) Bundle of type `collection`, for an electronic health
//! record or another system that reads FHIR: the Patient, the room's care team (CareTeam,
//! with a Practitioner and a PractitionerRole per person and an Organization per
//! organization), each post a Communication (replies `inResponseTo` their thread's first
//! post, files as Attachments), and each acknowledgement request (要確認) a
//! CommunicationRequest `about` its post. The mapping, the profession code system and what is
//! left out are in `docs/fhir-export.md`.
//!
//! Every entry's `fullUrl` is a `urn:uuid:` made (UUID v5, URL namespace) from the URL of
//! what it stands for on this server, so exporting the same record twice gives the same ids,
//! and references between entries stay inside the Bundle.

use super::{Entry, Record};
use crate::db::attachments::AttachmentMeta;
use crate::db::rooms::RoomRow;
use crate::db::users::UserRow;
use crate::db::Db;
use crate::error::{Error, Result};
use renraku_contract::{Member, Patient, Profession};
use renraku_sync::{AckStatus, OrganizationId, PostId, RoomId, UserId};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The media type of the answer (FHIR's, with the version of the specification it follows).
pub const CONTENT_TYPE: &str = "application/fhir+json; fhirVersion=4.0";

/// Renraku's own code system for a professional's profession (PractitionerRole.code,
/// CareTeam.participant.role): the codes are [`Profession::as_str`], the displays
/// [`Profession::japanese`]. Listed in `docs/fhir-export.md`.
pub const PROFESSION_SYSTEM: &str = "urn:renraku:profession";

/// HL7's extension JP Core uses to tell a name in kanji (`IDE`) from its reading in kana
/// (`SYL`).
const NAME_REPRESENTATION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// Everything besides the posts that the Bundle needs, read from the database.
#[derive(Clone, Debug)]
pub struct Sources {
    /// Where people reach this server (no trailing `/`): identifiers' systems and the files'
    /// URLs start with it, and the entries' UUIDs are made from it.
    pub base: String,
    pub room: RoomRow,
    pub patient: Option<Patient>,
    /// The room's members now: the care team.
    pub members: Vec<Member>,
    /// Everyone the Bundle names (members, authors, people asked or acknowledging); `None`
    /// for an account no longer in the database.
    pub people: BTreeMap<UserId, Option<UserRow>>,
    /// The room's attachments by id.
    pub attachments: HashMap<String, AttachmentMeta>,
    /// The standing of each exported post's acknowledgement request.
    pub requests: HashMap<PostId, AckStatus>,
    /// When the export was made (unix ms): the Bundle's timestamp.
    pub now_ms: i64,
}

/// Reads what [`render`] needs for `record` of `room`.
pub async fn gather(
    db: &Db,
    room: RoomId,
    record: &Record,
    base: String,
    now_ms: i64,
) -> Result<Sources> {
    let row = db.room(room).await?.ok_or(Error::NotFound)?;
    let patient = match row.patient {
        Some(p) => db.patient(p).await?,
        None => None,
    };
    let members = db.members(room).await?;
    let doc = super::load(db, room).await?;
    let mut requests = HashMap::new();
    for e in entries(record) {
        if let Some(status) = doc.ack_status(&e.post.id, members.iter().map(|m| m.user)) {
            requests.insert(e.post.id.clone(), status);
        }
    }
    let mut wanted: Vec<UserId> = members.iter().map(|m| m.user).collect();
    wanted.extend(entries(record).map(|e| e.post.author));
    for status in requests.values() {
        wanted.extend(status.acked.iter().map(|a| a.user));
        wanted.extend(status.missing.iter().copied());
    }
    wanted.sort();
    wanted.dedup();
    let mut people = BTreeMap::new();
    for id in wanted {
        people.insert(id, db.user(id).await?);
    }
    let attachments = db
        .room_attachments(room)
        .await?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    Ok(Sources {
        base,
        room: row,
        patient,
        members,
        people,
        attachments,
        requests,
        now_ms,
    })
}

/// Every post of the record, each thread's first post before its replies.
fn entries(record: &Record) -> impl Iterator<Item = &Entry> {
    record
        .threads
        .iter()
        .flat_map(|t| std::iter::once(&t.root).chain(t.replies.iter()))
}

/// The Bundle as JSON.
pub fn render(record: &Record, s: &Sources) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(&ResourceTypeFirst(&bundle(record, s)))
        .map_err(|e| Error::internal(format!("writing FHIR JSON: {e}")))
}

/// A JSON value written with each object's `resourceType` first, as FHIR's JSON format
/// recommends (readers and stream parsers tell a resource by it); the other members keep
/// serde_json's (alphabetical) order.
struct ResourceTypeFirst<'a>(&'a Value);

impl serde::Serialize for ResourceTypeFirst<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                if let Some(kind) = members.get("resourceType") {
                    map.serialize_entry("resourceType", kind)?;
                }
                for (key, value) in members.iter().filter(|(k, _)| *k != "resourceType") {
                    map.serialize_entry(key, &ResourceTypeFirst(value))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&ResourceTypeFirst(item))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Names of the Bundle's entries: a `urn:uuid:` from the URL of what each stands for, and
/// identifier systems under this server's URL.
struct Ids<'a> {
    base: &'a str,
    room: RoomId,
}

impl Ids<'_> {
    fn urn(&self, path: &str) -> String {
        let url = format!("{}/{path}", self.base);
        format!(
            "urn:uuid:{}",
            Uuid::new_v5(&Uuid::NAMESPACE_URL, url.as_bytes())
        )
    }

    fn patient(&self, p: &Patient) -> String {
        self.urn(&format!("patients/{}", p.id))
    }

    fn practitioner(&self, u: UserId) -> String {
        self.urn(&format!("users/{u}"))
    }

    fn role(&self, u: UserId) -> String {
        self.urn(&format!("users/{u}/role"))
    }

    fn organization(&self, o: OrganizationId) -> String {
        self.urn(&format!("organizations/{o}"))
    }

    fn care_team(&self) -> String {
        self.urn(&format!("rooms/{}/care-team", self.room))
    }

    fn communication(&self, post: &PostId) -> String {
        self.urn(&format!("rooms/{}/posts/{post}", self.room))
    }

    fn request(&self, post: &PostId) -> String {
        self.urn(&format!("rooms/{}/posts/{post}/ack-request", self.room))
    }

    /// An Identifier in one of this server's namespaces (`patients`, `users`, `posts`, …).
    fn identifier(&self, kind: &str, value: impl std::fmt::Display) -> Value {
        json!({ "system": format!("{}/{kind}", self.base), "value": value.to_string() })
    }
}

fn entry(full_url: String, resource: Value) -> Value {
    json!({ "fullUrl": full_url, "resource": resource })
}

fn reference(to: String, display: &str) -> Value {
    json!({ "reference": to, "display": display })
}

fn bundle(record: &Record, s: &Sources) -> Value {
    let ids = Ids {
        base: &s.base,
        room: s.room.id,
    };
    let mut out = Vec::new();
    let patient_ref = s.patient.as_ref().map(|p| {
        out.push(entry(ids.patient(p), patient(&ids, p)));
        reference(ids.patient(p), &p.name)
    });
    out.push(entry(ids.care_team(), care_team(&ids, s, &patient_ref)));

    // Organizations, then each person and their role in it.
    let mut organizations = BTreeMap::new();
    for u in s.people.values().flatten() {
        if let (Some(id), Some(name)) = (u.organization, &u.organization_name) {
            organizations.insert(id, name.clone());
        }
    }
    for (id, name) in &organizations {
        out.push(entry(
            ids.organization(*id),
            json!({
                "resourceType": "Organization",
                "identifier": [ids.identifier("organizations", id)],
                "active": true,
                "name": name,
            }),
        ));
    }
    for (id, row) in &s.people {
        out.push(entry(ids.practitioner(*id), practitioner(&ids, *id, row)));
    }
    for (id, row) in &s.people {
        out.push(entry(ids.role(*id), practitioner_role(&ids, *id, row)));
    }

    let team_ref = reference(ids.care_team(), &s.room.title);
    for e in entries(record) {
        out.push(entry(
            ids.communication(&e.post.id),
            communication(&ids, s, e, &patient_ref, &team_ref),
        ));
        if let Some(status) = s.requests.get(&e.post.id) {
            out.push(entry(
                ids.request(&e.post.id),
                communication_request(&ids, s, e, status, &patient_ref),
            ));
        }
    }

    json!({
        "resourceType": "Bundle",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": ids.urn(&format!(
                "rooms/{}/record?from={}&to={}&at={}",
                s.room.id, record.from, record.to, s.now_ms
            )),
        },
        "type": "collection",
        "timestamp": date_time(s.now_ms),
        "entry": out,
    })
}

fn patient(ids: &Ids, p: &Patient) -> Value {
    let mut r = json!({
        "resourceType": "Patient",
        "identifier": [ids.identifier("patients", p.id)],
        "name": names(&p.name, &p.name_kana),
    });
    if is_calendar_date(&p.birth_date) {
        r["birthDate"] = json!(p.birth_date);
    }
    if !p.address.is_empty() {
        r["address"] = json!([{ "use": "home", "text": p.address, "country": "JP" }]);
    }
    r
}

/// Whether `date` is `YYYY-MM-DD` and a day that exists: the stored form is checked only for
/// its shape (1940-02-31 passes), and a FHIR reader refuses a day that never was.
fn is_calendar_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (
        date[..4].parse::<i32>(),
        date[5..7].parse::<u8>(),
        date[8..].parse::<u8>(),
    ) else {
        return false;
    };
    time::Month::try_from(m)
        .and_then(|m| time::Date::from_calendar_date(y, m, d))
        .is_ok()
}

/// A person's name in kanji and its reading in kana, as JP Core writes them: two HumanNames
/// told apart by the ISO 21090 representation extension, split into family and given name
/// where the name has exactly one space between them (南 健一).
fn names(name: &str, kana: &str) -> Value {
    let mut out = vec![human_name(name, "IDE")];
    if !kana.trim().is_empty() && kana != name {
        out.push(human_name(kana, "SYL"));
    }
    Value::Array(out)
}

fn human_name(name: &str, representation: &str) -> Value {
    let mut n = json!({
        "extension": [{ "url": NAME_REPRESENTATION, "valueCode": representation }],
        "use": "official",
        "text": name,
    });
    let parts: Vec<&str> = name
        .split([' ', '\u{3000}'])
        .filter(|p| !p.is_empty())
        .collect();
    if let [family, given] = parts[..] {
        n["family"] = json!(family);
        n["given"] = json!([given]);
    }
    n
}

fn profession(p: Profession) -> Value {
    json!({
        "coding": [{ "system": PROFESSION_SYSTEM, "code": p.as_str(), "display": p.japanese() }],
        "text": p.japanese(),
    })
}

/// A name for an account the database no longer has (as the text export writes it).
fn unknown_name(id: UserId) -> String {
    format!("（利用者 {id}）")
}

fn display_name(id: UserId, row: &Option<UserRow>) -> String {
    row.as_ref()
        .map(|u| u.display_name.clone())
        .unwrap_or_else(|| unknown_name(id))
}

fn person_name(s: &Sources, id: UserId) -> String {
    display_name(id, s.people.get(&id).unwrap_or(&None))
}

fn practitioner(ids: &Ids, id: UserId, row: &Option<UserRow>) -> Value {
    let name = match row {
        Some(u) => names(&u.display_name, &u.display_name_kana),
        None => json!([{ "text": unknown_name(id) }]),
    };
    json!({
        "resourceType": "Practitioner",
        "identifier": [ids.identifier("users", id)],
        "active": row.as_ref().map(|u| !u.disabled).unwrap_or(false),
        "name": name,
    })
}

fn practitioner_role(ids: &Ids, id: UserId, row: &Option<UserRow>) -> Value {
    let name = display_name(id, row);
    let mut r = json!({
        "resourceType": "PractitionerRole",
        "active": row.as_ref().map(|u| !u.disabled).unwrap_or(false),
        "practitioner": reference(ids.practitioner(id), &name),
        "code": [profession(row.as_ref().map(|u| u.profession).unwrap_or(Profession::Other))],
    });
    if let Some(UserRow {
        organization: Some(org),
        organization_name: Some(org_name),
        ..
    }) = row
    {
        r["organization"] = reference(ids.organization(*org), org_name);
    }
    r
}

fn care_team(ids: &Ids, s: &Sources, patient: &Option<Value>) -> Value {
    let participants: Vec<Value> = s
        .members
        .iter()
        .map(|m| {
            let mut p = json!({
                "role": [profession(m.profession)],
                "member": reference(ids.role(m.user), &m.display_name),
                "period": { "start": date_time(m.added_at) },
            });
            if let Some(Some(UserRow {
                organization: Some(org),
                organization_name: Some(name),
                ..
            })) = s.people.get(&m.user)
            {
                p["onBehalfOf"] = reference(ids.organization(*org), name);
            }
            p
        })
        .collect();
    let mut r = json!({
        "resourceType": "CareTeam",
        "identifier": [ids.identifier("rooms", s.room.id)],
        "status": if s.room.archived { "inactive" } else { "active" },
        "name": s.room.title,
        "period": { "start": date_time(s.room.created_at) },
    });
    if !participants.is_empty() {
        r["participant"] = Value::Array(participants);
    }
    if let Some(patient) = patient {
        r["subject"] = patient.clone();
    }
    r
}

fn communication(
    ids: &Ids,
    s: &Sources,
    e: &Entry,
    patient: &Option<Value>,
    team: &Value,
) -> Value {
    let post = &e.post;
    let mut payload = Vec::new();
    if !post.text.is_empty() {
        payload.push(json!({ "contentString": post.text }));
    }
    for id in &post.attachments {
        payload.push(json!({ "contentAttachment": attachment(s, id) }));
    }
    let mut r = json!({
        "resourceType": "Communication",
        "identifier": [ids.identifier("posts", &post.id)],
        "status": "completed",
        "priority": if post.urgent { "urgent" } else { "routine" },
        "recipient": [team],
        "sent": date_time(post.created_at),
        "sender": reference(ids.role(post.author), &e.author.name),
    });
    // FHIR JSON has no empty arrays: a post of neither text nor files has no payload.
    if !payload.is_empty() {
        r["payload"] = Value::Array(payload);
    }
    if let Some(edited) = post.edited_at {
        // The post as exported is its edited text.
        r["meta"] = json!({ "lastUpdated": date_time(edited) });
    }
    if let Some(root) = &post.parent {
        r["inResponseTo"] = json!([{ "reference": ids.communication(root) }]);
    }
    if let Some(patient) = patient {
        r["subject"] = patient.clone();
    }
    r
}

/// A post's file: what it is, how big, its name, and where a member downloads it. A file
/// still on its way from a phone (no row yet) has only its URL.
fn attachment(s: &Sources, id: &str) -> Value {
    let url = format!("{}/api/attachments/{id}", s.base);
    match s.attachments.get(id) {
        Some(a) => json!({
            "contentType": a.mime,
            "url": url,
            "size": a.size,
            "title": a.name,
            "creation": date_time(a.created_at),
        }),
        None => json!({ "url": url }),
    }
}

fn communication_request(
    ids: &Ids,
    s: &Sources,
    e: &Entry,
    status: &AckStatus,
    patient: &Option<Value>,
) -> Value {
    let post = &e.post;
    let mut asked: Vec<UserId> = status.acked.iter().map(|a| a.user).collect();
    asked.extend(status.missing.iter().copied());
    asked.sort();
    let notes: Vec<Value> = status
        .acked
        .iter()
        .map(|a| {
            json!({
                "authorReference": reference(ids.practitioner(a.user), &person_name(s, a.user)),
                "time": date_time(a.at),
                "text": "確認しました",
            })
        })
        .collect();
    let mut r = json!({
        "resourceType": "CommunicationRequest",
        "identifier": [ids.identifier("ack-requests", &post.id)],
        "status": if status.complete() { "completed" } else { "active" },
        "category": [{ "text": "要確認" }],
        "priority": if post.urgent { "urgent" } else { "routine" },
        "about": [{ "reference": ids.communication(&post.id) }],
        "authoredOn": date_time(post.created_at),
        "requester": reference(ids.role(post.author), &e.author.name),
    });
    // Nobody, for a request to everyone in a room of one.
    if !asked.is_empty() {
        r["recipient"] = asked
            .iter()
            .map(|u| reference(ids.role(*u), &person_name(s, *u)))
            .collect();
    }
    if let Some(due) = status.request.due {
        r["occurrenceDateTime"] = json!(date_time(due));
    }
    if !notes.is_empty() {
        r["note"] = Value::Array(notes);
    }
    if let Some(patient) = patient {
        r["subject"] = patient.clone();
    }
    r
}

/// Unix ms as a FHIR `dateTime` (and `instant`) in Japan Standard Time, to the second:
/// `2026-11-05T14:30:00+09:00`.
pub fn date_time(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(super::JST);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+09:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fhir_date_times_in_japan() {
        assert_eq!(date_time(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(date_time(1_796_225_400_000), "2026-12-03T00:30:00+09:00");
    }

    #[test]
    fn ids_are_the_same_for_the_same_thing_on_the_same_server() {
        let ids = |base| Ids {
            base,
            room: RoomId::new(7),
        };
        let a = ids("https://renraku.example.jp");
        assert_eq!(
            a.practitioner(UserId::new(3)),
            a.practitioner(UserId::new(3))
        );
        assert_ne!(a.practitioner(UserId::new(3)), a.role(UserId::new(3)));
        assert_ne!(
            a.practitioner(UserId::new(3)),
            ids("https://other.example.jp").practitioner(UserId::new(3))
        );
        assert!(a.care_team().starts_with("urn:uuid:"));
        // Name-based (v5, URL namespace) on the URL of what it stands for.
        let u = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://renraku.example.jp/users/3");
        assert_eq!(a.practitioner(UserId::new(3)), format!("urn:uuid:{u}"));
    }

    #[test]
    fn names_are_kanji_then_kana_split_at_the_space() {
        let n = names("南 健一", "みなみ　けんいち");
        assert_eq!(n[0]["family"], "南");
        assert_eq!(n[0]["given"][0], "健一");
        assert_eq!(n[0]["extension"][0]["valueCode"], "IDE");
        assert_eq!(n[1]["family"], "みなみ");
        assert_eq!(n[1]["extension"][0]["valueCode"], "SYL");
        // No space, no split; the same text as kana is not repeated.
        let n = names("ひまわり", "ひまわり");
        assert_eq!(n.as_array().unwrap().len(), 1);
        assert!(n[0].get("family").is_none());
    }

    #[test]
    fn resource_type_comes_first() {
        let v = json!({ "entry": [{ "resource": { "active": true, "resourceType": "Patient" } }],
            "resourceType": "Bundle" });
        let text = serde_json::to_string(&ResourceTypeFirst(&v)).unwrap();
        assert_eq!(
            text,
            r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","active":true}}]}"#
        );
    }

    #[test]
    fn only_real_days_are_birth_dates() {
        assert!(is_calendar_date("1938-04-01"));
        assert!(is_calendar_date("2024-02-29"));
        assert!(!is_calendar_date("1940-02-31"));
        assert!(!is_calendar_date("1940-4-1"));
        assert!(!is_calendar_date(""));
    }
}
