//! Who may administer what.

use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::db::municipalities::Municipality;
use crate::db::users::Role;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use renraku_sync::MunicipalityId;

/// A signed-in municipality or system administrator. As an extractor it answers 403 to
/// everyone else (401 without a session).
#[derive(Clone, Debug)]
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        match user.role {
            Role::MunicipalityAdmin | Role::SystemAdmin => Ok(Admin(user)),
            Role::Member => Err(Error::Forbidden),
        }
    }
}

impl Admin {
    pub fn is_system(&self) -> bool {
        self.0.role == Role::SystemAdmin
    }

    pub fn require_system(&self) -> Result<()> {
        if self.is_system() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// A municipality administrator manages only their own municipality.
    pub fn require_manages(&self, m: MunicipalityId) -> Result<()> {
        if self.is_system() || self.0.municipality == m {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// The municipality of `slug`, if this administrator manages it.
    pub async fn municipality(&self, state: &AppState, slug: &str) -> Result<Municipality> {
        let m = state
            .db
            .municipality_by_slug(slug)
            .await?
            .ok_or(Error::NotFound)?;
        self.require_manages(m.id)?;
        Ok(m)
    }

    /// `require_manages` for a record that may not exist: not found is 404.
    pub fn require_owner(&self, owner: Option<MunicipalityId>) -> Result<MunicipalityId> {
        let m = owner.ok_or(Error::NotFound)?;
        self.require_manages(m)?;
        Ok(m)
    }

    /// An audit entry by this administrator, filed under the municipality it concerns.
    pub fn entry(
        &self,
        action: AuditAction,
        m: Option<MunicipalityId>,
        target: impl Into<String>,
    ) -> AuditEntry {
        let mut entry = AuditEntry::new(action, target);
        entry.user = Some(self.0.id);
        entry.municipality = m.or(Some(self.0.municipality));
        entry
    }
}

/// A value a domain rule passed, owned; a refusal is a 400 naming the field.
pub fn checked(field: &str, value: Result<&str, crate::domain::text::Problem>) -> Result<String> {
    value
        .map(str::to_owned)
        .map_err(|problem| Error::BadRequest(format!("{field} {problem}")))
}

/// A one-line name or title ([`crate::domain::text::line`]); a refusal names the field.
pub fn text(field: &str, value: &str, max: usize) -> Result<String> {
    checked(field, crate::domain::text::line(value, max))
}

/// `text` for optional fields.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    value.map(|v| text(field, v, max)).transpose()
}

/// A one-line value that may be empty ([`crate::domain::text::optional_line`]).
pub fn optional_line(field: &str, value: &str, max: usize) -> Result<String> {
    checked(field, crate::domain::text::optional_line(value, max))
}

/// Free text with line breaks, such as an announcement's body ([`crate::domain::text::paragraph`]).
pub fn paragraph(field: &str, value: &str, max: usize) -> Result<String> {
    checked(field, crate::domain::text::paragraph(value, max))
}
