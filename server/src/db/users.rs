//! Professionals' accounts.

use super::{flag, now_ms, Db};
use crate::error::{Error, Result};
use renraku_sync::{MunicipalityId, OrganizationId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

pub use renraku_contract::{Colleague, Profession, Role, UserListing, UserUpdate};

pub(crate) fn decode_enum<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| Error::internal(format!("unknown {column} {text:?} in database")))
}

/// An account as the rest of the server sees it: no password hash, no 2FA secret.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: UserId,
    pub municipality: MunicipalityId,
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
    pub profession: Profession,
    pub role: Role,
    pub organization: Option<OrganizationId>,
    pub organization_name: Option<String>,
    pub disabled: bool,
    /// An administrator reset the password: it must be changed before anything else.
    pub must_change_password: bool,
}

const PROFILE_SELECT: &str = "SELECT u.id, u.municipality_id, u.login_id, u.display_name, \
     u.display_name_kana, u.profession, u.role, u.organization_id, o.name AS organization_name, \
     u.disabled, u.must_change_password FROM users u LEFT JOIN organizations o ON o.id = u.organization_id";

impl UserRow {
    /// The account as the API shows it.
    pub fn profile(&self) -> renraku_contract::UserProfile {
        renraku_contract::UserProfile {
            id: self.id,
            municipality: self.municipality,
            login_id: self.login_id.clone(),
            display_name: self.display_name.clone(),
            display_name_kana: self.display_name_kana.clone(),
            profession: self.profession,
            role: self.role,
            organization: self.organization,
            organization_name: self.organization_name.clone(),
        }
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: UserId::new(row.try_get("id")?),
            municipality: MunicipalityId::new(row.try_get("municipality_id")?),
            login_id: row.try_get("login_id")?,
            display_name: row.try_get("display_name")?,
            display_name_kana: row.try_get("display_name_kana")?,
            profession: decode_enum(row, "profession", Profession::parse)?,
            role: decode_enum(row, "role", Role::parse)?,
            organization: row
                .try_get::<Option<i64>, _>("organization_id")?
                .map(OrganizationId::new),
            organization_name: row.try_get("organization_name")?,
            disabled: flag(row, "disabled")?,
            must_change_password: flag(row, "must_change_password")?,
        })
    }
}

/// What sign-in needs to check a password.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: UserId,
    pub password_hash: String,
    pub disabled: bool,
}

/// A new account; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub municipality: MunicipalityId,
    pub organization: Option<OrganizationId>,
    pub login_id: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub display_name_kana: &'a str,
    pub profession: Profession,
    pub role: Role,
}

impl Db {
    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("{PROFILE_SELECT} WHERE u.id = $1"))
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    pub async fn user_by_login(
        &self,
        municipality: MunicipalityId,
        login_id: &str,
    ) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "{PROFILE_SELECT} WHERE u.municipality_id = $1 AND u.login_id = $2"
        ))
        .bind(municipality.get())
        .bind(login_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    pub async fn credentials(
        &self,
        municipality: MunicipalityId,
        login_id: &str,
    ) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, password_hash, disabled FROM users \
             WHERE municipality_id = $1 AND login_id = $2",
        )
        .bind(municipality.get())
        .bind(login_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Credentials {
                user: UserId::new(row.try_get("id")?),
                password_hash: row.try_get("password_hash")?,
                disabled: flag(&row, "disabled")?,
            })
        })
        .transpose()
    }

    pub async fn create_user(&self, user: &NewUser<'_>) -> Result<UserId> {
        let row = sqlx::query(
            "INSERT INTO users (municipality_id, organization_id, login_id, password_hash, \
                 display_name, display_name_kana, profession, role, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(user.municipality.get())
        .bind(user.organization.map(OrganizationId::get))
        .bind(user.login_id)
        .bind(user.password_hash)
        .bind(user.display_name)
        .bind(user.display_name_kana)
        .bind(user.profession.as_str())
        .bind(user.role.as_str())
        .bind(false)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(UserId::new(row.try_get("id")?))
    }

    /// Replaces a password hash (the caller checked the new password and hashed it). A
    /// password the user chose ends a forced change.
    pub async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(false)
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables or re-enables an account; a disabled account's sessions stop working at once.
    pub async fn set_user_disabled(&self, user: UserId, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Db {
    /// Every account of a municipality, by kana.
    pub async fn users_of_municipality(&self, m: MunicipalityId) -> Result<Vec<UserListing>> {
        let rows = sqlx::query(&format!(
            "{PROFILE_SELECT} WHERE u.municipality_id = $1 ORDER BY u.display_name_kana, u.id"
        ))
        .bind(m.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let row = UserRow::from_row(row)?;
                Ok(UserListing::new(
                    row.profile(),
                    row.disabled,
                    row.must_change_password,
                ))
            })
            .collect()
    }

    /// Applies an administrator's changes to an account.
    pub async fn update_user(&self, user: UserId, u: &UserUpdate) -> Result<()> {
        let organization = u.organization.map(|o| (o.get() != 0).then_some(o.get()));
        sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), \
                 display_name_kana = COALESCE($2, display_name_kana), \
                 profession = COALESCE($3, profession), role = COALESCE($4, role), \
                 organization_id = CASE WHEN $5 THEN $6 ELSE organization_id END \
             WHERE id = $7",
        )
        .bind(u.display_name.as_deref())
        .bind(u.display_name_kana.as_deref())
        .bind(u.profession.map(Profession::as_str))
        .bind(u.role.map(Role::as_str))
        .bind(organization.is_some())
        .bind(organization.flatten())
        .bind(user.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An administrator's reset: a new (temporary) password that must be changed at the
    /// next sign-in.
    pub async fn reset_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(true)
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session and room token of an account (disable, reset, revocation).
    pub async fn end_all_sessions(&self, user: UserId) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM room_tokens WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ended)
    }
}

impl Db {
    /// The active professionals of a municipality, by kana. A parking lender's own account
    /// (a resident or a temple who lends a space) is not a colleague: it is there to see that
    /// space's bookings, and must not be offered as someone to write to about a patient.
    pub async fn colleagues(&self, municipality: MunicipalityId) -> Result<Vec<Colleague>> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, u.display_name_kana, u.profession, \
                 o.name AS organization_name \
             FROM users u LEFT JOIN organizations o ON o.id = u.organization_id \
             WHERE u.municipality_id = $1 AND u.disabled = $2 \
               AND NOT EXISTS (SELECT 1 FROM parking_lenders l WHERE l.user_id = u.id) \
             ORDER BY u.display_name_kana, u.id",
        )
        .bind(municipality.get())
        .bind(false)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Colleague {
                    id: UserId::new(row.try_get("id")?),
                    display_name: row.try_get("display_name")?,
                    display_name_kana: row.try_get("display_name_kana")?,
                    profession: decode_enum(row, "profession", Profession::parse)?,
                    organization_name: row.try_get("organization_name")?,
                })
            })
            .collect()
    }
}
