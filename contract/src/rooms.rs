//! Rooms as their members see them: the room list, a room's details, room tokens, message
//! rooms, the directory and attachments.

use crate::{MemberRole, Profession};
use renraku_sync::{PatientId, RoomId, RoomKind, UserId};
use serde::{Deserialize, Serialize};

/// The patient columns of a room list entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientBrief {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: PatientId,
    pub name: String,
    pub name_kana: String,
    pub birth_date: String,
    pub care_level: String,
}

/// One entry of "my rooms" (`GET /api/rooms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: RoomId,
    pub kind: RoomKind,
    pub title: String,
    pub archived: bool,
    pub member_count: i64,
    pub patient: Option<PatientBrief>,
    /// Message rooms: the other members' names, so a 1:1 room shows whom it is with.
    pub member_names: Vec<String>,
    /// Posts I have not read; present when the server keeps a posts projection.
    pub unread: Option<i64>,
    /// Unix ms of the newest post; present with `unread`.
    pub last_activity: Option<i64>,
    /// The newest live post's first line, shortened (`renraku_sync::frame::preview`; empty
    /// for a post of attachments only); absent when the room has no posts. Older servers
    /// and kept copies lack it.
    #[serde(default)]
    pub last_text: Option<String>,
}

/// What a patient room shows at its top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Patient {
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
}

/// A room member with what others need to know about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub user: UserId,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub organization_name: Option<String>,
    pub role: MemberRole,
    pub added_at: i64,
}

/// `GET /api/rooms/{room}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomDetail {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: RoomId,
    pub kind: RoomKind,
    pub title: String,
    pub archived: bool,
    /// The patient header, for patient rooms.
    pub patient: Option<Patient>,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomToken {
    /// Use as `/yjs/{room}?token=…`; reusable until it expires.
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMessageRoom {
    /// Whom to message (the caller is added as the owner). One person: their existing 1:1
    /// room with the caller is reused.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub members: Vec<UserId>,
    /// For rooms of three or more; by default the members' names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageRoomCreated {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: RoomId,
    /// False when an existing 1:1 room was returned.
    pub created: bool,
}

/// A colleague as the directory lists them (for choosing whom to message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Colleague {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub organization_name: Option<String>,
}

/// Per room of a user: when its conversation last moved, and how many posts by others the
/// user has not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomActivity {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
    /// Newest `max(created_at, edited_at)` of the room's live posts (unix ms), if any.
    pub latest_activity_at: Option<i64>,
    /// Posts by others, not deleted, after the user's read marker.
    pub unread: i64,
    /// The text of the newest post not deleted (by id, i.e. creation), whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_text: Option<String>,
}

/// An attachment as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentMeta {
    /// ULID chosen by the uploading client.
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub uploader: UserId,
    /// The original file name (shown, and offered on download).
    pub name: String,
    /// Media type decided from the bytes.
    pub mime: String,
    /// Bytes stored (after metadata was removed from photos).
    pub size: i64,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
    pub has_thumbnail: bool,
    /// Display size of images, after orientation.
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

text_enum!(
    /// Where a patient room's home location came from (`GET /api/rooms/{id}/home`).
    HomeSource {
        /// The 要援護者名簿 entry linked to the room (placed by the city).
        Register = "register",
        /// A pin a member of the room set (`PUT /api/rooms/{id}/home`).
        Pin = "pin",
    }
);

/// A pin a member of a patient room set on the patient's home.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HomePin {
    pub location: crate::Location,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub set_by: UserId,
    pub set_by_name: String,
    /// Unix milliseconds.
    pub set_at: i64,
}

/// `GET /api/rooms/{id}/home`: where the patient of a patient room lives, for finding
/// parking nearby. `location` is the one to use: the staff pin when there is one, else the
/// register's (`docs/parking.md`, "The patient's home"); both are given so the screen can
/// say which it shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoomHome {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub room: RoomId,
    /// `None`: neither the register nor a pin knows it.
    pub location: Option<crate::Location>,
    pub source: Option<HomeSource>,
    /// The location of the room's register entry, when its person consented to sharing
    /// (as the room's members see that entry) and it is not retired.
    pub register: Option<crate::Location>,
    pub pin: Option<HomePin>,
}
