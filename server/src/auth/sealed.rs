//! Secrets at rest: TOTP secrets are stored encrypted (AES-256-GCM) under a key kept outside
//! the database, so a copy of the database (a backup, a dump, a stolen disk image of the
//! database server) does not let its holder generate codes.
//!
//! Stored form: `v1:` + base64url(nonce ‖ ciphertext ‖ tag), with a fresh 96-bit random
//! nonce per value and associated data naming the user and the column, so a value copied to
//! another user's row (or from the pending to the confirmed column) does not open.
//!
//! The key: 32 random bytes, hex, in `--secret-key-file` (default `<data-dir>/secret.key`,
//! created on first start, mode 0600). Nodes sharing one PostgreSQL database must share the
//! key file. Values written before encryption existed are encrypted at start
//! ([`seal_plaintext_totp`]).

use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::rngs::OsRng;
use rand::RngCore;
use renraku_sync::UserId;
use std::path::Path;

const PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

/// Which stored secret a value is (part of the associated data).
#[derive(Clone, Copy, Debug)]
pub enum Column {
    TotpSecret,
    TotpPending,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::TotpSecret => "totp_secret",
            Column::TotpPending => "totp_pending_secret",
        }
    }
}

/// The cipher for secrets at rest. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

fn aad(user: UserId, column: Column) -> String {
    format!("renraku/{}/{}", column.name(), user.get())
}

impl Sealer {
    pub fn from_key(key: &[u8; KEY_BYTES]) -> Self {
        Self {
            cipher: Aes256Gcm::new_from_slice(key).expect("a 32-byte key"),
        }
    }

    /// Reads the configured key file, creating it (with a fresh random key, readable by the
    /// owner only) if it does not exist.
    pub fn from_config(config: &Config) -> Result<Self> {
        let path = config.secret_key_file();
        Ok(Self::from_key(&load_or_create_key(&path)?))
    }

    pub fn seal(&self, user: UserId, column: Column, secret: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let aad = aad(user, column);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes))
    }

    /// The secret in a stored value. A value without the prefix was written before
    /// encryption existed and is returned as it is (start-up encrypts those).
    pub fn open(&self, user: UserId, column: Column, stored: &str) -> Result<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let unreadable =
            || Error::internal(format!("{} of user {user} does not open", column.name()));
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(encoded.as_bytes())
            .map_err(|_| unreadable())?;
        if bytes.len() < NONCE_BYTES {
            return Err(unreadable());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| unreadable())?;
        let aad = aad(user, column);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| unreadable())?;
        String::from_utf8(plain).map_err(|_| unreadable())
    }
}

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn load_or_create_key(path: &Path) -> Result<[u8; KEY_BYTES]> {
    let bad = |why: String| Error::internal(format!("secret key {}: {why}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| bad("not hex".into()))?;
            bytes
                .try_into()
                .map_err(|_| bad(format!("not {KEY_BYTES} bytes")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; KEY_BYTES];
            OsRng.fill_bytes(&mut key);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
            }
            match write_new_private(path, &format!("{}\n", hex::encode(key))) {
                Ok(()) => {}
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(bad(e.to_string())),
            }
            // Read back whatever is there now (ours, or a concurrent creator's).
            let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
            let bytes = hex::decode(text.trim()).map_err(|_| bad("not hex".into()))?;
            bytes
                .try_into()
                .map_err(|_| bad(format!("not {KEY_BYTES} bytes")))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Creates `path` (failing if it exists), readable and writable by the owner only. The file
/// appears whole or not at all: written under a name of its own, then linked into place
/// (which fails if `path` exists), so a node starting at the same moment on a shared data
/// directory never reads a key half written.
fn write_new_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".new-{:016x}", OsRng.next_u64()));
    let draft = std::path::PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&draft).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    linked
}

/// Encrypts TOTP secrets stored before encryption existed (or by an older server); returns
/// how many values were sealed. Safe to run at every start, and on several nodes at once.
pub async fn seal_plaintext_totp(db: &Db, sealer: &Sealer) -> Result<u64> {
    let mut sealed = 0;
    for (user, secret, pending) in db.unsealed_totp_rows().await? {
        let secret = secret
            .filter(|s| !is_sealed(s))
            .map(|s| (s.clone(), sealer.seal(user, Column::TotpSecret, &s)));
        let pending = pending
            .filter(|s| !is_sealed(s))
            .map(|s| (s.clone(), sealer.seal(user, Column::TotpPending, &s)));
        sealed += db.reseal_totp(user, secret, pending).await?;
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_user_and_column() {
        let sealer = Sealer::from_key(&[7; KEY_BYTES]);
        let (a, b) = (UserId::new(1), UserId::new(2));
        let stored = sealer.seal(a, Column::TotpSecret, "JBSWY3DPEHPK3PXP");
        assert!(is_sealed(&stored));
        assert!(!stored.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(
            stored,
            sealer.seal(a, Column::TotpSecret, "JBSWY3DPEHPK3PXP")
        );
        assert_eq!(
            sealer.open(a, Column::TotpSecret, &stored).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(sealer.open(b, Column::TotpSecret, &stored).is_err());
        assert!(sealer.open(a, Column::TotpPending, &stored).is_err());
        let other_key = Sealer::from_key(&[8; KEY_BYTES]);
        assert!(other_key.open(a, Column::TotpSecret, &stored).is_err());
        // Values from before encryption pass through.
        assert_eq!(sealer.open(a, Column::TotpSecret, "ABC").unwrap(), "ABC");
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let first = load_or_create_key(&path).unwrap();
        assert_eq!(load_or_create_key(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(load_or_create_key(&path).is_err());
    }

    #[test]
    fn nodes_starting_at_once_on_a_shared_data_directory_get_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let keys: Vec<_> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create_key(&path).unwrap()))
                .collect();
            starts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        // Nothing is left beside the key.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
