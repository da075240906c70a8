//! The API's enums. Each is a snake_case string in JSON and in the database, and a string
//! enum in the OpenAPI document.

use serde::{Deserialize, Serialize};

/// An enum with its text form (`as_str`, `parse`), the same as its JSON.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", serde(rename_all = "snake_case"))]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        // By hand rather than derived: one match on the text (`parse`) serves both, which
        // keeps the wasm app small. The OpenAPI schema still reads `rename_all` above.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&text, &[$($text),+])
                })
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What a professional does; shown next to their name in every room.
    Profession {
        Doctor = "doctor",
        Nurse = "nurse",
        CareManager = "care_manager",
        Pharmacist = "pharmacist",
        Therapist = "therapist",
        Helper = "helper",
        CityStaff = "city_staff",
        Other = "other",
    }
);

text_enum!(
    /// What an account may administer.
    Role {
        Member = "member",
        MunicipalityAdmin = "municipality_admin",
        SystemAdmin = "system_admin",
    }
);

impl Role {
    /// A municipality or system administrator.
    pub fn is_admin(self) -> bool {
        self != Role::Member
    }
}

text_enum!(
    /// The kind of a facility, as stored in `organizations.kind`.
    OrganizationKind {
        Clinic = "clinic",
        Hospital = "hospital",
        NursingStation = "nursing_station",
        CareOffice = "care_office",
        Pharmacy = "pharmacy",
        City = "city",
        Other = "other",
    }
);

text_enum!(
    /// A member's role in a room, as stored in `room_members.role`.
    MemberRole {
        Owner = "owner",
        Member = "member",
    }
);

text_enum!(
    /// A kind of second factor an account can have.
    SecondFactorKind {
        Totp = "totp",
        Passkey = "passkey",
    }
);

text_enum!(
    /// The stable, machine-readable code of every error answer (`ErrorBody::error`).
    ErrorCode {
        /// Not signed in.
        Unauthorized = "unauthorized",
        /// The municipality requires a client certificate registered to the user (mTLS).
        ClientCertificateRequired = "client_certificate_required",
        /// Wrong login id or password (one answer for both).
        BadCredentials = "bad_credentials",
        /// The password was right; the account has a second factor and none was given.
        SecondFactorRequired = "second_factor_required",
        /// A passkey ceremony that cannot succeed.
        PasskeyRejected = "passkey_rejected",
        /// The server has no WebAuthn relying party.
        PasskeysUnavailable = "passkeys_unavailable",
        /// A wrong, expired or replayed TOTP or recovery code at sign-in.
        BadSecondFactor = "bad_second_factor",
        /// A wrong TOTP code where a signed-in user confirms or removes their second factor.
        InvalidCode = "invalid_code",
        /// The session may only enrol a second factor.
        EnrolmentRequired = "enrolment_required",
        /// The session may only change its password.
        PasswordChangeRequired = "password_change_required",
        /// Under maintenance: only administrators are served.
        Maintenance = "maintenance",
        /// A cookie-authenticated mutation without our `Origin` or CSRF header.
        CsrfRejected = "csrf_rejected",
        /// A new password that is too short, too long or too common.
        WeakPassword = "weak_password",
        Forbidden = "forbidden",
        NotFound = "not_found",
        Conflict = "conflict",
        BadRequest = "bad_request",
        /// `renraku import` refused a data set.
        ImportRefused = "import_refused",
        /// A body over the limit (uploads too).
        TooLarge = "too_large",
        /// Sent with `Retry-After`.
        TooManyRequests = "too_many_requests",
        Internal = "internal",
        /// A feature this server is not set up for (the PDF export without a Japanese font).
        Unavailable = "unavailable",
        /// Uploads: a type not allowed.
        UnsupportedType = "unsupported_type",
        /// Uploads: the bytes disagree with the name's extension.
        TypeMismatch = "type_mismatch",
        /// Uploads: a name with a path, control or bidirectional characters.
        BadFileName = "bad_file_name",
        /// Uploads: nothing in it.
        EmptyFile = "empty_file",
        /// Uploads: the body ended early.
        IncompleteUpload = "incomplete_upload",
        /// Uploads: an image over the pixel limit.
        ImageTooLarge = "image_too_large",
        /// 駐車場: another booking holds part of the window (the message names its time and
        /// organisation).
        BookingConflict = "booking_conflict",
        /// 駐車場: the window is not inside the space's available hours, or it is paused.
        OutsideAvailability = "outside_availability",
    }
);

impl Profession {
    /// The profession as a Japanese care or medical record names it (the app's labels).
    pub fn japanese(self) -> &'static str {
        match self {
            Profession::Doctor => "医師",
            Profession::Nurse => "看護師",
            Profession::CareManager => "ケアマネジャー",
            Profession::Pharmacist => "薬剤師",
            Profession::Therapist => "リハビリ職",
            Profession::Helper => "ヘルパー",
            Profession::CityStaff => "市職員",
            Profession::Other => "その他",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text form is the JSON form, for every value of every enum.
    #[test]
    fn text_is_json() {
        fn check<T: Serialize + for<'a> Deserialize<'a> + PartialEq + std::fmt::Debug + Copy>(
            all: &[T],
            as_str: fn(T) -> &'static str,
        ) {
            for &v in all {
                let json = serde_json::to_string(&v).unwrap();
                assert_eq!(json, format!("\"{}\"", as_str(v)));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
            }
        }
        check(Profession::ALL, Profession::as_str);
        check(Role::ALL, Role::as_str);
        check(OrganizationKind::ALL, OrganizationKind::as_str);
        check(MemberRole::ALL, MemberRole::as_str);
        check(SecondFactorKind::ALL, SecondFactorKind::as_str);
        check(ErrorCode::ALL, ErrorCode::as_str);
    }
}
