//! 駐車場 (issue 17): parking spaces that residents, shops and temples lend to visiting staff,
//! per municipality: lenders (貸主), spaces, weekly availability and its exceptions, the
//! organisations the city approved, bookings, トラブル報告 and statistics. A booking names a
//! space, an organisation, a user and a plate — never a patient or a room. Who sees what is
//! one rule, `server/src/domain/parking.rs`; the endpoints are in `docs/parking.md`.

use renraku_sync::{MunicipalityId, OrganizationId, UserId};
use serde::{Deserialize, Serialize};

/// Longest lender or space name, in characters.
pub const PARKING_NAME_MAX: usize = 100;
/// Longest address, contact or size note, in characters.
pub const PARKING_LINE_MAX: usize = 200;
/// Longest directions (how to find it, where exactly to park) or trouble report.
pub const PARKING_TEXT_MAX: usize = 2000;
/// Longest plate number (品川 300 あ 12-34), in characters.
pub const PARKING_PLATE_MAX: usize = 30;
/// Longest booking, in minutes (a visit, not a day's parking).
pub const PARKING_BOOKING_MAX_MIN: i64 = 12 * 60;
/// Most weekly windows or exceptions on one space.
pub const PARKING_WINDOWS_MAX: usize = 50;
/// Largest space photo, in bytes (also never more than the server's attachment limit).
pub const PARKING_PHOTO_MAX_BYTES: u64 = 10_000_000;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A lender's (貸主) id.
    LenderId
);
id_type!(
    /// A parking space's id.
    SpaceId
);
id_type!(
    /// A booking's id.
    BookingId
);

text_enum!(
    /// How a lender wants to be told of bookings and changes.
    NotifyBy {
        Phone = "phone",
        Fax = "fax",
        Mail = "mail",
        /// Through their own Renraku account.
        App = "app",
    }
);

text_enum!(
    /// A size limit of a space; more in its free-text note (高さ制限 2.0m …).
    ParkingLimit {
        /// 軽自動車のみ
        KeiOnly = "kei_only",
        /// 高さ制限 (the height in the note)
        Height = "height",
        /// 幅制限
        Width = "width",
        /// 長さ制限
        Length = "length",
        /// 大型車不可
        NoLargeVehicles = "no_large_vehicles",
    }
);

text_enum!(
    /// A day of the week (Japan time).
    Weekday {
        Mon = "mon",
        Tue = "tue",
        Wed = "wed",
        Thu = "thu",
        Fri = "fri",
        Sat = "sat",
        Sun = "sun",
    }
);

text_enum!(
    /// What an exception does on its date.
    ExceptionKind {
        /// The whole date (00:00–24:00 Japan time) is taken out of the weekly windows.
        Closed = "closed",
        /// Extra hours on the date, on top of the weekly windows.
        Open = "open",
    }
);

text_enum!(
    /// A booking's state.
    BookingStatus {
        Booked = "booked",
        /// Holds no time any more.
        Cancelled = "cancelled",
        /// 早めに出庫: the end is when they left; the rest is free again.
        LeftEarly = "left_early",
    }
);

text_enum!(
    /// Who sent a trouble report.
    TroubleSide {
        Lender = "lender",
        Booker = "booker",
        City = "city",
    }
);

/// A lender as the city registers them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewLender {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// Phone, fax number or mail address, as `notify_by` needs.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub contact: String,
    pub notify_by: NotifyBy,
    /// Their own account (a user of the municipality), if they want one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub user: Option<UserId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lender {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: LenderId,
    #[serde(flatten)]
    pub fields: NewLender,
}

/// Where a space is, in degrees (WGS84).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParkingPoint {
    pub latitude: f64,
    pub longitude: f64,
}

/// A space as the city registers it (`PUT` replaces every field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSpace {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub lender: LenderId,
    /// 〇〇寺 駐車場 奥の1台 …
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub address: String,
    pub location: ParkingPoint,
    #[serde(default)]
    pub limits: Vec<ParkingLimit>,
    /// 高さ制限 2.0m, 軽・コンパクトカーまで …
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub limits_note: String,
    /// How to find it and where exactly to park.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub directions: String,
}

/// A space's photo, uploaded by the city (`PUT …/spaces/{id}/photo`) and read at
/// `GET …/spaces/{id}/photo?v={version}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpacePhoto {
    /// Changes with the photo (the start of its SHA-256): put in the URL, it keeps a cached
    /// old photo from standing in for a new one.
    pub version: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
    pub width: i64,
    pub height: i64,
}

/// One weekly window: on `weekday`, from `start_min` to `end_min` minutes after midnight
/// (Japan time). An `end_min` at or before `start_min` runs past midnight into the next day
/// (22:00–06:00 is 1320–360); 0–1440 is the whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklyWindow {
    pub weekday: Weekday,
    /// 0–1439.
    pub start_min: i64,
    /// 1–1440.
    pub end_min: i64,
}

/// An exception on one date (`YYYY-MM-DD`, Japan time). `Closed` takes the whole date out;
/// `Open` adds `start_min`–`end_min` (which may run past midnight, as a weekly window).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AvailabilityException {
    pub date: String,
    pub kind: ExceptionKind,
    #[serde(default)]
    pub start_min: Option<i64>,
    #[serde(default)]
    pub end_min: Option<i64>,
}

