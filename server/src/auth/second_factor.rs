//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, ±1 step of clock drift) and
//! recovery codes. Small enough to implement here rather than pull a crate in.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const STEP_SECS: i64 = 30;
pub const DIGITS: u32 = 6;
/// 160 bits, the HMAC-SHA1 block size RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Steps either side of now that are accepted: phones' clocks drift, and people type slowly.
const DRIFT_STEPS: i64 = 1;
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Crockford's base32 alphabet: no I, L, O, U, so codes read aloud or copied by hand
/// survive. 16 symbols = 80 random bits, which is why a fast hash is enough to store them.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_LEN: usize = 16;

/// A fresh secret, base32 without padding, as authenticator apps take it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// The time step of a unix time in seconds.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The current time step.
pub fn current_step() -> i64 {
    step_at(crate::db::now_ms().div_euclid(1000))
}

/// The code for `step`, or `None` if the stored secret is not valid base32.
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // Dynamic truncation, RFC 4226 §5.3.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Some(format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    ))
}

/// The step within ±1 of `now_step` whose code is `code`, if any. The caller must still
/// claim the step (see `Db::claim_totp_step`) so the code cannot be used twice.
pub fn matching_step(secret: &str, code: &str, now_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Every candidate is computed and compared in constant time, so timing reveals nothing
    // about which step (or how many digits) matched.
    let mut found = None;
    for step in now_step - DRIFT_STEPS..=now_step + DRIFT_STEPS {
        let expected = code_at(secret, step)?;
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// `otpauth://` URI for QR codes (the Key Uri Format understood by authenticator apps).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let label = format!("{}:{}", percent_encode(issuer), percent_encode(account));
    format!(
        "otpauth://totp/{label}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent_encode(issuer)
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Ten fresh recovery codes, `xxxx-xxxx-xxxx-xxxx`; shown once, stored hashed.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_LEN];
            OsRng.fill_bytes(&mut bytes);
            let symbols: Vec<char> = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                .collect();
            symbols
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored form of a recovery code as typed: case, dashes and spaces ignored, and the
/// letters Crockford's alphabet leaves out read as the digits they resemble. `None` if it
/// cannot be a recovery code.
pub fn recovery_code_hash(typed: &str) -> Option<String> {
    let normalized: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    let valid = normalized.len() == RECOVERY_LEN
        && normalized.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then(|| hex::encode(Sha256::digest(normalized.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, secret "12345678901234567890", last six of the eight digits.
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(&secret, step_at(time)).unwrap(), code, "{time}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_and_no_more() {
        let secret = new_secret();
        let now = 1_000_000;
        for step in now - 1..=now + 1 {
            let code = code_at(&secret, step).unwrap();
            assert_eq!(matching_step(&secret, &code, now), Some(step));
        }
        for step in [now - 2, now + 2] {
            let code = code_at(&secret, step).unwrap();
            // A collision with a neighbouring step's code is possible but vanishingly rare.
            let matched = matching_step(&secret, &code, now);
            assert!(matched.is_none() || code_at(&secret, matched.unwrap()) == Some(code));
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
        assert_eq!(matching_step("not base32!", "123456", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalized() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let hashes: std::collections::HashSet<_> = codes
            .iter()
            .map(|c| recovery_code_hash(c).unwrap())
            .collect();
        assert_eq!(hashes.len(), RECOVERY_CODE_COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let sloppy = code.to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&sloppy), recovery_code_hash(code));
        assert_eq!(recovery_code_hash("too-short"), None);
    }

    #[test]
    fn otpauth_uri_escapes_the_label() {
        let uri = otpauth_uri("Renraku", "demo/nurse 1", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/Renraku:demo%2Fnurse%201?secret=ABC&issuer=Renraku&algorithm=SHA1&digits=6&period=30"
        );
    }
}
