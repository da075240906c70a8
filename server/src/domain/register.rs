//! 要援護者名簿 (issue 16): who sees which entry, who may change what, and what an entry may
//! hold. Every entry point (the register API, later the CSV import) asks these; the HTTP
//! handlers only gather the facts (`server/src/http/register.rs`).
//!
//! Who sees what, for a municipality `R`'s register:
//! - `R`'s administrators and the staff they designated as register editors manage it: every
//!   entry, retired ones too;
//! - `R`'s designated responders see, in normal times, the entries whose person consented to
//!   sharing (同意), and during 災害モード every current entry;
//! - during 災害モード, the responders of a partner municipality that `R` granted access (and
//!   that still shares a wide-area agreement with `R`, `domain/tenancy.rs`) see every current
//!   entry; outside it, or ungranted, nothing;
//! - a member of a person's linked patient room sees that person when they consented;
//! - everyone else sees nothing, and an entry they cannot see is "not found".

use super::tenancy::{may_join, Agreements};
use super::text::{self, Problem};
use renraku_contract::{
    LabelColour, NewRegisterPerson, NewSafetyMark, RegisterContact, RegisterScope,
    REGISTER_ADDRESS_MAX, REGISTER_DETAIL_MAX, REGISTER_LIST_MAX, REGISTER_NAME_MAX,
    REGISTER_NOTES_MAX, REGISTER_SHORT_MAX, SAFETY_MARK_ID_MAX,
};

/// The asking user's standing in their own municipality's register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing<M> {
    pub home: M,
    /// A municipality (or system) administrator of `home`.
    pub admin: bool,
    /// Designated a register editor of `home`.
    pub editor: bool,
    /// Designated a responder of `home`.
    pub responder: bool,
}

impl<M: PartialEq> Standing<M> {
    /// May create, edit and retire `m`'s entries, change its legend and designate responders.
    pub fn edits(&self, m: &M) -> bool {
        self.home == *m && (self.admin || self.editor)
    }

    /// May designate `m`'s register editors, declare and end 災害モード, and grant partners.
    pub fn administers(&self, m: &M) -> bool {
        self.home == *m && self.admin
    }
}

/// 災害モード in force in the register's municipality, as far as access goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InForce<M> {
    /// Partner municipalities granted access for this disaster.
    pub partners: Vec<M>,
}

/// How much of municipality `m`'s register `who` sees.
pub fn scope<M: PartialEq>(
    who: &Standing<M>,
    m: &M,
    disaster: Option<&InForce<M>>,
    agreements: &Agreements<M>,
) -> RegisterScope {
    if who.edits(m) {
        return RegisterScope::Manage;
    }
    if !who.responder {
        return RegisterScope::Nothing;
    }
    if who.home == *m {
        return match disaster {
            Some(_) => RegisterScope::Everyone,
            None => RegisterScope::Consented,
        };
    }
    match disaster {
        Some(d) if d.partners.contains(&who.home) && may_join(m, &who.home, agreements) => {
            RegisterScope::Everyone
        }
        _ => RegisterScope::Nothing,
    }
}

/// What the visibility rule needs of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryFacts {
    pub consent: bool,
    pub retired: bool,
    /// The asker is a member of the person's linked patient room.
    pub in_linked_room: bool,
}

/// Whether a user with `scope` sees the entry.
pub fn sees(scope: RegisterScope, entry: EntryFacts) -> bool {
    match scope {
        RegisterScope::Manage => true,
        _ if entry.retired => false,
        RegisterScope::Everyone => true,
        RegisterScope::Consented => entry.consent,
        RegisterScope::Nothing => entry.consent && entry.in_linked_room,
    }
}

/// Whether `who` may record a safety mark on an entry they see under `scope`: a responder,
/// during 災害モード, on a current entry. (A manager who is not also a responder does not
/// mark: the check is the responders' work, and the history names who reached the person.)
pub fn may_mark(
    who_is_responder: bool,
    scope: RegisterScope,
    disaster: bool,
    retired: bool,
) -> bool {
    who_is_responder && disaster && !retired && scope != RegisterScope::Nothing
}

/// The legend's meaning of a colour a municipality has not set.
pub fn default_meaning(label: LabelColour) -> &'static str {
    match label {
        LabelColour::Red => "医療依存度が高い（人工呼吸器・在宅酸素・透析など）",
        LabelColour::Yellow => "避難に介助が必要",
        LabelColour::Blue => "見守り・声かけが必要",
    }
}

/// One refused field of an entry: its name (the JSON field, or `reasons[2].detail`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

/// Coordinates are kept as integers of 10⁻⁷ degree (the storage passes only integers).
pub const DEGREE_UNITS: f64 = 10_000_000.0;

