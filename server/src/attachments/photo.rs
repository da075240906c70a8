//! Photos: metadata removed before anything is stored, and a thumbnail made on the server.
//!
//! Stripping is lossless and works on the containers' structure, keeping only what is
//! needed to show the picture (an allow-list, so unknown and private blocks go too):
//! - JPEG: SOI, frame, tables, scans, JFIF, ICC colour profile and Adobe colour-transform
//!   segments are kept; EXIF, XMP, IPTC, maker notes, comments, and anything after the end
//!   of the first image (an appended second picture or a "motion photo" video) are dropped.
//! - PNG: the chunks for pixels, palette, transparency and colour are kept; text, time and
//!   EXIF chunks and private ones are dropped.
//! - WebP: image, alpha, animation and ICC chunks are kept; EXIF, XMP and unknown ones go,
//!   and the extended header's flags are corrected to match.
//!
//! A JPEG's EXIF also carries the orientation a phone camera records instead of rotating
//! pixels; dropping it would turn photos on their side, so a fresh EXIF block with that one
//! tag (and nothing else: no GPS, no camera, no time) is written back.
//!
//! Decoding for the thumbnail costs memory by pixels, not by file size: a 478 KB PNG can
//! claim 16384×10000 pixels (~500 MiB decoded). So every photo's dimensions are read from
//! its header first and checked against a pixel limit, and decodes share a memory budget
//! ([`DecodePool`]): uploads wait for their turn rather than decode all at once.

use super::Kind;
use bytes::Bytes;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::io::Cursor;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Thumbnails fit in a square this many pixels wide.
pub const THUMBNAIL_SIZE: u32 = 320;
const THUMBNAIL_QUALITY: u8 = 80;
/// Decoding limits: a small file can claim enormous dimensions (a decompression bomb).
const MAX_DIMENSION: u32 = 16_384;
const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// A photo after stripping.
pub struct CleanPhoto {
    pub bytes: Bytes,
    /// JPEG bytes.
    pub thumbnail: Option<Bytes>,
    /// Display size (after orientation).
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The container is not what its magic bytes said, is cut short, or does not decode.
    #[error("not a readable image: {0}")]
    Unreadable(String),
    /// More pixels than may be decoded (`max_pixels` at this image's colour depth).
    #[error("{width}×{height} pixels is over the limit of {max_pixels}")]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
}

/// How large a photo may be decoded, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Pixels per image.
    pub max_pixels: u64,
    /// Memory all decodes running at once may take.
    pub decode_memory_bytes: u64,
}

/// Photo decodes in progress, bounded by the memory their pixels take: a semaphore whose
/// permits are KiB of the budget.
#[derive(Clone)]
pub struct DecodePool {
    limits: PhotoLimits,
    memory: Arc<Semaphore>,
    budget_kib: u32,
}

impl DecodePool {
    pub fn new(limits: PhotoLimits) -> Self {
        let budget_kib = u32::try_from(limits.decode_memory_bytes / 1024)
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Self {
            limits,
            memory: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
        }
    }

    /// Reads `photo`'s dimensions from its header (nothing is decoded), refuses it if it has
    /// too many pixels, else waits until the budget has room for decoding it. The returned
    /// permit holds that memory until dropped.
    pub async fn admit(&self, photo: &[u8]) -> Result<OwnedSemaphorePermit, PhotoError> {
        let (width, height, bytes_per_pixel) = header(photo)?;
        let pixels = u64::from(width) * u64::from(height);
        let by_memory = (u64::from(self.budget_kib) * 1024) / bytes_per_pixel.max(1);
        let max_pixels = self.limits.max_pixels.min(by_memory);
        if pixels > max_pixels {
            return Err(PhotoError::TooManyPixels {
                width,
                height,
                max_pixels,
            });
        }
        let kib = (pixels * bytes_per_pixel).div_ceil(1024).max(1);
        let kib = u32::try_from(kib).expect("at most the budget");
        self.memory
            .clone()
            .acquire_many_owned(kib)
            .await
            .map_err(|_| unreadable("decoding unavailable"))
    }

