//! argon2id password hashing, off the async runtime (each hash takes tens of milliseconds),
//! and the policy every new password must meet.

use crate::error::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashSet;
use std::sync::LazyLock;

/// NIST SP 800-63B: at least 8 characters; a long upper bound so passphrases fit, but not
/// unbounded. Counted in characters, not bytes, so Japanese passphrases are not penalized.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Lower-cased common passwords, from the list shipped in the binary.
static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// Whether `password` may be set for the account `login_id`: the length bounds, not on the
/// common-password list, not the login id itself.
pub fn check_new_password(password: &str, login_id: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::WeakPassword(
            "8文字以上にしてください。(At least 8 characters.)",
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::WeakPassword(
            "128文字以内にしてください。(At most 128 characters.)",
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower) || lower == login_id.to_lowercase() {
        return Err(Error::WeakPassword(
            "よく使われるパスワードです。(Too common or guessable.)",
        ));
    }
    Ok(())
}

/// Verified against when the login id is unknown, so that a wrong login id costs as much
/// time as a wrong password and response times do not reveal which accounts exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("renraku-dummy-password-never-matches").expect("argon2 hashes a constant")
});

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    // A malformed stored hash is a failed sign-in, not a server error: nothing the client
    // does can fix it, and a 500 would reveal that the account exists.
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hashes with argon2id (the crate's default algorithm and parameters, OWASP's minimum).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| Error::internal(format!("hashing task: {e}")))?
}

/// Checks `password` against `hash`; with no hash (unknown account) it spends the same time
/// on a dummy hash and returns false.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            verify_blocking(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .map_err(|e| Error::internal(format!("verifying task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_meet_the_policy() {
        assert!(check_new_password("short", "nurse1").is_err());
        assert!(check_new_password(&"x".repeat(129), "nurse1").is_err());
        assert!(check_new_password(&"x".repeat(128), "nurse1").is_ok());
        for common in [
            "password",
            "Password1",
            "12345678",
            "renraku-demo",
            "iloveyou",
        ] {
            assert!(check_new_password(common, "nurse1").is_err(), "{common}");
        }
        assert!(check_new_password("nurse123", "NURSE123").is_err());
        assert!(check_new_password("夕焼け小焼けの赤とんぼ", "nurse1").is_ok());
        assert!(check_new_password("correct horse battery", "nurse1").is_ok());
        assert!(COMMON.len() > 250);
    }

    #[tokio::test]
    async fn hashes_and_verifies() {
        let hash = hash_password("パスワード".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("パスワード".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify_password("password".into(), Some(hash))
            .await
            .unwrap());
        assert!(!verify_password("x".into(), None).await.unwrap());
        assert!(!verify_password("x".into(), Some("garbage".into()))
            .await
            .unwrap());
    }
}
