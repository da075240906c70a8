//! `renraku init`: a real deployment's first municipality and its administrator, and system
//! administrators, each with a one-time password that must be changed at the first sign-in.
//! The same rules as the admin API (slug, login id, display text), checked before anything
//! is written.

use crate::auth;
use crate::db::municipalities::Municipality;
use crate::db::provision::FirstAccount;
use crate::db::users::{Profession, Role};
use crate::error::{Error, Result};
use crate::http::admin::guard::text;
use crate::http::admin::municipalities::check_slug;
use crate::http::admin::users::{check_login_id, temporary_password};
use crate::Db;
use renraku_sync::UserId;

/// Who an account made by `renraku init` is.
#[derive(Clone, Debug)]
pub struct AccountSpec {
    pub login_id: String,
    pub display_name: String,
    pub display_name_kana: String,
}

/// An account just made; the password is shown to the operator once and stored only hashed.
#[derive(Debug)]
pub struct Provisioned {
    pub user: UserId,
    pub one_time_password: String,
}

impl AccountSpec {
    async fn hashed(&self) -> Result<(Checked, String, String)> {
        check_login_id(&self.login_id)?;
        let checked = Checked {
            display_name: text("display_name", &self.display_name, 100)?,
            display_name_kana: text("display_name_kana", &self.display_name_kana, 100)?,
        };
        let password = temporary_password();
        let hash = auth::hash_password(password.clone()).await?;
        Ok((checked, password, hash))
    }
}

struct Checked {
    display_name: String,
    display_name_kana: String,
}

impl Checked {
    fn account<'a>(&'a self, spec: &'a AccountSpec, hash: &'a str, role: Role) -> FirstAccount<'a> {
        FirstAccount {
            login_id: &spec.login_id,
            password_hash: hash,
            display_name: &self.display_name,
            display_name_kana: &self.display_name_kana,
            profession: match role {
                Role::SystemAdmin => Profession::Other,
                _ => Profession::CityStaff,
            },
            role,
        }
    }
}

/// Creates municipality `slug` and its first administrator. `Conflict` if the slug exists:
/// init runs once per municipality, later accounts are made by that administrator.
pub async fn municipality(
    db: &Db,
    slug: &str,
    name: &str,
    admin: &AccountSpec,
) -> Result<Provisioned> {
    check_slug(slug)?;
    let name = text("name", name, 100)?;
    // A clear refusal before the (slow) password hash; the unique slug still decides a race.
    if db.municipality_by_slug(slug).await?.is_some() {
        return Err(Error::Conflict);
    }
    let (checked, password, hash) = admin.hashed().await?;
    let account = checked.account(admin, &hash, Role::MunicipalityAdmin);
    let (_, user) = db
        .create_municipality_with_admin(slug, &name, &account)
        .await?;
    Ok(Provisioned {
        user,
        one_time_password: password,
    })
}

/// Creates a system administrator (who manages every municipality) as an account of
/// `municipality`, where they sign in. `Conflict` if the login id is taken there.
pub async fn system_admin(
    db: &Db,
    municipality: &Municipality,
    spec: &AccountSpec,
) -> Result<Provisioned> {
    let (checked, password, hash) = spec.hashed().await?;
    let account = checked.account(spec, &hash, Role::SystemAdmin);
    let user = db.create_first_account(municipality.id, &account).await?;
    Ok(Provisioned {
        user,
        one_time_password: password,
    })
}
