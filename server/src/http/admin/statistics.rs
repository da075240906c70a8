//! Posts and active users per month, by room kind.

use super::guard::Admin;
use crate::db::now_ms;
use crate::db::statistics::Statistics;
use crate::error::{Error, Result};
use crate::http::{ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// How many months back (default 12; 1 to 120, anything else is refused).
    #[serde(default)]
    #[param(minimum = 1, maximum = 120)]
    pub months: Option<i64>,
}

/// The municipality's posts and active users (authors) per month, overall and by room kind.
#[utoipa::path(get, path = "/api/admin/municipalities/{slug}/statistics", tag = "admin",
    params(("slug" = String, Path), StatisticsQuery),
    responses((status = 200, body = Statistics),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn statistics(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatisticsQuery>,
) -> Result<Json<Statistics>> {
    let m = admin.municipality(&state, &slug).await?;
    let months = q.months.unwrap_or(12);
    if !(1..=120).contains(&months) {
        return Err(Error::BadRequest("months must be between 1 and 120".into()));
    }
    // A month is at most 31 days; the first month may be partial, which charts show as such.
    let since = now_ms() - months * 31 * 86_400_000;
    Ok(Json(state.db.statistics(m.id, since).await?))
}
