//! 要援護者名簿 (the register of people who need assistance in a disaster, issue 16), per
//! municipality: the people, the legend of label colours, who edits and who responds, 災害モード
//! and the partners granted access during it, and the 安否確認 (safety check) marks. Who sees
//! what is one rule, `server/src/domain/register.rs`; the endpoints and the rules are in
//! `docs/assistance-register.md`.

use renraku_sync::{MunicipalityId, RoomId, UserId};
use serde::{Deserialize, Serialize};

/// Longest name or kana, in characters.
pub const REGISTER_NAME_MAX: usize = 100;
/// Longest address, in characters.
pub const REGISTER_ADDRESS_MAX: usize = 200;
/// Longest 町丁目 (area), municipality's own person id, phone or relation, in characters.
pub const REGISTER_SHORT_MAX: usize = 50;
/// Longest notes, in characters (free text with line breaks).
pub const REGISTER_NOTES_MAX: usize = 2000;
/// Longest reason detail, legend meaning or safety-mark note, in characters.
pub const REGISTER_DETAIL_MAX: usize = 200;
/// Most reasons, emergency contacts or helpers on one person.
pub const REGISTER_LIST_MAX: usize = 10;
/// Longest client-generated id of a safety mark (a UUID is 36).
pub const SAFETY_MARK_ID_MAX: usize = 64;

/// A person's id in the register (not a patient's id: a person need not be a patient).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegisterPersonId(pub i64);

impl std::fmt::Display for RegisterPersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

text_enum!(
    /// A person's label on the list and the map; what each colour means is the
    /// municipality's legend.
    LabelColour {
        Red = "red",
        Yellow = "yellow",
        Blue = "blue",
    }
);

text_enum!(
    /// As the municipality's 名簿 records it.
    Sex {
        Female = "female",
        Male = "male",
        Other = "other",
        Unknown = "unknown",
    }
);

text_enum!(
    /// Who the person lives with.
    Household {
        /// 独居
        Alone = "alone",
        /// 高齢者のみ世帯
        ElderlyOnly = "elderly_only",
        /// 日中独居 (alone while the family is at work or school)
        AloneDaytime = "alone_daytime",
        /// 家族と同居
        WithFamily = "with_family",
        /// その他・不明
        Other = "other",
    }
);

text_enum!(
    /// Why a person needs assistance. A person has any number; the `detail` of a [`Reason`]
    /// says more (要介護3, 身体障害者手帳1級 …).
    ReasonKind {
        /// 要介護・要支援 (the level in the detail)
        CareLevel = "care_level",
        /// 障害 (physical, intellectual, mental; the grade in the detail)
        Disability = "disability",
        /// 人工呼吸器
        Ventilator = "ventilator",
        /// 在宅酸素
        HomeOxygen = "home_oxygen",
        /// 透析
        Dialysis = "dialysis",
        /// たん吸引
        Suction = "suction",
        /// 認知症
        Dementia = "dementia",
        /// 寝たきり
        Bedridden = "bedridden",
        /// 独居
        LivesAlone = "lives_alone",
        /// 難病
        IntractableDisease = "intractable_disease",
        /// 視覚・聴覚 (cannot see or hear a warning)
        SensoryImpairment = "sensory_impairment",
        /// 乳幼児・妊産婦
        InfantOrPregnant = "infant_or_pregnant",
        /// 日本語が不自由 (cannot follow a warning in Japanese)
        LanguageBarrier = "language_barrier",
        /// その他 (the detail says what)
        Other = "other",
    }
);

text_enum!(
    /// A person's state in a 安否確認 (safety check).
    SafetyStatus {
        /// 未確認: nobody has reached them yet (also everyone without a mark).
        Unconfirmed = "unconfirmed",
        /// 無事
        Safe = "safe",
        /// 要支援: reached, and needs help now.
        NeedsSupport = "needs_support",
        /// 搬送・避難済み
        Evacuated = "evacuated",
    }
);

text_enum!(
    /// How much of a municipality's register the asking user sees (`domain/register.rs`).
    RegisterScope {
        /// Nothing (except, for a member of a person's patient room, that person with consent).
        Nothing = "none",
        /// Entries whose person consented to sharing in normal times.
        Consented = "consented",
        /// Every current entry (a responder during 災害モード).
        Everyone = "everyone",
        /// Every entry, retired ones too: the municipality's administrators and register editors.
        Manage = "manage",
    }
);

/// One reason a person needs assistance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    pub kind: ReasonKind,
    /// More about it (要介護3, 酸素2L/分 …); may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub detail: String,
}

/// An emergency contact or a named helper (支援者).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterContact {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// 長女, 民生委員, 隣人 …; may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub relation: String,
    /// May be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub phone: String,
}

/// Where the person lives, in degrees (WGS84), as staff placed the pin.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    /// −90 to 90; kept to 7 decimal places (about 1 cm).
    pub latitude: f64,
    /// −180 to 180; kept to 7 decimal places.
    pub longitude: f64,
}

