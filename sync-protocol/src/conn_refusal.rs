//! Why the server would not keep a `/ws` connection: it is over a connection cap. The
//! server sends the refusal as the close frame right after the handshake; the app reads it
//! back with [`ConnRefusal::parse`], tells the user what to do, and retries slowly instead
//! of hammering a server that said no.

/// A connection the server refused to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnRefusal {
    /// The user already holds `limit` connections (tabs, devices): reconnecting does not
    /// help until one of them closes.
    TooManyConnections { limit: usize },
    /// The server holds as many connections as it can: try again later.
    ServerBusy,
}

/// Close code of [`ConnRefusal::TooManyConnections`]: 1008, policy violation.
pub const TOO_MANY_CODE: u16 = 1008;
/// Close code of [`ConnRefusal::ServerBusy`]: 1013, try again later.
pub const BUSY_CODE: u16 = 1013;

const TOO_MANY_PREFIX: &str = "too many connections: at most ";
const TOO_MANY_SUFFIX: &str = " per user; close another tab or device";
const BUSY_REASON: &str = "server busy; retry later";

impl ConnRefusal {
    /// The close frame: code and a reason a person can act on (and the app can parse).
    pub fn close(self) -> (u16, String) {
        match self {
            ConnRefusal::TooManyConnections { limit } => (
                TOO_MANY_CODE,
                format!("{TOO_MANY_PREFIX}{limit}{TOO_MANY_SUFFIX}"),
            ),
            ConnRefusal::ServerBusy => (BUSY_CODE, BUSY_REASON.to_owned()),
        }
    }

    /// The refusal a close frame carries, if it is one.
    pub fn parse(code: u16, reason: &str) -> Option<ConnRefusal> {
        match code {
            TOO_MANY_CODE => reason
                .strip_prefix(TOO_MANY_PREFIX)?
                .strip_suffix(TOO_MANY_SUFFIX)?
                .parse()
                .ok()
                .map(|limit| ConnRefusal::TooManyConnections { limit }),
            BUSY_CODE if reason == BUSY_REASON => Some(ConnRefusal::ServerBusy),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_end::{SessionEnd, CLOSE_CODE};

    #[test]
    fn refusals_survive_their_close_frame() {
        for refusal in [
            ConnRefusal::TooManyConnections { limit: 8 },
            ConnRefusal::TooManyConnections { limit: 1 },
            ConnRefusal::ServerBusy,
        ] {
            let (code, reason) = refusal.close();
            assert!(
                reason.len() <= 123,
                "a close reason fits in a control frame"
            );
            assert_eq!(ConnRefusal::parse(code, &reason), Some(refusal));
        }
    }

    #[test]
    fn other_closes_are_not_refusals() {
        // The same code as a session's end: those reasons stay session ends.
        assert_eq!(TOO_MANY_CODE, CLOSE_CODE);
        for end in SessionEnd::ALL {
            assert_eq!(ConnRefusal::parse(CLOSE_CODE, end.as_str()), None);
        }
        // 1013 is also a storage failure or a slow reader: reconnecting is right there.
        assert_eq!(ConnRefusal::parse(1013, "storage unavailable"), None);
        assert_eq!(ConnRefusal::parse(1000, BUSY_REASON), None);
        assert_eq!(
            ConnRefusal::parse(
                1008,
                "too many connections: at most x per user; close another tab or device"
            ),
            None
        );
    }
}
