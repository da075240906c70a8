//! Map tiles for the 要援護者マップ (issue 16): the demo's own tile set (`renraku tiles
//! demo`), served from its MBTiles file to signed-in users: the set's description, each
//! tile (XYZ numbering over the file's TMS rows) with a cache policy the service worker may
//! keep, 404 outside the set, 401 without a session, the offline list within its budget;
//! without tiles configured the map says so; a bad file fails the start.

use renraku_server::tiles::{self, demo};
use renraku_tests::api::Api;
use renraku_tests::TestServer;
use reqwest::StatusCode;
use sqlx::{Connection, Row, SqliteConnection};
use std::path::{Path, PathBuf};

/// The demo set written into a fresh directory.
async fn demo_set() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.mbtiles");
    let n = demo::write(&path).await.unwrap();
    assert_eq!(n, demo::tiles().len());
    (dir, path)
}

/// A tile as the file stores it: rows counted from the south.
async fn stored(path: &Path, z: u8, x: u32, y: u32) -> Option<Vec<u8>> {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
    )
    .bind(i64::from(z))
    .bind(i64::from(x))
    .bind(i64::from((1u32 << z) - 1 - y))
    .fetch_optional(&mut c)
    .await
    .unwrap();
    row.map(|r| r.get::<Vec<u8>, _>("tile_data"))
}

fn bbox(b: [f64; 4]) -> String {
    format!("{},{},{},{}", b[0], b[1], b[2], b[3])
}

