//! The catalogue of audit actions: every entry of the audit log names one of these. The
//! names are stable strings (`signin.ok`, `admin.user.role`, `signout`): they are stored in
//! `audit_log.action`, filtered on by prefix (`?action=signin.`) and read in CSV exports,
//! so a name once written is never changed; a new kind of entry adds a variant.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Declares the enum, its names and the list of all of them from one table.
macro_rules! actions {
    ($($variant:ident = $name:literal,)*) => {
        /// What an audit entry records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AuditAction {
            $(#[doc = $name] $variant,)*
        }

        impl AuditAction {
            /// Every action, in catalogue order.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The stored name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    AdminAgreementCreate = "admin.agreement.create",
    AdminAgreementJoin = "admin.agreement.join",
    AdminAgreementLeave = "admin.agreement.leave",
    AdminAnnouncementCreate = "admin.announcement.create",
    AdminAnnouncementDelete = "admin.announcement.delete",
    AdminAuditExport = "admin.audit.export",
    AdminAuditView = "admin.audit.view",
    AdminClientCertificatePolicy = "admin.client_certificate.policy",
    AdminClientCertificateRegister = "admin.client_certificate.register",
    AdminClientCertificateRevoke = "admin.client_certificate.revoke",
    AdminMaintenanceCreate = "admin.maintenance.create",
    AdminMaintenanceDelete = "admin.maintenance.delete",
    AdminMunicipalityCreate = "admin.municipality.create",
    AdminMunicipalityUpdate = "admin.municipality.update",
    AdminOrganizationCreate = "admin.organization.create",
    AdminOrganizationUpdate = "admin.organization.update",
    AdminPatientArchive = "admin.patient.archive",
    AdminPatientCreate = "admin.patient.create",
    AdminPatientUnarchive = "admin.patient.unarchive",
    AdminPatientUpdate = "admin.patient.update",
    AdminRoomArchive = "admin.room.archive",
    AdminRoomCreate = "admin.room.create",
    AdminRoomUnarchive = "admin.room.unarchive",
    AdminRoomUpdate = "admin.room.update",
    AdminTemplateCreate = "admin.template.create",
    AdminTemplateDelete = "admin.template.delete",
    AdminTemplateUpdate = "admin.template.update",
    AdminUserCreate = "admin.user.create",
    AdminUserDisable = "admin.user.disable",
    AdminUserEnable = "admin.user.enable",
    AdminUserPasswordReset = "admin.user.password_reset",
    AdminUserProfession = "admin.user.profession",
    AdminUserRole = "admin.user.role",
    AdminUserUpdate = "admin.user.update",
    AppUnlockFailed = "app.unlock_failed",
    AppUnlocked = "app.unlocked",
    AttachmentDenied = "attachment.denied",
    AttachmentDownload = "attachment.download",
    AttachmentThumbnail = "attachment.thumbnail",
    AttachmentUpload = "attachment.upload",
    ClientCertificateRevokedByCrl = "client_certificate.revoked_by_crl",
    DataImport = "data.import",
    InitAccount = "init.account",
    InitMunicipality = "init.municipality",
    ParkingAgreementShare = "parking.agreement.share",
    ParkingBookingCancel = "parking.booking.cancel",
    ParkingBookingCreate = "parking.booking.create",
    ParkingBookingLeftEarly = "parking.booking.left_early",
    ParkingLenderCreate = "parking.lender.create",
    ParkingLenderUpdate = "parking.lender.update",
    ParkingManager = "parking.manager",
    ParkingOrganizationApprove = "parking.organization.approve",
    ParkingOrganizationRevoke = "parking.organization.revoke",
    ParkingSpaceAvailability = "parking.space.availability",
    ParkingSpaceCreate = "parking.space.create",
    ParkingSpacePause = "parking.space.pause",
    ParkingSpacePhoto = "parking.space.photo",
    ParkingSpacePhotoDelete = "parking.space.photo.delete",
    ParkingSpaceResume = "parking.space.resume",
    ParkingSpaceUpdate = "parking.space.update",
    ParkingTroubleReport = "parking.trouble.report",
    PasskeyRegisterFailed = "passkey.register_failed",
    PasskeyRegistered = "passkey.registered",
    PasskeyRemoved = "passkey.removed",
    PasskeyUsed = "passkey.used",
    PasswordChanged = "password.changed",
    PasswordSetByCli = "password.set_by_cli",
    PatientRoomRead = "patient_room.read",
    PolicySecondFactor = "policy.second_factor",
    RegisterDisasterDeclare = "register.disaster.declare",
    RegisterDisasterEnd = "register.disaster.end",
    RegisterDisasterGrant = "register.disaster.grant",
    RegisterDisasterRevoke = "register.disaster.revoke",
    RegisterExport = "register.export",
    RegisterImport = "register.import",
    RegisterLegendUpdate = "register.legend.update",
    RegisterList = "register.list",
    RegisterPersonCreate = "register.person.create",
    RegisterPersonRestore = "register.person.restore",
    RegisterPersonRetire = "register.person.retire",
    RegisterPersonUpdate = "register.person.update",
    RegisterPersonView = "register.person.view",
    RegisterSafetyMark = "register.safety.mark",
    RegisterStaff = "register.staff",
    RoomCreate = "room.create",
    RoomHomePin = "room.home.pin",
    RoomHomeRead = "room.home.read",
    RoomHomeUnpin = "room.home.unpin",
    RoomMemberAdded = "room.member.added",
    RoomMemberRefused = "room.member.refused",
    RoomMemberRemoved = "room.member.removed",
    RoomMemberRole = "room.member.role",
    RoomOpen = "room.open",
    RoomRecordExport = "room.record.export",
    Search = "search",
    SessionRevoked = "session.revoked",
    Signout = "signout",
    SigninEnrolmentOnly = "signin.enrolment_only",
    SigninFailed = "signin.failed",
    SigninOk = "signin.ok",
    SigninPasskeyFailed = "signin.passkey_failed",
    SigninRecoveryCodeUsed = "signin.recovery_code_used",
    SigninSecondFactorFailed = "signin.second_factor_failed",
    SigninThrottled = "signin.throttled",
    TotpDisabled = "totp.disabled",
    TotpEnabled = "totp.enabled",
    TotpSetup = "totp.setup",
    UpdateRefused = "update.refused",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown audit action {:?}", self.0)
    }
}

impl std::error::Error for UnknownAction {}

impl FromStr for AuditAction {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_lowercase() {
        let names: HashSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for name in names {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{name}"
            );
        }
    }

    /// The names already stored in audit logs: changing one would split its history in
    /// two, and break the filters and exports administrators use.
    #[test]
    fn names_are_stable() {
        let expected = [
            "admin.agreement.create",
            "admin.agreement.join",
            "admin.agreement.leave",
            "admin.announcement.create",
            "admin.announcement.delete",
            "admin.audit.export",
            "admin.audit.view",
            "admin.client_certificate.policy",
            "admin.client_certificate.register",
            "admin.client_certificate.revoke",
            "admin.maintenance.create",
            "admin.maintenance.delete",
            "admin.municipality.create",
            "admin.municipality.update",
            "admin.organization.create",
            "admin.organization.update",
            "admin.patient.archive",
            "admin.patient.create",
            "admin.patient.unarchive",
            "admin.patient.update",
            "admin.room.archive",
            "admin.room.create",
            "admin.room.unarchive",
            "admin.room.update",
            "admin.template.create",
            "admin.template.delete",
            "admin.template.update",
            "admin.user.create",
            "admin.user.disable",
            "admin.user.enable",
            "admin.user.password_reset",
            "admin.user.profession",
            "admin.user.role",
            "admin.user.update",
            "app.unlock_failed",
            "app.unlocked",
            "attachment.denied",
            "attachment.download",
            "attachment.thumbnail",
            "attachment.upload",
            "client_certificate.revoked_by_crl",
            "data.import",
            "init.account",
            "init.municipality",
            "parking.agreement.share",
            "parking.booking.cancel",
            "parking.booking.create",
            "parking.booking.left_early",
            "parking.lender.create",
            "parking.lender.update",
            "parking.manager",
            "parking.organization.approve",
            "parking.organization.revoke",
            "parking.space.availability",
            "parking.space.create",
            "parking.space.pause",
            "parking.space.photo",
            "parking.space.photo.delete",
            "parking.space.resume",
            "parking.space.update",
            "parking.trouble.report",
            "passkey.register_failed",
            "passkey.registered",
            "passkey.removed",
            "passkey.used",
            "password.changed",
            "password.set_by_cli",
            "patient_room.read",
            "policy.second_factor",
            "register.disaster.declare",
            "register.disaster.end",
            "register.disaster.grant",
            "register.disaster.revoke",
            "register.export",
            "register.import",
            "register.legend.update",
            "register.list",
            "register.person.create",
            "register.person.restore",
            "register.person.retire",
            "register.person.update",
            "register.person.view",
            "register.safety.mark",
            "register.staff",
            "room.create",
            "room.home.pin",
            "room.home.read",
            "room.home.unpin",
            "room.member.added",
            "room.member.refused",
            "room.member.removed",
            "room.member.role",
            "room.open",
            "room.record.export",
            "search",
            "session.revoked",
            "signout",
            "signin.enrolment_only",
            "signin.failed",
            "signin.ok",
            "signin.passkey_failed",
            "signin.recovery_code_used",
            "signin.second_factor_failed",
            "signin.throttled",
            "totp.disabled",
            "totp.enabled",
            "totp.setup",
            "update.refused",
        ];
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn serde_and_parsing_use_the_stored_name() {
        for &action in AuditAction::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(serde_json::from_str::<AuditAction>(&json).unwrap(), action);
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        assert!("signin.".parse::<AuditAction>().is_err());
    }
}