    /// The decoder's own allocation limit: never more than the whole budget.
    fn max_alloc(&self) -> u64 {
        u64::from(self.budget_kib) * 1024
    }
}

/// Width, height and decoded bytes per pixel, from the header only.
fn header(photo: &[u8]) -> Result<(u32, u32, u64), PhotoError> {
    let decoder = ImageReader::new(Cursor::new(photo))
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?
        .into_decoder()
        .map_err(|e| unreadable(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    Ok((
        width,
        height,
        u64::from(decoder.color_type().bytes_per_pixel()),
    ))
}

fn unreadable(why: impl Into<String>) -> PhotoError {
    PhotoError::Unreadable(why.into())
}

/// Strips `original` (of `kind`, an image), checks that it still decodes, and makes its
/// thumbnail. CPU-bound: call from a blocking task, holding the pool's permit for it
/// ([`DecodePool::admit`]).
pub fn clean(pool: &DecodePool, kind: Kind, original: &[u8]) -> Result<CleanPhoto, PhotoError> {
    // Image decoders are large parsers of hostile input: a panic in one refuses this file
    // and nothing else.
    let max_alloc = pool.max_alloc();
    std::panic::catch_unwind(|| clean_inner(max_alloc, kind, original))
        .unwrap_or_else(|_| Err(unreadable("the decoder gave up")))
}

fn clean_inner(max_alloc: u64, kind: Kind, original: &[u8]) -> Result<CleanPhoto, PhotoError> {
    let (bytes, orientation) = match kind {
        Kind::Jpeg => strip_jpeg(original)?,
        Kind::Png => (strip_png(original)?, Orientation::NoTransforms),
        Kind::Webp => (strip_webp(original)?, Orientation::NoTransforms),
        _ => return Err(unreadable("not an image")),
    };
    let image = decode(&bytes, max_alloc).map_err(|e| unreadable(e.to_string()))?;
    // Turned after shrinking: turning the full image would copy all its pixels again.
    let (width, height) = match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (image.height(), image.width()),
        _ => (image.width(), image.height()),
    };
    Ok(CleanPhoto {
        width,
        height,
        thumbnail: thumbnail(&image, orientation),
        bytes: Bytes::from(bytes),
    })
}

/// Reads a big-endian u16 at `at`.
fn be16(data: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]) as usize)
}

fn strip_jpeg(data: &[u8]) -> Result<(Vec<u8>, Orientation), PhotoError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(unreadable("no JPEG start marker"));
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut orientation = Orientation::NoTransforms;
    // Where the orientation-only EXIF goes: after JFIF when there is one (JFIF must come
    // first), else right after SOI.
    let mut exif_at = out.len();
    let mut pos = 2;
    let mut in_scan = false;
    loop {
        if in_scan {
            // Entropy-coded data: copy up to the next marker that is not a stuffed 0xFF00
            // or a restart marker.
            let start = pos;
            loop {
                let next = data[pos..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .map(|i| pos + i)
                    .ok_or_else(|| unreadable("scan data cut off"))?;
                let marker = *data.get(next + 1).ok_or_else(|| unreadable("cut off"))?;
                if marker == 0x00 || (0xD0..=0xD7).contains(&marker) {
                    pos = next + 2;
                    continue;
                }
                out.extend_from_slice(&data[start..next]);
                pos = next;
                break;
            }
            in_scan = false;
        }
        // Fill bytes (0xFF repeated) may precede a marker.
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return Err(unreadable("expected a JPEG marker"));
        }
        let marker = *data.get(pos + 1).ok_or_else(|| unreadable("cut off"))?;
        match marker {
            // End of the image: whatever follows (a second picture, a video) is dropped.
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                break;
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&data[pos..pos + 2]);
                pos += 2;
                continue;
            }
            _ => {}
        }
        let length = be16(data, pos + 2).ok_or_else(|| unreadable("cut off"))?;
        if length < 2 {
            return Err(unreadable("bad segment length"));
        }
        let end = pos + 2 + length;
        let segment = data
            .get(pos..end)
            .ok_or_else(|| unreadable("segment cut off"))?;
        let contents = &segment[4..];
        let keep = match marker {
            0xE0 => contents.starts_with(b"JFIF\0") || contents.starts_with(b"JFXX\0"),
            0xE1 => {
                if let Some(tiff) = contents.strip_prefix(EXIF_PREFIX) {
                    if let Some(found) = Orientation::from_exif_chunk(tiff) {
                        orientation = found;
                    }
                }
                false
            }
            0xE2 => contents.starts_with(b"ICC_PROFILE\0"),
            0xEE => contents.starts_with(b"Adobe"),
            // Every other application segment and comments.
            0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
            if marker == 0xE0 && exif_at == 2 {
                exif_at = out.len();
            }
        }
        if marker == 0xDA {
            in_scan = true;
        }
        pos = end;
    }
    if orientation != Orientation::NoTransforms {
        let exif = orientation_only_exif(orientation);
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        segment.extend_from_slice(&exif);
        out.splice(exif_at..exif_at, segment);
    }
    Ok((out, orientation))
}

