//! The server's VAPID key pair (RFC 8292): created on first start, kept in the database so
//! every node and every restart signs with the same key (browsers subscribed with its public
//! half; a new key would silently orphan every subscription).

use crate::error::{Error, Result};
use crate::Db;
use data_encoding::BASE64URL_NOPAD;
use p256::elliptic_curve::sec1::ToEncodedPoint;

/// Both halves, base64url without padding: the private scalar (32 bytes) and the
/// uncompressed public point (65 bytes), as `applicationServerKey` wants it.
#[derive(Clone)]
pub struct Vapid {
    pub private_key: String,
    pub public_key: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The stored key pair, created (once, whichever node is first) if there is none.
pub async fn ensure(db: &Db) -> Result<Vapid> {
    if let Some((private_key, public_key)) = db.vapid_keys().await? {
        return Ok(Vapid {
            private_key,
            public_key,
        });
    }
    let fresh = generate();
    db.insert_vapid_keys(&fresh.private_key, &fresh.public_key)
        .await?;
    // Another node may have won the insert: the stored pair is the one.
    let (private_key, public_key) = db
        .vapid_keys()
        .await?
        .ok_or_else(|| Error::internal("VAPID keys vanished"))?;
    Ok(Vapid {
        private_key,
        public_key,
    })
}

fn generate() -> Vapid {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    Vapid {
        private_key: BASE64URL_NOPAD.encode(&secret.to_bytes()),
        public_key: BASE64URL_NOPAD.encode(secret.public_key().to_encoded_point(false).as_bytes()),
    }
}