/// An entry's fields, trimmed, or every problem with them (not just the first: an import
/// lists them all by row and column). The linked room is checked against the database by
/// the caller (a patient room of the same municipality).
pub fn check_person(p: &NewRegisterPerson) -> Result<NewRegisterPerson, Vec<FieldProblem>> {
    let mut c = Problems::default();
    let external_id = match p.external_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(c.keep("external_id", text::line(v, REGISTER_SHORT_MAX))),
    };
    let name = c.keep("name", text::line(&p.name, REGISTER_NAME_MAX));
    let kana = c.keep("kana", text::line(&p.kana, REGISTER_NAME_MAX));
    let address = c.keep(
        "address",
        text::optional_line(&p.address, REGISTER_ADDRESS_MAX),
    );
    let area = c.keep("area", text::optional_line(&p.area, REGISTER_SHORT_MAX));
    let phone = c.keep("phone", text::optional_line(&p.phone, REGISTER_SHORT_MAX));
    let notes = c.keep("notes", optional_paragraph(&p.notes, REGISTER_NOTES_MAX));
    let reasons = p
        .reasons
        .iter()
        .enumerate()
        .map(|(i, r)| renraku_contract::Reason {
            kind: r.kind,
            detail: c.keep(
                &format!("reasons[{i}].detail"),
                text::optional_line(&r.detail, REGISTER_DETAIL_MAX),
            ),
        })
        .collect();
    let emergency_contacts = c.contacts("emergency_contacts", &p.emergency_contacts);
    let helpers = c.contacts("helpers", &p.helpers);
    for (field, n) in [
        ("reasons", p.reasons.len()),
        ("emergency_contacts", p.emergency_contacts.len()),
        ("helpers", p.helpers.len()),
    ] {
        if n > REGISTER_LIST_MAX {
            c.add(field, format!("has more than {REGISTER_LIST_MAX} items"));
        }
    }
    let birth_date = match p.birth_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if calendar_date(d) => Some(d.to_owned()),
        Some(_) => {
            c.add("birth_date", "is not a date YYYY-MM-DD".into());
            None
        }
    };
    if let Some(l) = p.location {
        if !(l.latitude.is_finite() && (-90.0..=90.0).contains(&l.latitude)) {
            c.add("location.latitude", "is not between -90 and 90".into());
        }
        if !(l.longitude.is_finite() && (-180.0..=180.0).contains(&l.longitude)) {
            c.add("location.longitude", "is not between -180 and 180".into());
        }
    }
    if !c.0.is_empty() {
        return Err(c.0);
    }
    Ok(NewRegisterPerson {
        external_id,
        name,
        kana,
        birth_date,
        sex: p.sex,
        address,
        area,
        phone,
        household: p.household,
        reasons,
        emergency_contacts,
        helpers,
        consent: p.consent,
        location: p.location.map(|l| renraku_contract::Location {
            latitude: (l.latitude * DEGREE_UNITS).round() / DEGREE_UNITS,
            longitude: (l.longitude * DEGREE_UNITS).round() / DEGREE_UNITS,
        }),
        label: p.label,
        room: p.room,
        notes,
    })
}

/// Every problem found so far.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, field: &str, problem: String) {
        self.0.push(FieldProblem {
            field: field.to_owned(),
            problem,
        });
    }

    /// The value if it passed, else notes the problem (and an empty value stands in).
    fn keep(&mut self, field: &str, r: Result<&str, Problem>) -> String {
        match r {
            Ok(v) => v.to_owned(),
            Err(problem) => {
                self.add(field, problem.to_string());
                String::new()
            }
        }
    }

    fn contacts(&mut self, field: &str, list: &[RegisterContact]) -> Vec<RegisterContact> {
        list.iter()
            .enumerate()
            .map(|(i, c)| RegisterContact {
                name: self.keep(
                    &format!("{field}[{i}].name"),
                    text::line(&c.name, REGISTER_NAME_MAX),
                ),
                relation: self.keep(
                    &format!("{field}[{i}].relation"),
                    text::optional_line(&c.relation, REGISTER_SHORT_MAX),
                ),
                phone: self.keep(
                    &format!("{field}[{i}].phone"),
                    text::optional_line(&c.phone, REGISTER_SHORT_MAX),
                ),
            })
            .collect()
    }
}

/// Free text that may be left empty.
fn optional_paragraph(value: &str, max: usize) -> Result<&str, Problem> {
    match text::paragraph(value, max) {
        Err(Problem::Empty) => Ok(""),
        other => other,
    }
}

/// `YYYY-MM-DD` naming a day that exists (no 2月30日), from 1900 on.
pub fn calendar_date(d: &str) -> bool {
    if !super::patient::birth_date_is_valid(d) {
        return false;
    }
    let (Ok(y), Ok(m), Ok(day)) = (
        d[0..4].parse::<u32>(),
        d[5..7].parse::<u32>(),
        d[8..10].parse::<u32>(),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    y >= 1900 && day <= days
}

/// The names of the fields that differ, for the audit log (never their values).
pub fn changed_fields(a: &NewRegisterPerson, b: &NewRegisterPerson) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, same: bool| {
        if !same {
            out.push(name);
        }
    };
    check("external_id", a.external_id == b.external_id);
    check("name", a.name == b.name);
    check("kana", a.kana == b.kana);
    check("birth_date", a.birth_date == b.birth_date);
    check("sex", a.sex == b.sex);
    check("address", a.address == b.address);
    check("area", a.area == b.area);
    check("phone", a.phone == b.phone);
    check("household", a.household == b.household);
    check("reasons", a.reasons == b.reasons);
    check(
        "emergency_contacts",
        a.emergency_contacts == b.emergency_contacts,
    );
    check("helpers", a.helpers == b.helpers);
    check("consent", a.consent == b.consent);
    check("location", a.location == b.location);
    check("label", a.label == b.label);
    check("room", a.room == b.room);
    check("notes", a.notes == b.notes);
    out
}

