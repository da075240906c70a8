//! The administration API, `/api/admin/…`: accounts, organizations, patients, rooms and
//! members, municipalities, wide-area agreements, announcements, maintenance windows, the
//! audit log and statistics.
//!
//! Names and titles carry `minLength`/`maxLength` in the OpenAPI document: the server
//! refuses them empty (after trimming) or longer than that (`server/src/domain/text.rs`).

use crate::{MemberRole, OrganizationKind, Patient, Profession, Role};
use renraku_sync::{MunicipalityId, OrganizationId, PatientId, RoomId, RoomKind, UserId};
use serde::{Deserialize, Serialize};

/// An account as administrators see it (and as it is listed inside [`UserListing`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserProfile {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub organization: Option<OrganizationId>,
    pub organization_name: Option<String>,
}

/// An account as administrators list it: its [`UserProfile`] and its state. The fields are
/// listed here rather than flattened (`#[serde(flatten)]` costs the wasm app several KB).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserListing {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub organization: Option<OrganizationId>,
    pub organization_name: Option<String>,
    pub disabled: bool,
    pub must_change_password: bool,
}

impl UserListing {
    pub fn new(p: UserProfile, disabled: bool, must_change_password: bool) -> Self {
        UserListing {
            id: p.id,
            municipality: p.municipality,
            login_id: p.login_id,
            display_name: p.display_name,
            display_name_kana: p.display_name_kana,
            profession: p.profession,
            role: p.role,
            organization: p.organization,
            organization_name: p.organization_name,
            disabled,
            must_change_password,
        }
    }
}

/// What an administrator may change about an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name_kana: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profession: Option<Profession>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The organization (of the account's municipality); `0` detaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub organization: Option<OrganizationId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAccount {
    /// 1–64 ASCII letters, digits or `.` `_` `-` `@`.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._@-]+$")
    )]
    pub login_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name_kana: String,
    pub profession: Profession,
    /// Default `member`. Only system administrators create system administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub organization: Option<OrganizationId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedAccount {
    pub user: UserListing,
    /// A temporary password, shown this once; it must be changed at the first sign-in.
    pub temporary_password: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    /// Shown this once; it must be changed at the next sign-in.
    pub temporary_password: String,
    /// Sessions ended.
    pub sessions_ended: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disabled {
    pub sessions_ended: u64,
    /// Open WebSocket connections told to close.
    pub connections_closed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Organization {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: OrganizationId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub name: String,
    pub kind: OrganizationKind,
    /// Accounts that belong to it.
    pub user_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewOrganization {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    pub kind: OrganizationKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganizationUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<OrganizationKind>,
}

/// A patient as administrators list them: the [`Patient`] and whether they are archived
/// (fields listed, not flattened: see [`UserListing`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientListing {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: PatientId,
    pub name: String,
    pub name_kana: String,
    /// ISO date, `YYYY-MM-DD`.
    pub birth_date: String,
    pub address: String,
    /// 要支援1–2 / 要介護1–5, or empty.
    pub care_level: String,
    /// Needs assistance in a disaster (災害時要援護者).
    pub disaster_flag: bool,
    /// Disaster triage colour: red, yellow, green or black.
    pub triage: Option<String>,
    pub archived: bool,
}

impl PatientListing {
    pub fn new(p: Patient, archived: bool) -> Self {
        PatientListing {
            id: p.id,
            name: p.name,
            name_kana: p.name_kana,
            birth_date: p.birth_date,
            address: p.address,
            care_level: p.care_level,
            disaster_flag: p.disaster_flag,
            triage: p.triage,
            archived,
        }
    }
}

/// An administrator's changes to a patient; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name_kana: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub care_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaster_flag: Option<bool>,
    /// `red`, `yellow`, `green` or `black`; an empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPatientRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub address: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub care_level: String,
    #[serde(default)]
    pub disaster_flag: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedPatient {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: PatientId,
    /// The patient's room, created with them (add the care team as its members).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
}

/// A room as administrators list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminRoom {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: RoomId,
    pub kind: RoomKind,
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub patient: Option<PatientId>,
    pub archived: bool,
    pub member_count: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRoom {
    /// `patient` or `project` (message rooms are started by professionals themselves).
    pub kind: RoomKind,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    /// For a patient room: the patient.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// The body of adding a member (optional: a plain member by default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMember {
    /// `owner` or `member` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
}

/// Someone who may be added to a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub municipality_name: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub organization_name: Option<String>,
    pub already_member: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMunicipality {
    /// URL segment: lower-case ASCII letters, digits and `-`, 2–40 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 2, max_length = 40, pattern = "^[a-z0-9][a-z0-9-]*$")
    )]
    pub slug: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MunicipalityUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_second_factor: Option<bool>,
}

/// A wide-area agreement's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgreementId(pub i64);

impl std::fmt::Display for AgreementId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A wide-area agreement: municipalities whose professionals may join each other's rooms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agreement {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: AgreementId,
    pub name: String,
    /// The member municipalities' ids.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub members: Vec<MunicipalityId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAgreement {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaveResult {
    /// Room memberships that the agreement allowed and that were removed.
    pub memberships_removed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAnnouncement {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 5000))]
    pub body: String,
    /// Unix ms; default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// Unix ms; default: until deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMaintenance {
    /// Only this municipality (its slug); default: the whole service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// Unix ms.
    pub starts_at: i64,
    /// Unix ms, after `starts_at`.
    pub ends_at: i64,
    /// Shown on the maintenance page.
    #[serde(default)]
    pub message: String,
}

/// Which audit rows an administrator asks for (the query of `GET …/audit` and its CSV). All
/// conditions are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Actions starting with this (`signin.` matches every sign-in outcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Exact target, e.g. `room/12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// From this time on (unix ms, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Before this time (unix ms, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Rows with a seq below this (paging backwards from the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_seq: Option<i64>,
    /// At most this many rows (default 200; 1 to 5000, anything else is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 5000))]
    pub limit: Option<i64>,
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRow {
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub user_id: Option<i64>,
    pub municipality_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// SHA-256 (hex) chaining this row to the previous one.
    pub hash: String,
}

/// What a check of the audit chain found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainReport {
    /// Chained rows checked.
    pub rows: i64,
    /// The chain head's seq.
    pub head_seq: i64,
    /// Every break found, in seq order; empty means intact.
    pub problems: Vec<String>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One month of one room kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthKind {
    /// `YYYY-MM` (JST).
    pub month: String,
    pub kind: RoomKind,
    pub posts: i64,
    /// Distinct authors.
    pub active_users: i64,
}

/// One month over all room kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Month {
    pub month: String,
    pub posts: i64,
    pub active_users: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statistics {
    /// Oldest first.
    pub months: Vec<Month>,
    pub by_kind: Vec<MonthKind>,
}
