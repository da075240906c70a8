use crate::db::municipalities::Municipality;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;

/// Public facts about a municipality, for its sign-in page.
#[utoipa::path(get, path = "/api/municipalities/{slug}", tag = "public",
    params(("slug" = String, Path, description = "The municipality's URL segment")),
    responses((status = 200, body = Municipality),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_municipality(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<Municipality>> {
    let found = state.db.municipality_by_slug(&slug).await?;
    found.map(Json).ok_or(Error::NotFound)
}
