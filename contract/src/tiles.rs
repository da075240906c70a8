//! Map tiles served by Renraku itself from the operator's MBTiles file (the register's map):
//! what the set holds, and which of its tiles a device keeps for offline use.

use serde::{Deserialize, Serialize};

text_enum!(
    /// The image format of a tile set's tiles.
    TileFormat {
        Png = "png",
        Jpg = "jpg",
        Webp = "webp",
    }
);

/// `GET /api/tiles`: the operator's tile set, or `configured: false` without one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TileSet {
    pub configured: bool,
    pub name: String,
    /// Shown on the map, as the tiles' terms require.
    pub attribution: String,
    pub format: TileFormat,
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// West, south, east, north, in degrees.
    pub bounds: Option<[f64; 4]>,
    /// Longitude, latitude, zoom.
    pub center: Option<[f64; 3]>,
}

/// `GET /api/tiles/offline?bbox=`: the tiles over an area a device should keep, zoom level by
/// zoom level from the set's least detailed, within the server's size budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineTiles {
    pub budget_bytes: u64,
    /// What the listed tiles weigh together.
    pub bytes: u64,
    pub zooms: Vec<u8>,
    /// `[z, x, y]` (XYZ scheme, as in `/api/tiles/{z}/{x}/{y}`).
    pub tiles: Vec<[u32; 3]>,
}