/// `Exif\0\0` and a TIFF structure with one entry: Orientation (0x0112).
fn orientation_only_exif(orientation: Orientation) -> Vec<u8> {
    let value = u16::from(orientation.to_exif());
    let mut exif = EXIF_PREFIX.to_vec();
    exif.extend_from_slice(b"II*\0");
    exif.extend_from_slice(&8u32.to_le_bytes()); // the first IFD right after the header
    exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_le_bytes()); // one value
    exif.extend_from_slice(&value.to_le_bytes());
    exif.extend_from_slice(&[0, 0]); // padded to 4 bytes
    exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    exif
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Chunks needed to show a PNG (and APNG) as intended.
const PNG_KEEP: [&[u8; 4]; 14] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn strip_png(data: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if !data.starts_with(PNG_SIGNATURE) {
        return Err(unreadable("no PNG signature"));
    }
    let mut out = PNG_SIGNATURE.to_vec();
    let mut pos = PNG_SIGNATURE.len();
    loop {
        let header = data
            .get(pos..pos + 8)
            .ok_or_else(|| unreadable("cut off"))?;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind: &[u8; 4] = header[4..8].try_into().expect("four bytes");
        let end = pos
            .checked_add(12)
            .and_then(|n| n.checked_add(length))
            .ok_or_else(|| unreadable("bad chunk length"))?;
        let chunk = data
            .get(pos..end)
            .ok_or_else(|| unreadable("chunk cut off"))?;
        if PNG_KEEP.contains(&kind) {
            out.extend_from_slice(chunk);
        }
        pos = end;
        if kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// WebP chunks needed to show the picture.
const WEBP_KEEP: [&[u8; 4]; 7] = [
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];
/// VP8X flags: EXIF and XMP present.
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

fn strip_webp(data: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WEBP" {
        return Err(unreadable("no WebP header"));
    }
    let declared = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let body_end = declared
        .checked_add(8)
        .filter(|&n| n <= data.len())
        .ok_or_else(|| unreadable("RIFF cut off"))?;
    let mut body = b"WEBP".to_vec();
    let mut pos = 12;
    while pos < body_end {
        let header = data
            .get(pos..pos + 8)
            .ok_or_else(|| unreadable("cut off"))?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        // Chunks are padded to an even size.
        let end = pos
            .checked_add(8 + size + (size & 1))
            .ok_or_else(|| unreadable("bad chunk size"))?;
        let chunk = data
            .get(pos..end.min(body_end))
            .ok_or_else(|| unreadable("cut off"))?;
        let kind: &[u8; 4] = header[..4].try_into().expect("four bytes");
        if WEBP_KEEP.contains(&kind) {
            let start = body.len();
            body.extend_from_slice(chunk);
            if kind == b"VP8X" && body.len() > start + 8 {
                body[start + 8] &= !(VP8X_EXIF | VP8X_XMP);
            }
        }
        pos = end;
    }
    let mut out = b"RIFF".to_vec();
    let size = u32::try_from(body.len()).map_err(|_| unreadable("too large"))?;
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode(bytes: &[u8], max_alloc: u64) -> Result<DynamicImage, image::ImageError> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    reader.decode()
}

fn thumbnail(image: &DynamicImage, orientation: Orientation) -> Option<Bytes> {
    // Only ever smaller: a small picture is its own thumbnail.
    let mut small = if image.width() <= THUMBNAIL_SIZE && image.height() <= THUMBNAIL_SIZE {
        image.clone()
    } else {
        image.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    };
    small.apply_orientation(orientation);
    let small = small.to_rgb8();
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY);
    small.write_with_encoder(encoder).ok()?;
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DecodePool {
        DecodePool::new(PhotoLimits {
            max_pixels: 1_000_000,
            decode_memory_bytes: 8 * 1024 * 1024,
        })
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 3) as u8, 90])
        });
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .unwrap();
        out
    }

    fn segment(marker: u8, contents: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((contents.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(contents);
        s
    }

    #[test]
    fn jpeg_metadata_and_trailers_go_pixels_stay() {
        let plain = jpeg(40, 20);
        let mut tagged = plain[..2].to_vec();
        tagged.extend(segment(
            0xE1,
            &orientation_only_exif(Orientation::Rotate180),
        ));
        tagged.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"));
        tagged.extend(segment(0xED, b"Photoshop 3.0\0secret"));
        tagged.extend(segment(0xFE, b"a comment"));
        tagged.extend_from_slice(&plain[2..]);
        tagged.extend_from_slice(b"appended video with GPS");

        let clean = clean(&pool(), Kind::Jpeg, &tagged).unwrap();
        let bytes = clean.bytes.as_ref();
        for needle in [&b"xmpmeta"[..], b"secret", b"a comment", b"appended"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
        assert!(bytes.ends_with(&[0xFF, 0xD9]));
        let original = image::load_from_memory(&plain).unwrap().to_rgb8();
        let stripped = image::load_from_memory(bytes).unwrap().to_rgb8();
        assert_eq!(original, stripped);
        // The orientation survives, so the thumbnail and viewers turn it the same way.
        let (_, orientation) = strip_jpeg(bytes).unwrap();
        assert_eq!(orientation, Orientation::Rotate180);
        assert_eq!((clean.width, clean.height), (40, 20));
    }

    #[test]
    fn png_text_chunks_go() {
        let image = image::RgbImage::from_fn(8, 8, |x, _| image::Rgb([x as u8, 0, 0]));
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // A tEXt chunk right after IHDR (8 + 25 bytes); the CRC is not checked here.
        let mut text = 13u32.to_be_bytes().to_vec();
        text.extend_from_slice(b"tEXtLocation\0home");
        text.extend_from_slice(&[0, 0, 0, 0]);
        let mut tagged = png[..33].to_vec();
        tagged.extend(text);
        tagged.extend_from_slice(&png[33..]);
        let stripped = strip_png(&tagged).unwrap();
        assert_eq!(stripped, png);
    }

    #[test]
    fn hostile_bytes_are_refused_not_panicked_on() {
        for bytes in [
            &b"\xFF\xD8"[..],
            b"\xFF\xD8\xFF\xE1\x00",
            b"\xFF\xD8\xFF\xE1\x00\x01",
            b"\xFF\xD8\xFF\xDA\x00\x02\xFF",
            b"\xFF\xD8\xFF\xE1\xFF\xFFExif\0\0",
        ] {
            assert!(clean(&pool(), Kind::Jpeg, bytes).is_err());
        }
        assert!(clean(&pool(), Kind::Png, b"\x89PNG\r\n\x1a\n\xFF\xFF\xFF\xFFIHDR").is_err());
        assert!(clean(&pool(), Kind::Webp, b"RIFF\xFF\xFF\xFF\xFFWEBPVP8 ").is_err());
    }
}
