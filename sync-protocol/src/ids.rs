//! Typed ids. Every id crossing a crate boundary has its own type, parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a database-backed integer id newtype.
macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

int_id!(
    /// A professional's account.
    UserId
);
int_id!(
    /// A room: patient, project or message.
    RoomId
);
int_id!(
    /// A municipality (tenant).
    MunicipalityId
);
int_id!(
    /// A facility: clinic, nursing station, care office, pharmacy, city office.
    OrganizationId
);
int_id!(
    /// A patient of one municipality.
    PatientId
);
int_id!(
    /// A 定型文 (template): a municipality's shared one or a user's own.
    TemplateId
);

/// A post's id inside a room document: a ULID, created by the writing client (offline too).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostId(String);

/// Crockford base32, as ULIDs use.
const ULID_ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl PostId {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 26 && s.chars().all(|c| ULID_ALPHABET.contains(c))).then(|| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PostId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| format!("not a post id: {s:?}"))
    }
}

impl From<PostId> for String {
    fn from(id: PostId) -> String {
        id.0
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Room kinds, as stored in `rooms.kind` and as the API says them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Patient,
    Project,
    Message,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Patient => "patient",
            RoomKind::Project => "project",
            RoomKind::Message => "message",
        }
    }
}

impl FromStr for RoomKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patient" => Ok(RoomKind::Patient),
            "project" => Ok(RoomKind::Project),
            "message" => Ok(RoomKind::Message),
            other => Err(format!("unknown room kind {other:?}")),
        }
    }
}
