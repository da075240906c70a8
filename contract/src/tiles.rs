//! Map tiles served by Renraku itself (issue 16's 要援護者マップ): raster tiles from an MBTiles
//! file the operator supplies, so the app never calls a third-party tile server. The rules
//! are in `docs/assistance-register.md` (section "Map tiles").

use serde::{Deserialize, Serialize};

text_enum!(
    /// The image format of every tile of a set (the MBTiles `format` metadata).
    TileFormat {
        Png = "png",
        Jpg = "jpg",
        Webp = "webp",
    }
);

impl TileFormat {
    /// The `Content-Type` of a tile.
    pub fn mime(self) -> &'static str {
        match self {
            TileFormat::Png => "image/png",
            TileFormat::Jpg => "image/jpeg",
            TileFormat::Webp => "image/webp",
        }
    }
}

/// `GET /api/tiles`: the tile set this server serves, from its MBTiles metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TileSet {
    /// Whether the operator configured tiles at all; without, every other field is empty and
    /// the map shows its markers on a plain background.
    pub configured: bool,
    pub name: String,
    /// What the map must show in its corner (the source's terms: 国土地理院 …).
    pub attribution: String,
    pub format: TileFormat,
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// West, south, east, north in degrees (WGS84), when the set says.
    #[serde(default)]
    pub bounds: Option<[f64; 4]>,
    /// Longitude, latitude and zoom the map opens at, when the set says.
    #[serde(default)]
    pub center: Option<[f64; 3]>,
}

impl TileSet {
    /// What `GET /api/tiles` answers when no tiles are configured.
    pub fn unconfigured() -> TileSet {
        TileSet {
            configured: false,
            name: String::new(),
            attribution: String::new(),
            format: TileFormat::Png,
            min_zoom: 0,
            max_zoom: 0,
            bounds: None,
            center: None,
        }
    }
}

/// `GET /api/tiles/offline` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct OfflineTilesQuery {
    /// `west,south,east,north` in degrees: the area to keep (the municipality's register's
    /// people, say).
    pub bbox: String,
}

/// `GET /api/tiles/offline`: the tiles a device keeps so the map opens offline: every stored
/// tile covering the asked area (within the set's bounds), zoom by zoom from the set's
/// smallest, up to the last zoom that keeps the total within the server's budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineTiles {
    /// The most the list may add up to, in bytes (the operator's setting).
    pub budget_bytes: u64,
    /// What the listed tiles add up to.
    pub bytes: u64,
    /// The zooms listed, every stored tile of the area at each.
    pub zooms: Vec<u8>,
    /// `[z, x, y]`, XYZ numbering as in `/api/tiles/{z}/{x}/{y}`.
    pub tiles: Vec<[u32; 3]>,
}
