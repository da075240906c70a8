//! The demo's own map (`renraku tiles demo --out FILE`, and `<data-dir>/tiles.mbtiles` for
//! `renraku demo` / `serve --demo`): a fictional town of about 6 × 6 km drawn as raster PNG
//! tiles at zooms 12–16 — land, a street grid, two avenues, a river, a park with a pond,
//! blocks of houses up close, and the town's boundary. Every pixel is computed from its
//! position in the world (metres from the town's south-west corner), so tiles line up with
//! their neighbours and across zooms. The demo register's people live in the same box
//! ([`BOUNDS`], [`at`]). No real map data: nothing to attribute but ourselves.

use super::{cover, flip_y, lat_of, lon_of};
use crate::error::{Error, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use std::path::Path;

/// The town: west, south, east, north in degrees (about 6 km each way at 35.7° N).
pub const BOUNDS: [f64; 4] = [139.670, 35.673, 139.736_4, 35.727];
pub const MIN_ZOOM: u8 = 12;
pub const MAX_ZOOM: u8 = 16;
pub const NAME: &str = "デモ市（架空の町）";
pub const ATTRIBUTION: &str = "デモ地図（架空の町） — Renraku が生成";

const TILE: u32 = 256;
/// Metres per degree of latitude, and of longitude at the town's latitude.
const M_PER_LAT: f64 = 110_950.0;
fn m_per_lon() -> f64 {
    111_320.0 * ((BOUNDS[1] + BOUNDS[3]) / 2.0).to_radians().cos()
}

/// The town's size in metres (east, north).
pub fn size_m() -> (f64, f64) {
    (
        (BOUNDS[2] - BOUNDS[0]) * m_per_lon(),
        (BOUNDS[3] - BOUNDS[1]) * M_PER_LAT,
    )
}

/// Latitude and longitude of the point `east` and `north` metres from the town's
/// south-west corner (where the demo register places its people).
pub fn at(east: f64, north: f64) -> (f64, f64) {
    (
        BOUNDS[1] + north / M_PER_LAT,
        BOUNDS[0] + east / m_per_lon(),
    )
}

/// The river's centre line: metres north of the town's southern edge at `east` metres.
pub fn river_north(east: f64) -> f64 {
    2300.0 + 350.0 * (east / 900.0).sin() + 150.0 * (east / 370.0 + 1.0).sin()
}
/// Half the river's width, in metres.
pub const RIVER_HALF_WIDTH: f64 = 45.0;
/// The park (an ellipse): centre and half-axes in metres.
pub const PARK: (f64, f64, f64, f64) = (4300.0, 4200.0, 380.0, 260.0);

const COUNTRYSIDE: [u8; 3] = [0xe4, 0xec, 0xd4];
const LAND: [u8; 3] = [0xf2, 0xef, 0xe9];
const BUILDING: [u8; 3] = [0xd9, 0xd0, 0xc9];
const STREET: [u8; 3] = [0xff, 0xff, 0xff];
const AVENUE: [u8; 3] = [0xf7, 0xd4, 0x96];
const WATER: [u8; 3] = [0xaa, 0xd3, 0xdf];
const PARK_GREEN: [u8; 3] = [0xc8, 0xe6, 0xb0];
const BOUNDARY: [u8; 3] = [0xa8, 0x8f, 0xc8];

/// Distance from `v` to the nearest line of a grid with lines every `step` from `offset`.
fn to_grid(v: f64, step: f64, offset: f64) -> f64 {
    let r = (v - offset).rem_euclid(step);
    r.min(step - r)
}

/// The colour at `e`, `n` metres from the south-west corner, where one pixel is `px` metres.
fn colour(e: f64, n: f64, px: f64) -> [u8; 3] {
    let (w, h) = size_m();
    let inside = (0.0..=w).contains(&e) && (0.0..=h).contains(&n);
    // A line is at least about a pixel wide, so it shows when zoomed out.
    let half = |m: f64| m.max(px * 0.6);
    let edge = e.abs().min((e - w).abs()).min(n.abs()).min((n - h).abs());
    let near_box = (-px..=w + px).contains(&e) && (-px..=h + px).contains(&n);
    if near_box && edge <= half(px * 1.2) {
        return BOUNDARY;
    }
    // Two avenues cross the town and leave it (bridges over the river).
    if (e - 3000.0).abs() <= half(12.0) || (n - 3400.0).abs() <= half(12.0) {
        return AVENUE;
    }
    if (n - river_north(e)).abs() <= RIVER_HALF_WIDTH.max(px * 0.8) {
        return WATER;
    }
    let (pe, pn, ra, rb) = PARK;
    let park = ((e - pe) / ra).powi(2) + ((n - pn) / rb).powi(2);
    if park <= 1.0 {
        return if ((e - pe) / 70.0).powi(2) + ((n - pn + 40.0) / 45.0).powi(2) <= 1.0 {
            WATER
        } else {
            PARK_GREEN
        };
    }
    if !inside {
        return COUNTRYSIDE;
    }
    // Streets every 300 m from zoom 14 on (a pixel under 10 m), lanes every 100 m closer.
    if px < 10.0 && (to_grid(e, 300.0, 0.0) <= half(5.0) || to_grid(n, 300.0, 0.0) <= half(5.0)) {
        return STREET;
    }
    if px < 4.0 && (to_grid(e, 100.0, 0.0) <= half(2.5) || to_grid(n, 100.0, 0.0) <= half(2.5)) {
        return STREET;
    }
    // Houses: four to a 100 m block, with gardens between, when a pixel is under 3 m.
    if px < 3.0 {
        let (be, bn) = (e.rem_euclid(50.0), n.rem_euclid(50.0));
        if (9.0..41.0).contains(&be) && (9.0..41.0).contains(&bn) {
            // Not every plot is built on: a fixed pattern by plot.
            let plot = ((e / 50.0).floor() as i64 * 7 + (n / 50.0).floor() as i64 * 13) % 5;
            if plot != 0 {
                return BUILDING;
            }
        }
    }
    LAND
}

/// The PNG of tile `z/x/y` (XYZ).
pub fn render(z: u8, x: u32, y: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((TILE * TILE * 3) as usize);
    let world = f64::from(TILE);
    let mlon = m_per_lon();
    // One pixel's size in metres at this zoom (north-south, near enough east-west too).
    let px = (lat_of(f64::from(y), z) - lat_of(f64::from(y) + 1.0, z)) * M_PER_LAT / world;
    for row in 0..TILE {
        let lat = lat_of(f64::from(y) + (f64::from(row) + 0.5) / world, z);
        let n = (lat - BOUNDS[1]) * M_PER_LAT;
        for col in 0..TILE {
            let lon = lon_of(f64::from(x) + (f64::from(col) + 0.5) / world, z);
            let e = (lon - BOUNDS[0]) * mlon;
            rgb.extend_from_slice(&colour(e, n, px));
        }
    }
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(&rgb, TILE, TILE, ExtendedColorType::Rgb8)
        .expect("encoding a PNG in memory");
    out
}

/// The tiles of the set: every tile touching the town (and a tile's margin around it at
/// the closest zoom, so the boundary is never cut), `(z, x, y)` XYZ.
pub fn tiles() -> Vec<(u8, u32, u32)> {
    let mut out = Vec::new();
    for z in MIN_ZOOM..=MAX_ZOOM {
        let ([x0, x1], [y0, y1]) = cover(BOUNDS, z);
        for x in x0..=x1 {
            for y in y0..=y1 {
                out.push((z, x, y));
            }
        }
    }
    out
}

/// Writes the demo's tile set to `path` (replacing the file); how many tiles. Written
/// beside it first and renamed, so a server never opens half a file.
pub async fn write(path: &Path) -> Result<usize> {
    let rendered = tokio::task::spawn_blocking(|| {
        tiles()
            .into_iter()
            .map(|(z, x, y)| (z, x, y, render(z, x, y)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(Error::internal)?;
    let tmp = path.with_extension("mbtiles.partial");
    let _ = std::fs::remove_file(&tmp);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
    }
    let mut conn = SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(&tmp)
            .create_if_missing(true),
    )
    .await?;
    let mut tx = conn.begin().await?;
    for ddl in [
        "CREATE TABLE metadata (name TEXT, value TEXT)",
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, \
             tile_data BLOB)",
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)",
    ] {
        sqlx::query(ddl).execute(&mut *tx).await?;
    }
    let (clat, clon) = at(size_m().0 / 2.0, size_m().1 / 2.0);
    let metadata = [
        ("name", NAME.to_owned()),
        ("format", "png".to_owned()),
        ("type", "baselayer".to_owned()),
        ("version", "1".to_owned()),
        (
            "description",
            "Renraku のデモ用に生成した架空の町の地図".to_owned(),
        ),
        ("attribution", ATTRIBUTION.to_owned()),
        (
            "bounds",
            format!("{},{},{},{}", BOUNDS[0], BOUNDS[1], BOUNDS[2], BOUNDS[3]),
        ),
        ("center", format!("{clon:.5},{clat:.5},14")),
        ("minzoom", MIN_ZOOM.to_string()),
        ("maxzoom", MAX_ZOOM.to_string()),
    ];
    for (name, value) in metadata {
        sqlx::query("INSERT INTO metadata (name, value) VALUES (?1, ?2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    for (z, x, y, png) in &rendered {
        sqlx::query(
            "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(i64::from(*z))
        .bind(i64::from(*x))
        .bind(i64::from(flip_y(*y, *z)))
        .bind(png.as_slice())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    conn.close().await?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))?;
    Ok(rendered.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_town_is_about_six_km_square_and_has_a_river_and_streets() {
        let (w, h) = size_m();
        assert!(
            (5800.0..6200.0).contains(&w) && (5800.0..6200.0).contains(&h),
            "{w}×{h}"
        );
        let px = 2.0;
        assert_eq!(colour(1000.0, river_north(1000.0), px), WATER);
        assert_eq!(colour(3000.0, river_north(3000.0), px), AVENUE, "a bridge");
        assert_eq!(colour(PARK.0 + 200.0, PARK.1, px), PARK_GREEN);
        assert_eq!(colour(1500.0, 1200.0, px), STREET);
        assert_eq!(colour(-500.0, 1000.0, px), COUNTRYSIDE);
        let (lat, lon) = at(w, h);
        assert!((lat - BOUNDS[3]).abs() < 1e-9 && (lon - BOUNDS[2]).abs() < 1e-9);
    }

    #[test]
    fn a_tile_is_a_small_png() {
        let (z, x, y) = tiles()[tiles().len() / 2];
        let png = render(z, x, y);
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        assert_eq!((img.width(), img.height()), (256, 256));
        assert!(png.len() < 20_000, "{} bytes", png.len());
    }
}
