//! Passkeys (WebAuthn) through webauthn-rs: the relying party derived from the configuration,
//! and the pieces both ceremonies share.
//!
//! WebAuthn binds a credential to a relying-party id, which must be a domain (browsers refuse
//! IP addresses). It is the host of `--public-url` when one is set; without one it is
//! `localhost` (any port, http or https), the only name a development server is sure to
//! answer to. A public URL whose host is an IP address leaves passkeys unavailable.

use crate::config::Config;
use crate::db::passkeys::PasskeyRow;
use crate::error::{Error, Result};
use renraku_sync::UserId;
use std::time::Duration;
use webauthn_rs::prelude::{Passkey, Url, Uuid};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Shown by authenticators next to the account.
const RP_NAME: &str = "Renraku";
/// How long the server keeps a ceremony's state: the browser's own timeout (webauthn-rs
/// asks for 5 minutes) and a little more for the round trips.
pub const CEREMONY_TTL: Duration = Duration::from_secs(6 * 60);
/// Longest name a user may give a passkey.
pub const MAX_NAME: usize = 60;
/// Upper 64 bits of every WebAuthn user handle ("renraku\0"); the lower 64 are the user id.
/// Stable, so one account is one user to an authenticator however often it registers.
const USER_HANDLE_PREFIX: u64 = 0x7265_6e72_616b_7500;

/// The relying party for this configuration, or why passkeys are unavailable.
pub fn relying_party(config: &Config) -> Result<Webauthn, String> {
    let (rp_id, origins, any_port) = match config.public_url.as_deref() {
        Some(public) => {
            let url = Url::parse(public).map_err(|e| format!("public URL {public:?}: {e}"))?;
            let Some(domain) = url.domain() else {
                return Err(format!(
                    "the public URL {public:?} has no domain name (WebAuthn does not allow IP \
                     addresses)"
                ));
            };
            let origin = Url::parse(&url.origin().ascii_serialization())
                .map_err(|e| format!("public URL {public:?}: {e}"))?;
            (domain.to_owned(), vec![origin], false)
        }
        None => {
            let origins = ["http://localhost", "https://localhost"]
                .iter()
                .map(|u| Url::parse(u).expect("valid literal URL"))
                .collect();
            ("localhost".to_owned(), origins, true)
        }
    };
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|e| format!("relying party {rp_id}: {e}"))?
        .rp_name(RP_NAME)
        .allow_any_port(any_port);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|e| format!("relying party {rp_id}: {e}"))
}

/// The user handle an authenticator stores for `user`.
pub fn user_handle(user: UserId) -> Uuid {
    Uuid::from_u64_pair(USER_HANDLE_PREFIX, user.get() as u64)
}

/// The user an authenticator's user handle names, if it is one of ours.
pub fn user_of_handle(handle: Uuid) -> Option<UserId> {
    let (prefix, user) = handle.as_u64_pair();
    (prefix == USER_HANDLE_PREFIX)
        .then(|| i64::try_from(user).ok())
        .flatten()
        .map(UserId::new)
}

/// Makes registrations ask for a discoverable credential where the authenticator can keep
/// one ("preferred"), so the passkey also works password-less. webauthn-rs' passkey
/// registration asks for none; what it verifies does not depend on it.
pub fn prefer_discoverable(options: &mut serde_json::Value) {
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|s| s.as_object_mut())
    {
        selection.insert("residentKey".into(), "preferred".into());
        selection.insert("requireResidentKey".into(), false.into());
    }
}

/// A stored passkey, parsed.
pub fn parse(row: &PasskeyRow) -> Result<Passkey> {
    serde_json::from_str(&row.passkey)
        .map_err(|e| Error::internal(format!("stored passkey {} unreadable: {e}", row.id)))
}

/// The credential id as stored and compared: base64url without padding, as in the
/// browser's JSON.
pub fn credential_id(passkey: &Passkey) -> String {
    encode_id(passkey.cred_id().as_ref())
}

pub fn encode_id(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// The counter and backup flags a passkey carries (webauthn-rs keeps them private; its
/// serialized form names them).
pub fn counter_and_flags(passkey: &Passkey) -> (i64, bool, bool) {
    let value = serde_json::to_value(passkey).unwrap_or_default();
    let cred = &value["cred"];
    (
        cred["counter"].as_i64().unwrap_or(0),
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    )
}

/// The server's half of a ceremony, as kept between its two requests.
pub fn to_state<T: serde::Serialize>(state: &T) -> Result<String> {
    serde_json::to_string(state).map_err(|e| Error::internal(format!("ceremony state: {e}")))
}

pub fn from_state<T: serde::de::DeserializeOwned>(state: &str) -> Result<T> {
    serde_json::from_str(state).map_err(|e| Error::internal(format!("ceremony state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_follows_the_public_url() {
        let mut config = Config::with_data_dir("/tmp/x");
        let local = relying_party(&config).unwrap();
        assert_eq!(local.get_allowed_origins().len(), 2);
        config.public_url = Some("https://renraku.city.example/".into());
        let public = relying_party(&config).unwrap();
        assert_eq!(
            public.get_allowed_origins()[0].as_str(),
            "https://renraku.city.example/"
        );
        config.public_url = Some("http://192.0.2.7:8080".into());
        assert!(relying_party(&config).is_err());
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle(UserId::new(7)), user_handle(UserId::new(7)));
        assert_ne!(user_handle(UserId::new(7)), user_handle(UserId::new(8)));
        assert_eq!(
            user_of_handle(user_handle(UserId::new(7))),
            Some(UserId::new(7))
        );
        assert_eq!(user_of_handle(Uuid::from_u64_pair(1, 7)), None);
    }
}
