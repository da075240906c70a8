//! Reading an MBTiles file (https://github.com/mapbox/mbtiles-spec): a SQLite database with a
//! `metadata` table of name/value pairs and a `tiles` table (or view) of
//! `zoom_level, tile_column, tile_row, tile_data`, rows numbered from the south (TMS). Opened
//! read-only, in its own small pool: the operator's file is never written.

use super::{cover, flip_y, unreadable};
use crate::error::Result;
use renraku_contract::{OfflineTiles, TileFormat, TileSet};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use std::collections::HashMap;
use std::path::Path;

/// Deepest zoom a tile request may name (2^30 tiles a side is beyond any raster set).
pub const MAX_ZOOM: u8 = 30;

/// An open MBTiles file and its metadata.
pub struct TileStore {
    pool: SqlitePool,
    set: TileSet,
}

impl TileStore {
    /// Opens `path` read-only and reads its metadata; an unreadable file, one that is not
    /// SQLite, one without the MBTiles tables, or vector tiles are refused with a message
    /// naming the file.
    pub async fn open(path: &Path) -> Result<TileStore> {
        if !path.is_file() {
            return Err(unreadable(path, "no such file"));
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| unreadable(path, e))?;
        let set = read_set(&pool).await.map_err(|e| unreadable(path, e))?;
        Ok(TileStore { pool, set })
    }

    pub fn set(&self) -> &TileSet {
        &self.set
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The tile at `z/x/y` (XYZ), if the set has it.
    pub async fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>> {
        if z > MAX_ZOOM || x >= 1u32 << z || y >= 1u32 << z {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT tile_data FROM tiles \
             WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
        )
        .bind(i64::from(z))
        .bind(i64::from(x))
        .bind(i64::from(flip_y(y, z)))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| r.try_get::<Vec<u8>, _>("tile_data"))
            .transpose()?)
    }

    /// The stored tiles covering `bbox` (within the set's bounds), zoom by zoom from the
    /// smallest, stopping before the first zoom that would take the total over `budget`.
    pub async fn offline(&self, bbox: [f64; 4], budget: u64) -> Result<OfflineTiles> {
        let mut out = OfflineTiles {
            budget_bytes: budget,
            bytes: 0,
            zooms: vec![],
            tiles: vec![],
        };
        let area = match self.set.bounds {
            None => Some(bbox),
            Some(b) => intersect(bbox, b),
        };
        let Some(area) = area else {
            return Ok(out);
        };
        for z in self.set.min_zoom..=self.set.max_zoom.min(MAX_ZOOM) {
            let ([x0, x1], [y0, y1]) = cover(area, z);
            // Rows count from the south: the northern XYZ row is the higher TMS row.
            let (r0, r1) = (flip_y(y1, z), flip_y(y0, z));
            let range = |q: &'static str| {
                sqlx::query(q)
                    .bind(i64::from(z))
                    .bind(i64::from(x0))
                    .bind(i64::from(x1))
                    .bind(i64::from(r0))
                    .bind(i64::from(r1))
            };
            // The size first: a zoom over the budget is not listed, however many tiles.
            let sum = range(
                "SELECT COALESCE(SUM(length(tile_data)), 0) AS n FROM tiles \
                 WHERE zoom_level = ?1 AND tile_column BETWEEN ?2 AND ?3 \
                 AND tile_row BETWEEN ?4 AND ?5",
            )
            .fetch_one(&self.pool)
            .await?;
            let bytes = u64::try_from(sum.try_get::<i64, _>("n")?).unwrap_or(0);
            if out.bytes + bytes > budget {
                break;
            }
            // West to east, north to south within a zoom (TMS rows count from the south).
            let rows = range(
                "SELECT tile_column, tile_row FROM tiles \
                 WHERE zoom_level = ?1 AND tile_column BETWEEN ?2 AND ?3 \
                 AND tile_row BETWEEN ?4 AND ?5 ORDER BY tile_column, tile_row DESC",
            )
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                continue;
            }
            for r in &rows {
                let x: i64 = r.try_get("tile_column")?;
                let row: i64 = r.try_get("tile_row")?;
                out.tiles
                    .push([u32::from(z), x as u32, flip_y(row as u32, z)]);
            }
            out.bytes += bytes;
            out.zooms.push(z);
        }
        Ok(out)
    }
}

/// The part of `a` inside `b` (both west, south, east, north), if any.
fn intersect(a: [f64; 4], b: [f64; 4]) -> Option<[f64; 4]> {
    let r = [
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ];
    (r[0] < r[2] && r[1] < r[3]).then_some(r)
}

/// The set's description from its `metadata` table; zooms missing there come from the
/// tiles themselves.
async fn read_set(pool: &SqlitePool) -> std::result::Result<TileSet, String> {
    let rows = sqlx::query("SELECT name, value FROM metadata")
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut meta = HashMap::new();
    for r in &rows {
        let name: String = r.try_get("name").map_err(|e| e.to_string())?;
        let value: Option<String> = r.try_get("value").map_err(|e| e.to_string())?;
        meta.insert(name, value.unwrap_or_default());
    }
    let format = match meta.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        Some(f) if f == "png" => TileFormat::Png,
        Some(f) if f == "jpg" || f == "jpeg" => TileFormat::Jpg,
        Some(f) if f == "webp" => TileFormat::Webp,
        Some(f) if f == "pbf" || f == "mvt" => {
            return Err("vector tiles (pbf); Renraku serves raster tiles: png, jpg or webp".into())
        }
        Some(f) => return Err(format!("unknown tile format {f:?}")),
        None => return Err("metadata has no format (png, jpg or webp)".into()),
    };
    let zooms = sqlx::query("SELECT MIN(zoom_level) AS lo, MAX(zoom_level) AS hi FROM tiles")
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    let stored = |column: &str| -> Option<u8> {
        zooms
            .try_get::<Option<i64>, _>(column)
            .ok()
            .flatten()
            .and_then(|z| u8::try_from(z).ok())
    };
    let zoom = |key: &str, stored: Option<u8>| -> Option<u8> {
        meta.get(key)
            .and_then(|v| v.trim().parse::<u8>().ok())
            .or(stored)
            .map(|z| z.min(MAX_ZOOM))
    };
    let min_zoom = zoom("minzoom", stored("lo")).unwrap_or(0);
    let max_zoom = zoom("maxzoom", stored("hi"))
        .unwrap_or(min_zoom)
        .max(min_zoom);
    let numbers = |key: &str| -> Option<Vec<f64>> {
        let v: Vec<f64> = meta
            .get(key)?
            .split(',')
            .map(|p| p.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
            .collect::<Option<_>>()?;
        Some(v)
    };
    let bounds = numbers("bounds")
        .and_then(|v| <[f64; 4]>::try_from(v).ok())
        .filter(|b| b[0] < b[2] && b[1] < b[3]);
    let center = numbers("center").and_then(|v| <[f64; 3]>::try_from(v).ok());
    Ok(TileSet {
        configured: true,
        name: meta.get("name").cloned().unwrap_or_default(),
        attribution: meta.get("attribution").cloned().unwrap_or_default(),
        format,
        min_zoom,
        max_zoom,
        bounds,
        center,
    })
}
