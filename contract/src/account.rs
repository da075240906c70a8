//! Signing in, the signed-in user and their own settings: `/api/signin`, `/api/me/…`,
//! passkeys, client certificates, web push, and the municipality portal.

use crate::{Profession, Role};
use renraku_sync::{MunicipalityId, OrganizationId, RoomId, UserId};
use serde::{Deserialize, Serialize};

/// The signed-in user, as `/api/me` and sign-in answer it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentUser {
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

impl CurrentUser {
    /// A municipality or system administrator.
    pub fn is_admin(&self) -> bool {
        self.role.is_admin()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Municipality {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: MunicipalityId,
    /// The URL segment: `/{slug}/`.
    pub slug: String,
    pub name: String,
    /// Policy: every professional here must sign in with a second factor (TOTP).
    pub require_second_factor: bool,
}

/// お知らせ: shown on the portal of its municipality (or of every one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Announcement {
    pub id: i64,
    /// `None`: for every municipality.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub municipality: Option<MunicipalityId>,
    pub title: String,
    pub body: String,
    /// Unix milliseconds; shown from then on.
    pub starts_at: i64,
    /// Unix milliseconds; hidden from then on (`None`: until deleted).
    pub ends_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaintenanceWindow {
    pub id: i64,
    /// `None`: the whole service.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub municipality: Option<MunicipalityId>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub message: String,
}

/// The portal: the municipality, its current announcements (お知らせ, system-wide ones
/// included) and the maintenance window open now, if any. The municipality's fields are
/// listed, not flattened (`#[serde(flatten)]` costs the wasm app several KB).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Portal {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: MunicipalityId,
    /// The URL segment: `/{slug}/`.
    pub slug: String,
    pub name: String,
    /// Policy: every professional here must sign in with a second factor (TOTP).
    pub require_second_factor: bool,
    pub announcements: Vec<Announcement>,
    pub maintenance: Option<MaintenanceWindow>,
}

impl Portal {
    pub fn new(
        m: Municipality,
        announcements: Vec<Announcement>,
        maintenance: Option<MaintenanceWindow>,
    ) -> Self {
        Portal {
            id: m.id,
            slug: m.slug,
            name: m.name,
            require_second_factor: m.require_second_factor,
            announcements,
            maintenance,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigninRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub login_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub password: String,
    /// The current 6-digit code of the authenticator app, for accounts with a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// One of the account's recovery codes, instead of `totp` (each works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigninResponse {
    pub user: CurrentUser,
    pub municipality: Municipality,
    /// The session token, also set as an HttpOnly cookie. Native and test clients send it as
    /// `Authorization: Bearer …`; browsers can ignore it.
    pub session_token: String,
    /// The municipality requires a second factor and this account has none: the session
    /// may only call `/api/me/totp/…` and `/api/signout` until one is confirmed.
    pub enrolment_required: bool,
    /// An administrator reset the password: the session may only call
    /// `/api/me/password` (and `/api/signout`) until a new one is chosen.
    pub password_change_required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub user: CurrentUser,
    pub municipality: Municipality,
    /// After this many seconds without a touch or key the app hides patient data behind a
    /// lock screen and asks for the password (`POST /api/me/unlock`); 0: never. The
    /// session's idle timeout unless configured otherwise.
    pub lock_after_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpSetup {
    /// For a QR code: `otpauth://totp/Renraku:{municipality}/{login}?secret=…`.
    pub otpauth_uri: String,
    /// The same secret (base32), for typing in by hand.
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpCode {
    /// The current 6-digit code.
    pub code: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpRemoval {
    /// The current 6-digit code…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// …or, with the authenticator lost, one of the recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown this once; each replaces a TOTP code at sign-in.
    pub recovery_codes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    /// Public id, for `DELETE /api/me/sessions/{id}`; not a credential.
    pub id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
    /// The session making this request.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current: String,
    /// 8–128 characters, not a common password.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub new: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unlock {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub password: String,
}

/// What the browser needs for one passkey ceremony.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CeremonyStart {
    /// Hand back with the result; valid for one attempt within a few minutes.
    pub ceremony: String,
    /// For `navigator.credentials.create()` (registration) or `.get()` (sign-in), with binary
    /// fields as base64url strings: `{ "publicKey": { "challenge": "…", … } }`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationFinish {
    pub ceremony: String,
    /// A name to tell this passkey apart in the list ("仕事用スマホ"); at most 60 characters.
    #[serde(default)]
    pub name: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, binary fields as
    /// base64url (`id`, `rawId`, `response.attestationObject`, `response.clientDataJSON`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The authenticator may sync it to the owner's other devices (a "synced passkey")…
    pub backup_eligible: bool,
    /// …and says it has.
    pub backup_state: bool,
}

/// Both for a passkey as the second factor; neither for a password-less sign-in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeySigninStart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeySigninFinish {
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, binary fields as
    /// base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// A registered client certificate, without its DER.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientCertificate {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub user: UserId,
    /// SHA-256 of the certificate's DER encoding, lowercase hex.
    pub fingerprint: String,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewClientCertificate {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub certificate_pem: String,
    /// For people: which device or card this is.
    #[serde(default)]
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoked {
    /// Live WebSocket connections of the owner that were closed.
    pub connections_closed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificatePolicy {
    /// Whether the municipality's professionals must connect with a registered client
    /// certificate.
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VapidKey {
    /// The uncompressed P-256 public key, base64url: `applicationServerKey` for
    /// `pushManager.subscribe`.
    pub public_key: String,
}

/// A browser's `PushSubscription.toJSON()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSubscription {
    pub endpoint: String,
    pub keys: SubscriptionKeysBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriptionKeysBody {
    /// The browser's P-256 public key, base64url (65 bytes).
    pub p256dh: String,
    /// The authentication secret, base64url (16 bytes).
    pub auth: String,
}

/// Minutes in a day: quiet hours are minutes after midnight Japan time, `0..MINUTES_PER_DAY`.
pub const MINUTES_PER_DAY: i64 = 24 * 60;

/// A user's notification settings. Without a stored row: on, no details, no quiet hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSettings {
    pub enabled: bool,
    /// Show the room's title, the author and the text on the lock screen.
    pub show_details: bool,
    /// Quiet hours, minutes after midnight Japan time (0–1439); both or neither. The window
    /// may wrap past midnight (22:00–07:00 is `1320`–`420`).
    #[serde(default)]
    pub quiet_start: Option<i64>,
    #[serde(default)]
    pub quiet_end: Option<i64>,
    /// Urgent (至急) posts, and reminders of urgent acknowledgement requests, reach this
    /// user during quiet hours too. Off unless the user turns it on.
    #[serde(default)]
    pub urgent_in_quiet: bool,
    /// Rooms the user muted. Read-only here: changed one room at a time through
    /// `POST /api/push/rooms/{room}/mute`, so a stale settings screen cannot undo a mute.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub muted_rooms: Vec<RoomId>,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            enabled: true,
            show_details: false,
            quiet_start: None,
            quiet_end: None,
            urgent_in_quiet: false,
            muted_rooms: vec![],
        }
    }
}

impl PushSettings {
    /// Checks what a client sent; the reason is for people.
    pub fn validate(&self) -> Result<(), &'static str> {
        let minute = |m: Option<i64>| m.is_none_or(|m| (0..MINUTES_PER_DAY).contains(&m));
        if self.quiet_start.is_some() != self.quiet_end.is_some() {
            return Err("quiet hours need both a start and an end");
        }
        if !minute(self.quiet_start) || !minute(self.quiet_end) {
            return Err("quiet hours are minutes after midnight (0–1439)");
        }
        Ok(())
    }
}

/// The push settings, and whether this browser (this session) is subscribed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushStatus {
    #[serde(flatten)]
    pub settings: PushSettings,
    pub subscribed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mute {
    pub muted: bool,
}