#[tokio::test]
async fn the_demo_map_is_served_to_signed_in_users() {
    let (_dir, path) = demo_set().await;
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "the demo set is {size} bytes");
    let server = TestServer::start_with(|c| c.tiles = Some(path.clone())).await;
    let nurse = Api::demo(&server.base_url(), "nurse1").await.unwrap();

    let set = nurse.tile_set().await.unwrap();
    assert!(set.configured);
    assert_eq!(set.name, demo::NAME);
    assert_eq!(set.attribution, demo::ATTRIBUTION);
    assert_eq!(set.format, renraku_contract::TileFormat::Png);
    assert_eq!((set.min_zoom, set.max_zoom), (12, 16));
    assert_eq!(set.bounds, Some(demo::BOUNDS));
    let [lon, lat, zoom] = set.center.expect("a center");
    assert!(demo::BOUNDS[0] < lon && lon < demo::BOUNDS[2]);
    assert!(demo::BOUNDS[1] < lat && lat < demo::BOUNDS[3]);
    assert_eq!(zoom, 14.0);

    // The tile under the town's centre at zoom 15: the file's row, flipped.
    let (x, y) = (
        tiles::tile_x(lon, 15).floor() as u32,
        tiles::tile_y(lat, 15).floor() as u32,
    );
    let (status, kind, cache, bytes) = nurse.tile(15, x, y).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "image/png");
    assert_eq!(cache, "private, max-age=604800");
    assert_eq!(Some(bytes.clone()), stored(&path, 15, x, y).await);
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));
    // Not the same picture as the row of the unflipped number.
    assert_ne!(Some(bytes), stored(&path, 15, x, (1 << 15) - 1 - y).await);

    // Outside the set: 404 with an empty body, whatever the zoom.
    for (z, x, y) in [
        (10, x >> 5, y >> 5),
        (15, 0, 0),
        (17, x * 4, y * 4),
        (3, 99, 0),
    ] {
        let (status, _, _, bytes) = nurse.tile(z, x, y).await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{z}/{x}/{y}");
        assert!(bytes.is_empty());
    }

    // Without a session: nothing.
    let anonymous = reqwest::Client::new();
    for path in [
        format!("/api/tiles/15/{x}/{y}"),
        "/api/tiles".to_owned(),
        format!("/api/tiles/offline?bbox={}", bbox(demo::BOUNDS)),
    ] {
        let answer = anonymous.get(server.url(&path)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    // Offline: the town at every zoom (the demo set is far under the default 50 MB), every
    // listed tile fetchable, every tile covering the box listed.
    let offline = nurse.offline_tiles(&bbox(demo::BOUNDS)).await.unwrap();
    assert_eq!(offline.budget_bytes, 50 * 1024 * 1024);
    assert_eq!(offline.zooms, vec![12, 13, 14, 15, 16]);
    assert_eq!(offline.tiles.len(), demo::tiles().len());
    let mut total = 0;
    for &[z, x, y] in &offline.tiles {
        total += stored(&path, z as u8, x, y)
            .await
            .expect("listed tiles exist")
            .len() as u64;
    }
    assert_eq!(offline.bytes, total);
    // A box reaching beyond the set is cut to its bounds; one outside it lists nothing.
    let wider = [139.5, 35.5, 139.9, 35.9];
    assert_eq!(
        nurse.offline_tiles(&bbox(wider)).await.unwrap().tiles,
        offline.tiles
    );
    let elsewhere = nurse.offline_tiles("135.0,34.6,135.1,34.7").await.unwrap();
    assert!(elsewhere.tiles.is_empty() && elsewhere.zooms.is_empty());
    for bad in ["", "1,2,3", "139.8,35.6,139.6,35.8", "x,y,z,w"] {
        let e = nurse.offline_tiles(bad).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{bad:?}");
    }

    // Within a budget: whole zooms from the smallest, stopping before the one that would
    // exceed it.
    let store = tiles::TileStore::open(&path).await.unwrap();
    for &z in &offline.zooms {
        assert!(
            offline.tiles.iter().any(|t| t[0] == u32::from(z)),
            "zoom {z}"
        );
    }
    let none = store.offline(demo::BOUNDS, 0).await.unwrap();
    assert!(none.tiles.is_empty() && none.bytes == 0);
    let up_to_14 = {
        let mut sum = 0;
        for &[z, x, y] in offline.tiles.iter().filter(|t| t[0] <= 14) {
            sum += stored(&path, z as u8, x, y).await.unwrap().len() as u64;
        }
        sum
    };
    let cut = store.offline(demo::BOUNDS, up_to_14 + 1).await.unwrap();
    assert_eq!(cut.zooms, vec![12, 13, 14]);
    assert_eq!(cut.bytes, up_to_14);
    assert!(cut.tiles.iter().all(|t| t[0] <= 14));
    // Each listed zoom covers the box: every tile of the box at that zoom is listed.
    for z in [12u8, 13, 14] {
        let ([x0, x1], [y0, y1]) = tiles::cover(demo::BOUNDS, z);
        for x in x0..=x1 {
            for y in y0..=y1 {
                assert!(cut.tiles.contains(&[u32::from(z), x, y]), "{z}/{x}/{y}");
            }
        }
    }
    store.close().await;
}

#[tokio::test]
async fn without_tiles_the_map_says_so() {
    let server = TestServer::start().await;
    let nurse = Api::demo(&server.base_url(), "nurse1").await.unwrap();
    let set = nurse.tile_set().await.unwrap();
    assert_eq!(set, renraku_contract::TileSet::unconfigured());
    let (status, kind, _, _) = nurse.tile(14, 14550, 6450).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(kind.starts_with("application/json"), "{kind}");
    let e = nurse.offline_tiles(&bbox(demo::BOUNDS)).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn a_file_that_is_not_mbtiles_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("region.mbtiles");
    std::fs::write(&bad, b"not a database at all, just some bytes").unwrap();
    let mut config = renraku_server::Config::with_data_dir(dir.path());
    config.tiles = Some(bad.clone());
    let Err(e) = renraku_server::prepare(&config).await else {
        panic!("a file that is not MBTiles was accepted");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("region.mbtiles") && message.contains("MBTiles"),
        "{message}"
    );
    // A file that does not exist is refused too, where it is named explicitly.
    config.tiles = Some(dir.path().join("missing.mbtiles"));
    let Err(e) = renraku_server::prepare(&config).await else {
        panic!("a missing file was accepted");
    };
    assert!(format!("{e:#}").contains("missing.mbtiles"));
}