/// `PUT /api/parking/{m}/spaces/{id}/availability`: the whole availability, replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Availability {
    #[serde(default)]
    pub weekly: Vec<WeeklyWindow>,
    #[serde(default)]
    pub exceptions: Vec<AvailabilityException>,
}

/// `GET /api/parking/{m}/spaces/{id}/photo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PhotoQuery {
    /// The JPEG thumbnail (at most 320 px) instead of the photo.
    #[serde(default)]
    pub thumb: Option<bool>,
    /// The photo's version (`SpacePhoto::version`); only there to make the URL change with
    /// the photo.
    #[serde(default)]
    pub v: Option<String>,
}

/// A space as its readers see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Space {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: SpaceId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    #[serde(flatten)]
    pub fields: NewSpace,
    pub lender_name: String,
    /// Its photo, if the city uploaded one.
    #[serde(default)]
    pub photo: Option<SpacePhoto>,
    /// Paused by the city or the lender: not offered, not bookable.
    pub paused: bool,
    pub availability: Availability,
}

/// `PUT /api/parking/{m}/spaces/{id}/paused`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPaused {
    pub paused: bool,
}

/// `GET /api/parking/{m}/spaces/nearby`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct NearbyQuery {
    pub lat: f64,
    pub lon: f64,
    /// Up to 5000; 1000 when left out.
    #[serde(default)]
    pub radius_m: Option<f64>,
}

/// A space near a point, nearest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NearbySpace {
    pub space: Space,
    /// Straight-line (great-circle) distance, metres.
    pub distance_m: f64,
    /// An estimate, not a route: the straight line × 1.3 for streets, at 80 m a minute
    /// (the 不動産 公正競争規約's walking speed), rounded up.
    pub walk_min: i64,
}

/// `GET /api/parking/{m}/spaces/{id}/free?date=YYYY-MM-DD` and `GET …/bookings/mine?date=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DayQuery {
    /// `YYYY-MM-DD`, Japan time; today when left out.
    #[serde(default)]
    pub date: Option<String>,
}

/// A stretch of time, unix ms, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeWindow {
    pub start: i64,
    pub end: i64,
}

/// A space's free windows on a day: available and not booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreeWindows {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub space: SpaceId,
    pub date: String,
    pub free: Vec<TimeWindow>,
}

/// `POST /api/parking/{m}/bookings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewBooking {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub space: SpaceId,
    /// Unix ms.
    pub start: i64,
    /// Unix ms, after `start`.
    pub end: i64,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 30))]
    pub plate: String,
}

/// A booking. What a lender and the city see too: the organisation, the plate and the time
/// — nothing about the visit's patient, which Renraku never stores with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Booking {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: BookingId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub space: SpaceId,
    pub space_name: String,
    pub address: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub organization: OrganizationId,
    pub organization_name: String,
    pub plate: String,
    pub start: i64,
    pub end: i64,
    pub status: BookingStatus,
    /// The end booked, when they left early.
    #[serde(default)]
    pub released_end: Option<i64>,
    /// The booker: only in the booker's own list (`None` for lenders and the city).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub user: Option<UserId>,
}

/// `GET /api/parking/{m}/spaces/{id}/bookings` range, unix ms; the coming 31 days when left
/// out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RangeQuery {
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
}

/// An organisation the city approved for booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovedOrganization {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub organization: OrganizationId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub approved_at: i64,
}

/// An organisation the city may approve (`GET /api/parking/{m}/organization-choices`): of
/// the municipality, or of one in an agreement it opened its parking into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganizationChoice {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub organization: OrganizationId,
    pub name: String,
    pub kind: crate::OrganizationKind,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub municipality_name: String,
    pub approved: bool,
}

/// `PUT /api/parking/{m}/managers/{user}` and `PUT /api/parking/{m}/agreements/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetFlag {
    pub on: bool,
}

/// `POST /api/parking/{m}/troubles`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTrouble {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub space: Option<SpaceId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub booking: Option<BookingId>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trouble {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub space: Option<SpaceId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub booking: Option<BookingId>,
    pub side: TroubleSide,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub reporter: UserId,
    pub reporter_name: String,
    pub body: String,
    pub created_at: i64,
}

/// Bookings of one space in one month (JST `YYYY-MM`), cancelled ones left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpaceMonth {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub space: SpaceId,
    pub space_name: String,
    pub month: String,
    pub bookings: i64,
}

/// What the asking user is to a municipality's parking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParkingOverview {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub municipality: MunicipalityId,
    pub municipality_name: String,
    /// The city's side: lenders, spaces, approvals, bookings, reports, statistics.
    pub manager: bool,
    /// A municipality administrator: also designates managers and shares parking with
    /// agreements.
    pub admin: bool,
    /// The lenders this user is (their spaces and bookings).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub lender_of: Vec<LenderId>,
    /// Staff of an approved organisation: searches and books.
    pub booker: bool,
}
