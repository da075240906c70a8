//! Map tiles for the 要援護者マップ (issue 16), served by Renraku itself from an MBTiles file
//! the operator supplies (`--tiles`, or `<data-dir>/tiles.mbtiles`), so the app never calls a
//! third-party tile server: `store.rs` reads the file, `demo.rs` makes the demo's own small
//! set, and `http/tiles.rs` serves them. Raster tiles only (PNG, JPEG, WebP): the app's map
//! is Leaflet. Rules and the operator's steps: `docs/assistance-register.md`, README.

pub mod demo;
pub mod store;

pub use store::TileStore;

use crate::config::Config;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tokio::sync::OnceCell;

/// Web Mercator's latitude limit: tiles cover nothing beyond it.
pub const MAX_LATITUDE: f64 = 85.051_128_78;

/// The tile column of longitude `lon` at zoom `z`, as a fraction (XYZ numbering).
pub fn tile_x(lon: f64, z: u8) -> f64 {
    (lon + 180.0) / 360.0 * f64::from(1u32 << z)
}

/// The tile row of latitude `lat` at zoom `z`, as a fraction, counted from the north (XYZ).
pub fn tile_y(lat: f64, z: u8) -> f64 {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * f64::from(1u32 << z)
}

/// The longitude at tile column `x` (a fraction) of zoom `z`.
pub fn lon_of(x: f64, z: u8) -> f64 {
    x / f64::from(1u32 << z) * 360.0 - 180.0
}

/// The latitude at tile row `y` (a fraction, XYZ) of zoom `z`.
pub fn lat_of(y: f64, z: u8) -> f64 {
    let n = std::f64::consts::PI * (1.0 - 2.0 * y / f64::from(1u32 << z));
    n.sinh().atan().to_degrees()
}

/// The tiles `[x0, x1] × [y0, y1]` (XYZ, inclusive) covering `bbox` (west, south, east,
/// north) at zoom `z`.
pub fn cover(bbox: [f64; 4], z: u8) -> ([u32; 2], [u32; 2]) {
    let last = (1u32 << z) - 1;
    let clamp = |v: f64| (v.floor().max(0.0) as u32).min(last);
    let [w, s, e, n] = bbox;
    (
        [clamp(tile_x(w, z)), clamp(tile_x(e, z))],
        [clamp(tile_y(n, z)), clamp(tile_y(s, z))],
    )
}

/// MBTiles numbers rows from the south (TMS); the web numbers them from the north (XYZ).
pub fn flip_y(y: u32, z: u8) -> u32 {
    ((1u32 << z) - 1) - y
}

/// `west,south,east,north` in degrees, a box on the map: four finite numbers, west < east,
/// south < north, within the world.
pub fn parse_bbox(text: &str) -> std::result::Result<[f64; 4], String> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| "bbox must be four numbers: west,south,east,north".to_owned())?;
    let [w, s, e, n] = <[f64; 4]>::try_from(parts)
        .map_err(|_| "bbox must be four numbers: west,south,east,north".to_owned())?;
    if ![w, s, e, n].iter().all(|v| v.is_finite()) {
        return Err("bbox must be finite numbers".into());
    }
    if !((-180.0..=180.0).contains(&w) && (-180.0..=180.0).contains(&e)) {
        return Err("bbox longitudes must be between -180 and 180".into());
    }
    if !((-90.0..=90.0).contains(&s) && (-90.0..=90.0).contains(&n)) {
        return Err("bbox latitudes must be between -90 and 90".into());
    }
    if w >= e || s >= n {
        return Err("bbox must have west < east and south < north".into());
    }
    Ok([w, s, e, n])
}

/// The server's tile set: none, or the configured file, opened at its first use (`prepare`
/// has already checked it opens, so a bad file fails the start, not a request).
pub struct Tiles {
    path: Option<PathBuf>,
    /// The most `GET /api/tiles/offline` lists, in bytes.
    pub offline_budget_bytes: u64,
    store: OnceCell<TileStore>,
}

impl Tiles {
    pub fn from_config(config: &Config) -> Tiles {
        Tiles {
            path: config.tiles_path(),
            offline_budget_bytes: config.tiles_offline_budget_mb.saturating_mul(1024 * 1024),
            store: OnceCell::new(),
        }
    }

    /// The tile set, or `None` when no tiles are configured.
    pub async fn store(&self) -> Result<Option<&TileStore>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        self.store
            .get_or_try_init(|| TileStore::open(path))
            .await
            .map(Some)
    }
}

/// Fails with a message naming the file when the configured tiles are not a readable
/// MBTiles of raster tiles: at start, not at the first map.
pub async fn check(config: &Config) -> Result<()> {
    if let Some(path) = config.tiles_path() {
        let store = TileStore::open(&path).await?;
        tracing::info!(
            path = %path.display(),
            name = %store.set().name,
            zooms = %format!("{}-{}", store.set().min_zoom, store.set().max_zoom),
            "serving map tiles"
        );
        store.close().await;
    }
    Ok(())
}

/// The refusal of a tile file, naming it.
pub(crate) fn unreadable(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::internal(format!(
        "map tiles {}: not a readable MBTiles file of raster tiles ({why}); \
         fix or remove --tiles / RENRAKU_TILES (or <data-dir>/tiles.mbtiles)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_numbers_round_trip_and_flip() {
        for z in [0u8, 5, 12, 16] {
            let (x, y) = (tile_x(139.7, z), tile_y(35.7, z));
            assert!((lon_of(x, z) - 139.7).abs() < 1e-9);
            assert!((lat_of(y, z) - 35.7).abs() < 1e-9);
        }
        // 139.7° E, 35.7° N at zoom 16 (XYZ).
        assert_eq!(tile_x(139.7, 16).floor() as u32, 58199);
        assert_eq!(tile_y(35.7, 16).floor() as u32, 25802);
        assert_eq!(flip_y(0, 3), 7);
        assert_eq!(flip_y(7, 3), 0);
        let ([x0, x1], [y0, y1]) = cover([139.69, 35.69, 139.71, 35.71], 14);
        assert!(x0 <= x1 && y0 <= y1);
    }

    #[test]
    fn boxes_are_checked() {
        assert_eq!(
            parse_bbox("139.6, 35.6,139.8,35.8"),
            Ok([139.6, 35.6, 139.8, 35.8])
        );
        for bad in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "a,b,c,d",
            "139.8,35.6,139.6,35.8",
            "139.6,35.8,139.8,35.6",
            "139.6,35.6,200,35.8",
            "NaN,35.6,139.8,35.8",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad:?}");
        }
    }
}
