//! Attachments: photos and documents in posts.
//!
//! An upload streams to a temporary file while it is counted (the size limit holds before
//! the whole body has arrived) and hashed; its type is then decided from its bytes against
//! an allow-list; photos lose their metadata (location above all) and get a thumbnail;
//! the result moves into the [`Store`] under its SHA-256, and only then is the database
//! row written. Any refusal on the way drops the temporary file: nothing is kept.
//!
//! Attachment ids are ULIDs chosen by the client, so a post written offline can name its
//! photo before the photo has reached the server, and a retried upload is idempotent.

mod ingest;
mod kind;
mod name;
pub mod photo;
mod refusal;
pub mod store;

pub use ingest::{ingest, Ingested};
pub use kind::Kind;
pub use name::FileName;
pub use refusal::Refusal;
pub use store::{BlobKey, Store};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The default size limit: 25 MB, more than a phone photo or a scanned referral letter.
pub const DEFAULT_MAX_BYTES: u64 = 25_000_000;

/// An attachment's id: a ULID (26 characters of Crockford base32, upper case).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttachmentId(String);

impl AttachmentId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl FromStr for AttachmentId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Parsing and re-printing gives the canonical upper-case form, so one attachment
        // never has two spellings.
        ulid::Ulid::from_string(s)
            .map(|u| Self(u.to_string()))
            .map_err(|_| format!("not an attachment id: {s:?}"))
    }
}

impl TryFrom<String> for AttachmentId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AttachmentId> for String {
    fn from(id: AttachmentId) -> String {
        id.0
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 digest: the name of a stored blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for Sha256 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(s, &mut digest).map_err(|_| format!("not a SHA-256: {s:?}"))?;
        Ok(Self(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_ulids() {
        let id: AttachmentId = "01hzy8k5q3m7v2x9c4n6r8t0ab".parse().unwrap();
        assert_eq!(id.as_str(), "01HZY8K5Q3M7V2X9C4N6R8T0AB");
        assert!("../../etc/passwd".parse::<AttachmentId>().is_err());
        assert!("1".parse::<AttachmentId>().is_err());
        let sha = Sha256::of(b"abc");
        assert_eq!(sha.to_string().parse::<Sha256>(), Ok(sha));
    }
}
