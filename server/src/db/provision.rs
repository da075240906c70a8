//! The first accounts of a real deployment (`renraku init`): each written with its audit
//! entries in one transaction, so a failure leaves neither a municipality without its
//! administrator nor an account nobody can account for.

use super::audit::{self, AuditEntry};
use super::users::{Profession, Role};
use super::{now_ms, Db};
use crate::domain::audit::AuditAction;
use crate::error::Result;
use renraku_sync::{MunicipalityId, UserId};
use sqlx::{AnyConnection, Row};

/// An account made by `renraku init`; its password must be changed at the first sign-in.
#[derive(Clone, Debug)]
pub struct FirstAccount<'a> {
    pub login_id: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub display_name_kana: &'a str,
    pub profession: Profession,
    pub role: Role,
}

async fn insert_account(
    conn: &mut AnyConnection,
    municipality: MunicipalityId,
    account: &FirstAccount<'_>,
    at: i64,
) -> Result<UserId> {
    let row = sqlx::query(
        "INSERT INTO users (municipality_id, login_id, password_hash, display_name, \
             display_name_kana, profession, role, disabled, must_change_password, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(municipality.get())
    .bind(account.login_id)
    .bind(account.password_hash)
    .bind(account.display_name)
    .bind(account.display_name_kana)
    .bind(account.profession.as_str())
    .bind(account.role.as_str())
    .bind(false)
    .bind(true)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(UserId::new(row.try_get("id")?))
}

impl Db {
    /// A new municipality and its first administrator. `Conflict` if the slug is taken.
    pub async fn create_municipality_with_admin(
        &self,
        slug: &str,
        name: &str,
        admin: &FirstAccount<'_>,
    ) -> Result<(MunicipalityId, UserId)> {
        let at = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO municipalities (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(slug)
        .bind(name)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let municipality = MunicipalityId::new(row.try_get("id")?);
        let user = insert_account(&mut tx, municipality, admin, at).await?;
        let entries = [
            AuditEntry::new(AuditAction::InitMunicipality, slug)
                .in_municipality(municipality)
                .detail("renraku init (command line)"),
            AuditEntry::new(AuditAction::InitAccount, format!("user/{user}"))
                .in_municipality(municipality)
                .detail(format!(
                    "login: {}; role: {}",
                    admin.login_id,
                    admin.role.as_str()
                )),
        ];
        audit::append(&mut tx, &entries, at).await?;
        tx.commit().await?;
        Ok((municipality, user))
    }

    /// Another account in an existing municipality (a system administrator).
    /// `Conflict` if the login id is taken there.
    pub async fn create_first_account(
        &self,
        municipality: MunicipalityId,
        account: &FirstAccount<'_>,
    ) -> Result<UserId> {
        let at = now_ms();
        let mut tx = self.begin_write().await?;
        let user = insert_account(&mut tx, municipality, account, at).await?;
        let entry = AuditEntry::new(AuditAction::InitAccount, format!("user/{user}"))
            .in_municipality(municipality)
            .detail(format!(
                "login: {}; role: {}",
                account.login_id,
                account.role.as_str()
            ));
        audit::append(&mut tx, &[entry], at).await?;
        tx.commit().await?;
        Ok(user)
    }
}
