//! Client certificates registered to users, and the municipality policy that requires them.

use super::{flag, now_ms, Db};
use crate::error::Result;
pub use renraku_contract::ClientCertificate;
use renraku_sync::{MunicipalityId, UserId};
use sqlx::Row;

fn certificate(row: &sqlx::any::AnyRow) -> Result<ClientCertificate> {
    Ok(ClientCertificate {
        id: row.try_get("id")?,
        user: UserId::new(row.try_get("user_id")?),
        fingerprint: row.try_get("fingerprint")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Who a request speaks for, as far as the certificate policy is concerned.
#[derive(Clone, Copy, Debug)]
pub struct CertificateRequirement {
    pub user: UserId,
    pub required: bool,
}

impl Db {
    /// How many municipalities require a client certificate to sign in.
    pub async fn municipalities_requiring_client_certificates(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM municipalities WHERE require_client_certificate = $1",
        )
        .bind(true)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn set_require_client_certificate(
        &self,
        municipality: MunicipalityId,
        required: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE municipalities SET require_client_certificate = $1 WHERE id = $2")
            .bind(required)
            .bind(municipality.get())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn municipality_requires_client_certificate(&self, slug: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT require_client_certificate FROM municipalities WHERE slug = $1")
                .bind(slug)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some(row) => flag(&row, "require_client_certificate")?,
            None => false,
        })
    }

    /// The user behind a session token hash, and whether their municipality requires a
    /// client certificate.
    pub async fn certificate_requirement_of_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<CertificateRequirement>> {
        self.requirement(
            "SELECT u.id AS user_id, m.require_client_certificate FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN municipalities m ON m.id = u.municipality_id WHERE s.id_hash = $1",
            token_hash,
        )
        .await
    }

    /// Like [`Db::certificate_requirement_of_session`], for a `/yjs` room token.
    pub async fn certificate_requirement_of_room_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<CertificateRequirement>> {
        self.requirement(
            "SELECT u.id AS user_id, m.require_client_certificate FROM room_tokens t \
             JOIN users u ON u.id = t.user_id \
             JOIN municipalities m ON m.id = u.municipality_id WHERE t.token_hash = $1",
            token_hash,
        )
        .await
    }

    async fn requirement(
        &self,
        sql: &'static str,
        hash: &str,
    ) -> Result<Option<CertificateRequirement>> {
        let row = sqlx::query(sql)
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(CertificateRequirement {
                user: UserId::new(row.try_get("user_id")?),
                required: flag(&row, "require_client_certificate")?,
            })
        })
        .transpose()
    }

    /// Whether the certificate with this fingerprint is registered to `user` and not revoked.
    pub async fn certificate_belongs_to(&self, fingerprint: &str, user: UserId) -> Result<bool> {
        let row = sqlx::query(
            "SELECT id FROM client_certificates \
             WHERE fingerprint = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(fingerprint)
        .bind(user.get())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Whether this certificate is registered to anybody and not revoked.
    pub async fn certificate_is_registered(&self, fingerprint: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT id FROM client_certificates WHERE fingerprint = $1 AND revoked_at IS NULL",
        )
        .bind(fingerprint)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    pub async fn register_client_certificate(
        &self,
        user: UserId,
        fingerprint: &str,
        der: &[u8],
        label: &str,
    ) -> Result<ClientCertificate> {
        let row = sqlx::query(
            "INSERT INTO client_certificates (user_id, fingerprint, der, label, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, user_id, fingerprint, label, created_at, revoked_at",
        )
        .bind(user.get())
        .bind(fingerprint)
        .bind(der.to_vec())
        .bind(label)
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        certificate(&row)
    }

    pub async fn client_certificate(&self, id: i64) -> Result<Option<ClientCertificate>> {
        let row = sqlx::query(
            "SELECT id, user_id, fingerprint, label, created_at, revoked_at \
             FROM client_certificates WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(certificate).transpose()
    }

    pub async fn client_certificates_of(&self, user: UserId) -> Result<Vec<ClientCertificate>> {
        let rows = sqlx::query(
            "SELECT id, user_id, fingerprint, label, created_at, revoked_at \
             FROM client_certificates WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.get())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(certificate).collect()
    }

    /// Every certificate not yet revoked, with its DER, for checking against a new CRL.
    pub async fn live_client_certificates(&self) -> Result<Vec<(ClientCertificate, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT id, user_id, fingerprint, label, created_at, revoked_at, der \
             FROM client_certificates WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((certificate(row)?, row.try_get("der")?)))
            .collect()
    }

    /// Marks a certificate revoked; false if it already was (or does not exist).
    pub async fn revoke_client_certificate(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE client_certificates SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
