//! Map tiles for the 要援護者マップ (issue 16), from the operator's MBTiles file
//! (`server/src/tiles/`): the set's description, one tile, and the list of tiles a device
//! keeps so the map opens offline. Signed-in users only (an `<img>` request carries the
//! session cookie), any municipality's: a map of the region holds no patient data, so tile
//! reads are not audited, and tiles are the one API answer a browser may keep.

use crate::auth::CurrentUser;
use crate::error::{Error, Result};
use crate::http::{ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use renraku_contract::{OfflineTiles, OfflineTilesQuery, TileSet};

/// How long a device may keep a tile: a week, for the signed-in user's browser only (the
/// service worker keeps the municipality's tiles longer, in its own cache).
pub const TILE_CACHE: &str = "private, max-age=604800";

/// The tile set the server serves (`configured: false` without one: the map then shows its
/// markers on a plain background and says how to configure tiles).
#[utoipa::path(get, path = "/api/tiles", tag = "tiles",
    responses((status = 200, body = TileSet),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn tile_set(State(state): State<AppState>, _user: CurrentUser) -> Result<Json<TileSet>> {
    Ok(Json(match state.tiles.store().await? {
        Some(store) => store.set().clone(),
        None => TileSet::unconfigured(),
    }))
}

/// One tile, `z/x/y` numbered as on the web (XYZ: row 0 is the north), with the set's
/// image type. A tile the set does not have is 404 with an empty body.
#[utoipa::path(get, path = "/api/tiles/{z}/{x}/{y}", tag = "tiles",
    params(("z" = u8, Path), ("x" = u32, Path), ("y" = u32, Path)),
    responses((status = 200, description = "The tile (image/png, image/jpeg or image/webp, as the set's format)", content_type = "image/png"),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No such tile (empty body), or no tiles configured")),
    security(("session" = []), ("cookie" = [])))]
pub async fn tile(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiPath((z, x, y)): ApiPath<(u8, u32, u32)>,
) -> Result<Response> {
    let store = state.tiles.store().await?.ok_or(Error::NotFound)?;
    Ok(match store.tile(z, x, y).await? {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, store.set().format.mime()),
                (header::CACHE_CONTROL, TILE_CACHE),
            ],
            bytes,
        )
            .into_response(),
        // Outside the set: the map shows its background there. Kept for an hour, so a map
        // panned beyond the region does not ask again for every empty tile (and a new set
        // that covers more is seen within the hour).
        None => (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "private, max-age=3600")],
        )
            .into_response(),
    })
}

/// The tiles a device keeps for offline use: every stored tile covering `bbox` (within the
/// set's bounds), zoom by zoom from the set's smallest, up to the last zoom that keeps the
/// total within the server's budget (`--tiles-offline-budget-mb`).
#[utoipa::path(get, path = "/api/tiles/offline", tag = "tiles",
    params(OfflineTilesQuery),
    responses((status = 200, body = OfflineTiles),
              (status = 400, description = "Not a box west,south,east,north", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, description = "No tiles configured", body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn offline(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiQuery(query): ApiQuery<OfflineTilesQuery>,
) -> Result<Json<OfflineTiles>> {
    let bbox = crate::tiles::parse_bbox(&query.bbox).map_err(Error::BadRequest)?;
    let store = state.tiles.store().await?.ok_or(Error::NotFound)?;
    Ok(Json(
        store
            .offline(bbox, state.tiles.offline_budget_bytes)
            .await?,
    ))
}