/// A new entry, or an entry's new content (`PUT` replaces every field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRegisterPerson {
    /// The municipality's own id of the person (宛名番号 …), for later re-imports; unique
    /// within the municipality.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub external_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub kana: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Option<String>,
    pub sex: Sex,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub address: String,
    /// 町丁目, for filtering the list.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub area: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub phone: String,
    pub household: Household,
    #[serde(default)]
    pub reasons: Vec<Reason>,
    #[serde(default)]
    pub emergency_contacts: Vec<RegisterContact>,
    /// 支援者: the people who would go to them.
    #[serde(default)]
    pub helpers: Vec<RegisterContact>,
    /// 平常時の情報提供に同意: whether responders see the entry outside 災害モード.
    pub consent: bool,
    #[serde(default)]
    pub location: Option<Location>,
    pub label: LabelColour,
    /// The person's patient room, when they are also a patient (a patient room of the same
    /// municipality).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub room: Option<RoomId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub notes: String,
}

/// One entry of the register as its reader sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterPerson {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: RegisterPersonId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    #[serde(flatten)]
    pub fields: NewRegisterPerson,
    /// Taken off the register (moved, died, withdrew); kept, not deleted. Only managers see
    /// retired entries.
    pub retired: bool,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// The current safety status during 災害モード (`None` in normal times): the latest mark,
    /// or 未確認 without one.
    #[serde(default)]
    pub safety: Option<SafetyState>,
}

/// A person's current safety status in the disaster in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafetyState {
    pub status: SafetyStatus,
    /// The mark it comes from (`None`: nobody has marked them in this disaster).
    #[serde(default)]
    pub mark: Option<SafetyMark>,
}

/// One entry and its safety-check history in the disaster in force (newest first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterPersonDetail {
    pub person: RegisterPerson,
    pub marks: Vec<SafetyMark>,
}

/// `PUT /api/register/{slug}/people/{id}/retired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRetired {
    pub retired: bool,
}

/// What one colour means in this municipality (e.g. red = 医療依存度が高い).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegendEntry {
    pub label: LabelColour,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub meaning: String,
}

/// `PUT /api/register/{slug}/legend`: the colours to set (others keep their meaning).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetLegend {
    pub legend: Vec<LegendEntry>,
}

/// 災害モード in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disaster {
    pub id: i64,
    pub reason: String,
    /// Unix milliseconds.
    pub started_at: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub started_by: UserId,
    /// Partner municipalities (sharing a wide-area agreement) whose responders were granted
    /// access for this disaster.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub partners: Vec<MunicipalityId>,
}

/// `POST /api/register/{slug}/disaster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeclareDisaster {
    /// 令和X年台風第N号による浸水 …
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// What the asking user may do with a municipality's register, and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterOverview {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub municipality_name: String,
    /// Every colour, red, yellow, blue.
    pub legend: Vec<LegendEntry>,
    pub disaster: Option<Disaster>,
    pub scope: RegisterScope,
    /// A designated responder (who may mark safety during 災害モード).
    pub responder: bool,
    /// May create, edit and retire entries, change the legend and designate responders.
    pub editor: bool,
    /// A municipality administrator: also designates editors and declares 災害モード.
    pub admin: bool,
}

/// A user of the municipality and their register roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterStaff {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub user: UserId,
    pub display_name: String,
    pub editor: bool,
    pub responder: bool,
}

/// `PUT /api/register/{slug}/staff/{user}`: both roles as they should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRegisterStaff {
    pub editor: bool,
    pub responder: bool,
}

/// A safety mark as the client sends it, possibly long after it was made offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSafetyMark {
    /// Made by the client when the mark is made (a UUID); sending the same mark again
    /// stores it once.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub id: String,
    pub status: SafetyStatus,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub note: String,
    /// When it was made, Unix milliseconds (the device's estimate of the server's clock).
    pub marked_at: i64,
}

/// A stored safety mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafetyMark {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub person: RegisterPersonId,
    pub status: SafetyStatus,
    pub note: String,
    pub marked_at: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub by: UserId,
    pub by_name: String,
    /// When the server stored it.
    pub received_at: i64,
}

/// How many people the asking user sees, by status and colour, in the disaster in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterSummary {
    pub total: i64,
    /// One cell per status and colour, zeros included.
    pub cells: Vec<SummaryCell>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryCell {
    pub status: SafetyStatus,
    pub label: LabelColour,
    pub count: i64,
}

/// `GET /api/register/{slug}/people` filters; all are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RegisterQuery {
    #[serde(default)]
    pub label: Option<LabelColour>,
    /// During 災害モード only.
    #[serde(default)]
    pub status: Option<SafetyStatus>,
    /// 町丁目, exactly.
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub reason: Option<ReasonKind>,
    /// Part of the name or kana (NFKC, case folded).
    #[serde(default)]
    pub q: Option<String>,
    /// Managers only: list retired entries instead of current ones.
    #[serde(default)]
    pub retired: Option<bool>,
}

