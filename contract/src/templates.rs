//! 定型文 (templates): text a professional inserts into the composer and completes, such as
//! a visit report's fields. A municipality's shared ones are kept by its administrators
//! (`/api/admin/municipalities/{slug}/templates`, `/api/admin/templates/{id}`); each user
//! keeps their own (`/api/templates`).

use renraku_sync::TemplateId;
use serde::{Deserialize, Serialize};

/// Longest title, in characters (a one-line value: `server/src/domain/text.rs`, `line`).
pub const TEMPLATE_TITLE_MAX: usize = 100;
/// Longest body, in characters (free text with line breaks: `paragraph`).
pub const TEMPLATE_BODY_MAX: usize = 2000;
/// How many templates of their own one user may keep.
pub const TEMPLATE_OWN_MAX: usize = 100;
/// How many shared templates one municipality may keep.
pub const TEMPLATE_SHARED_MAX: usize = 200;

/// One template, as the composer's picker and the admin screen list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: TemplateId,
    pub title: String,
    /// The text inserted into the composer; blanks to fill follow a 「：」.
    pub body: String,
    /// The municipality's (kept by its administrators), not the user's own.
    pub shared: bool,
    /// Lower first; then by id.
    pub sort_order: i64,
}

/// A new template, or a template's new content (`PUT` replaces title, body and order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTemplate {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub body: String,
    /// Default 0.
    #[serde(default)]
    pub sort_order: i64,
}
