//! 定型文 (templates) for the composer: the municipality's shared ones and my own. I keep
//! my own here; the shared ones are kept by the municipality's administrators
//! (`http/admin/templates.rs`). Templates belong to the user's own municipality: a
//! professional writing in another municipality's room under a wide-area agreement
//! (`domain/tenancy.rs`) brings their own municipality's templates with them.

use super::admin::guard::{paragraph, text};
use crate::auth::CurrentUser;
use crate::db::templates::StoredTemplate;
use crate::error::{Error, Result};
use crate::http::{ApiJson, ApiPath};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{NewTemplate, Template};
use renraku_contract::{TEMPLATE_BODY_MAX, TEMPLATE_OWN_MAX, TEMPLATE_TITLE_MAX};
use renraku_sync::TemplateId;

/// Orders beyond this are refused: a list needs no more.
const SORT_ORDER_MAX: i64 = 1_000_000;

/// A template's content as stored: title one line, body free text, both within the
/// contract's bounds (`domain/text.rs`); a refusal is a 400 naming the field.
pub(crate) fn checked(req: &NewTemplate) -> Result<(String, String, i64)> {
    let title = text("title", &req.title, TEMPLATE_TITLE_MAX)?;
    let body = paragraph("body", &req.body, TEMPLATE_BODY_MAX)?;
    if !(-SORT_ORDER_MAX..=SORT_ORDER_MAX).contains(&req.sort_order) {
        return Err(Error::BadRequest(format!(
            "sort_order must be between -{SORT_ORDER_MAX} and {SORT_ORDER_MAX}"
        )));
    }
    Ok((title, body, req.sort_order))
}

/// The template `id` if it is mine: another user's is 404 (ids reveal nothing), a shared
/// one of my municipality 403 (administrators keep those, in the admin API).
async fn mine(state: &AppState, user: &CurrentUser, id: TemplateId) -> Result<StoredTemplate> {
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    match t.owner {
        Some(owner) if owner == user.id => Ok(t),
        None if t.municipality == user.municipality => Err(Error::Forbidden),
        _ => Err(Error::NotFound),
    }
}

/// The templates I may insert: my municipality's shared ones, then my own.
#[utoipa::path(get, path = "/api/templates", tag = "templates",
    responses((status = 200, body = Vec<Template>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<Template>>> {
    Ok(Json(
        state.db.templates_for(user.municipality, user.id).await?,
    ))
}

/// Keeps a template of my own.
#[utoipa::path(post, path = "/api/templates", tag = "templates",
    request_body = NewTemplate,
    responses((status = 201, body = Template),
              (status = 400, description = "Empty or too long, a control character, or too many templates", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewTemplate>,
) -> Result<(StatusCode, Json<Template>)> {
    let (title, body, order) = checked(&req)?;
    let kept = state
        .db
        .count_templates(user.municipality, Some(user.id))
        .await?;
    if kept >= TEMPLATE_OWN_MAX as i64 {
        return Err(Error::BadRequest(format!(
            "at most {TEMPLATE_OWN_MAX} templates of your own; delete one first"
        )));
    }
    let id = state
        .db
        .create_template(user.municipality, Some(user.id), &title, &body, order)
        .await?;
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(t.template)))
}

/// Replaces the title, body and order of a template of my own.
#[utoipa::path(put, path = "/api/templates/{id}", tag = "templates",
    params(("id" = i64, Path)),
    request_body = NewTemplate,
    responses((status = 200, body = Template),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "A shared template: administrators keep those", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn update_template(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<TemplateId>,
    ApiJson(req): ApiJson<NewTemplate>,
) -> Result<Json<Template>> {
    mine(&state, &user, id).await?;
    let (title, body, order) = checked(&req)?;
    state.db.update_template(id, &title, &body, order).await?;
    let t = state.db.template(id).await?.ok_or(Error::NotFound)?;
    Ok(Json(t.template))
}

/// Deletes a template of my own.
#[utoipa::path(delete, path = "/api/templates/{id}", tag = "templates",
    params(("id" = i64, Path)),
    responses((status = 204),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "A shared template: administrators keep those", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn delete_template(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<TemplateId>,
) -> Result<StatusCode> {
    mine(&state, &user, id).await?;
    state.db.delete_template(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
