//! Why a session's sockets were closed. The server sends the reason as the close frame of
//! every `/ws` and `/yjs/{room}` socket of a session that ended (code [`CLOSE_CODE`]); the app
//! reads it back with [`SessionEnd::parse`], returns to the sign-in screen and says why.

/// The close code of a socket whose session ended: 1008, policy violation (RFC 6455 §7.4.1).
/// The reason string, not the code, tells the cases apart.
pub const CLOSE_CODE: u16 = 1008;

/// How a session ended. The strings are stable: clients match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionEnd {
    /// The user signed out on this device.
    SignedOut,
    /// The user ended this session from another device.
    Revoked,
    /// The password was changed (on another device): every other session ends.
    PasswordChanged,
    /// A first second factor was enabled (on another device): every other session ends.
    SecondFactorEnabled,
    /// No request for the idle time.
    IdleTimeout,
    /// The session's absolute lifetime is over.
    Expired,
    /// An administrator disabled the account.
    AccountDisabled,
    /// An administrator reset the password.
    PasswordReset,
    /// The client certificate the session used was revoked.
    CertificateRevoked,
    /// The session is gone for another reason (ended on another node, or by the CLI).
    Ended,
}

impl SessionEnd {
    pub const ALL: [SessionEnd; 10] = [
        SessionEnd::SignedOut,
        SessionEnd::Revoked,
        SessionEnd::PasswordChanged,
        SessionEnd::SecondFactorEnabled,
        SessionEnd::IdleTimeout,
        SessionEnd::Expired,
        SessionEnd::AccountDisabled,
        SessionEnd::PasswordReset,
        SessionEnd::CertificateRevoked,
        SessionEnd::Ended,
    ];

    /// The close frame's reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionEnd::SignedOut => "signed_out",
            SessionEnd::Revoked => "session_revoked",
            SessionEnd::PasswordChanged => "password_changed",
            SessionEnd::SecondFactorEnabled => "second_factor_enabled",
            SessionEnd::IdleTimeout => "idle_timeout",
            SessionEnd::Expired => "expired",
            SessionEnd::AccountDisabled => "account_disabled",
            SessionEnd::PasswordReset => "password_reset",
            SessionEnd::CertificateRevoked => "certificate_revoked",
            SessionEnd::Ended => "session_ended",
        }
    }

    /// The reason of a close frame, if it says a session ended.
    pub fn parse(reason: &str) -> Option<SessionEnd> {
        SessionEnd::ALL.into_iter().find(|e| e.as_str() == reason)
    }
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_and_others_are_not_a_session_end() {
        for end in SessionEnd::ALL {
            assert_eq!(SessionEnd::parse(end.as_str()), Some(end));
        }
        assert_eq!(SessionEnd::parse("maintenance"), None);
        assert_eq!(SessionEnd::parse(""), None);
    }
}
