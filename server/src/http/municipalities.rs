use super::ApiPath;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::State;
use axum::Json;
pub use renraku_contract::Portal;

/// Public facts about a municipality, for its sign-in page.
#[utoipa::path(get, path = "/api/municipalities/{slug}", tag = "public",
    params(("slug" = String, Path, description = "The municipality's URL segment")),
    responses((status = 200, body = Portal),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_municipality(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Portal>> {
    let municipality = state
        .db
        .municipality_by_slug(&slug)
        .await?
        .ok_or(Error::NotFound)?;
    let announcements = state.db.current_announcements(municipality.id).await?;
    let maintenance = state.db.active_maintenance(Some(municipality.id)).await?;
    Ok(Json(Portal::new(municipality, announcements, maintenance)))
}