/// One problem of a CSV import: the line (the header is 1; 0 for the file as a whole), the
/// column as the header names it (empty for the whole row), and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportProblem {
    pub row: usize,
    pub column: String,
    pub problem: String,
}

/// One entry an import created or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportedRow {
    pub row: usize,
    /// The municipality's person id (宛名番号).
    pub external_id: String,
    /// `None` for an entry a dry run would create.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub id: Option<RegisterPersonId>,
    /// The fields that changed (`retired` among them); empty for a new entry.
    pub changed: Vec<String>,
}

/// What a CSV import did (or, as a dry run or refused, would do). With problems nothing was
/// written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterImportReport {
    /// Nothing was written: asked for (`dry_run=true`), or refused for its problems.
    pub dry_run: bool,
    pub created: Vec<ImportedRow>,
    pub updated: Vec<ImportedRow>,
    /// Rows equal to their entry.
    pub unchanged: usize,
    /// Every problem, by row and column; non-empty means nothing was imported (422).
    pub problems: Vec<ImportProblem>,
}

/// `POST /api/register/{slug}/import` options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RegisterImportQuery {
    /// Check and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

// ---- the list's one rule: what a filter keeps and in which order ----
// The server's list and export and the app's list of the kept register (offline) apply the
// same two functions, so a responder's phone in a dead zone shows what the server would.

impl RegisterQuery {
    /// Whether `p` passes every filter of this query (`retired` is the server's choice of
    /// entries, not a filter here). `q`: every word in the name or kana, NFKC and case
    /// folded (`renraku_sync::search`).
    pub fn keeps(&self, p: &RegisterPerson) -> bool {
        let terms = self
            .q
            .as_deref()
            .map(renraku_sync::search::terms)
            .unwrap_or_default();
        self.label.is_none_or(|l| p.fields.label == l)
            && self
                .status
                .is_none_or(|s| p.safety.as_ref().is_some_and(|x| x.status == s))
            && self
                .area
                .as_deref()
                .is_none_or(|a| p.fields.area == a.trim())
            && self
                .reason
                .is_none_or(|k| p.fields.reasons.iter().any(|x| x.kind == k))
            && (terms.is_empty()
                || renraku_sync::search::matches(
                    &format!("{} {}", p.fields.name, p.fields.kana),
                    &terms,
                ))
    }
}

/// The list's order: in 災害モード, who needs someone first (要支援, 未確認, then 無事 and
/// 搬送・避難済み); then red, yellow, blue.
pub fn register_priority(status: Option<SafetyStatus>, label: LabelColour) -> (u8, u8) {
    let s = match status {
        Some(SafetyStatus::NeedsSupport) => 0,
        Some(SafetyStatus::Unconfirmed) => 1,
        Some(SafetyStatus::Safe) => 2,
        Some(SafetyStatus::Evacuated) => 3,
        None => 0,
    };
    let l = match label {
        LabelColour::Red => 0,
        LabelColour::Yellow => 1,
        LabelColour::Blue => 2,
    };
    (s, l)
}

/// Sorts a list into the register's order: [`register_priority`], then kana, then id.
pub fn sort_register(people: &mut [RegisterPerson]) {
    people.sort_by(|a, b| {
        let key = |p: &RegisterPerson| {
            register_priority(p.safety.as_ref().map(|s| s.status), p.fields.label)
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.fields.kana.cmp(&b.fields.kana))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The current status after `mark` arrives: the latest *made* mark wins (`marked_at`, then
/// `id`), not the latest received — a mark made offline an hour ago does not hide a newer
/// one. `false` when `mark` is older than what `p` shows (nothing changes).
pub fn apply_mark(p: &mut RegisterPerson, mark: SafetyMark) -> bool {
    let newer = match p.safety.as_ref().and_then(|s| s.mark.as_ref()) {
        Some(cur) => (mark.marked_at, &mark.id) > (cur.marked_at, &cur.id),
        None => true,
    };
    if newer {
        p.safety = Some(SafetyState {
            status: mark.status,
            mark: Some(mark),
        });
    }
    newer
}

/// `GET /api/registers`: a register the asking user sees now: their own municipality's (when
/// their scope there is not [`RegisterScope::Nothing`]) and each partner municipality's that
/// granted their municipality access during its 災害モード. For the home screen's entry point
/// and its 災害モード banner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterLink {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    /// The municipality's URL segment: `/api/register/{slug}`.
    pub slug: String,
    pub name: String,
    pub scope: RegisterScope,
    /// 災害モード is in force there.
    pub disaster: bool,
}

/// `GET /api/register/{slug}/partners`: a municipality sharing a wide-area agreement, and
/// whether it is granted access in the disaster in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterPartner {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub slug: String,
    pub name: String,
    pub granted: bool,
}