/// How far ahead of the server's clock a mark's time may be (a device's clock estimate is
/// not exact); later is refused rather than let a mark stay "latest" for ever.
pub const MARK_FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;

/// A safety mark as sent, checked at server time `now`: the id a client made (letters,
/// digits, `-` and `_`), the note one line, the time not in the future. Returns the trimmed
/// note.
pub fn check_mark(m: &NewSafetyMark, now: i64) -> Result<String, FieldProblem> {
    let bad = |field: &str, problem: String| FieldProblem {
        field: field.to_owned(),
        problem,
    };
    if m.id.is_empty()
        || m.id.len() > SAFETY_MARK_ID_MAX
        || !m
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad(
            "id",
            format!("must be 1 to {SAFETY_MARK_ID_MAX} letters, digits, '-' or '_'"),
        ));
    }
    if m.marked_at > now + MARK_FUTURE_SLACK_MS || m.marked_at <= 0 {
        return Err(bad("marked_at", "is in the future".into()));
    }
    text::optional_line(&m.note, REGISTER_DETAIL_MAX)
        .map(str::to_owned)
        .map_err(|p| bad("note", p.to_string()))
}

/// A legend meaning: one line, not empty.
pub fn meaning(value: &str) -> Result<&str, Problem> {
    text::line(value, REGISTER_DETAIL_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(home: u8, admin: bool, editor: bool, responder: bool) -> Standing<u8> {
        Standing {
            home,
            admin,
            editor,
            responder,
        }
    }

    #[test]
    fn who_sees_how_much() {
        let none = Agreements::<u8>::default();
        let agreed = Agreements::new([vec![1, 2]]);
        let normal = None;
        let granted = InForce { partners: vec![2] };
        let ungranted = InForce { partners: vec![] };
        let responder = standing(1, false, false, true);
        let member = standing(1, false, false, false);
        let editor = standing(1, false, true, false);
        let partner = standing(2, false, false, true);
        let stranger = standing(3, false, false, true);
        assert_eq!(scope(&editor, &1, normal, &none), RegisterScope::Manage);
        assert_eq!(
            scope(&standing(1, true, false, false), &1, normal, &none),
            RegisterScope::Manage
        );
        assert_eq!(scope(&editor, &2, normal, &agreed), RegisterScope::Nothing);
        assert_eq!(
            scope(&responder, &1, normal, &none),
            RegisterScope::Consented
        );
        assert_eq!(
            scope(&responder, &1, Some(&ungranted), &none),
            RegisterScope::Everyone
        );
        assert_eq!(
            scope(&member, &1, Some(&ungranted), &none),
            RegisterScope::Nothing
        );
        assert_eq!(scope(&partner, &1, normal, &agreed), RegisterScope::Nothing);
        assert_eq!(
            scope(&partner, &1, Some(&ungranted), &agreed),
            RegisterScope::Nothing
        );
        assert_eq!(
            scope(&partner, &1, Some(&granted), &agreed),
            RegisterScope::Everyone
        );
        // A grant outlives nothing: without the agreement it opens nothing.
        assert_eq!(
            scope(&partner, &1, Some(&granted), &none),
            RegisterScope::Nothing
        );
        assert_eq!(
            scope(&stranger, &1, Some(&granted), &agreed),
            RegisterScope::Nothing
        );
    }

    #[test]
    fn which_entries() {
        let e = |consent, retired, in_linked_room| EntryFacts {
            consent,
            retired,
            in_linked_room,
        };
        assert!(sees(RegisterScope::Manage, e(false, true, false)));
        assert!(sees(RegisterScope::Everyone, e(false, false, false)));
        assert!(!sees(RegisterScope::Everyone, e(true, true, false)));
        assert!(sees(RegisterScope::Consented, e(true, false, false)));
        assert!(!sees(RegisterScope::Consented, e(false, false, true)));
        assert!(sees(RegisterScope::Nothing, e(true, false, true)));
        assert!(!sees(RegisterScope::Nothing, e(true, false, false)));
        assert!(!sees(RegisterScope::Nothing, e(false, false, true)));
    }

    #[test]
    fn dates_exist() {
        assert!(calendar_date("1940-02-29"));
        assert!(!calendar_date("1941-02-29"));
        assert!(!calendar_date("1941-04-31"));
        assert!(!calendar_date("1850-01-01"));
        assert!(!calendar_date("1941-4-1"));
    }
}
