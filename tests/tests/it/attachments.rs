//! Attachments (issue 6): members download, others are refused and audited; every bad
//! upload gets its own clear error and leaves nothing behind; photos lose their location
//! data but keep their orientation; images get thumbnails. Runs on SQLite and
//! PostgreSQL.

use renraku_tests::helpers::{error_code, get, tiny_pdf, upload, NAME_HEADER};
use renraku_tests::{team, Team, TestServer};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// A small JPEG that decodes: a gradient, `width` × `height`.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])
    });
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([x as u8, y as u8, 200, 255])
    });
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// An EXIF block (TIFF, little-endian) as a phone writes it: camera make, orientation
/// "rotate 90° clockwise to view" (6), and the GPS position of the place (a patient's home).
fn exif_with_gps() -> Vec<u8> {
    let mut t = Vec::new();
    let u16le = |t: &mut Vec<u8>, v: u16| t.extend_from_slice(&v.to_le_bytes());
    let u32le = |t: &mut Vec<u8>, v: u32| t.extend_from_slice(&v.to_le_bytes());
    t.extend_from_slice(b"II*\0");
    u32le(&mut t, 8);
    // IFD0 at 8: 3 entries → 2 + 3*12 + 4 = 42 bytes; data follows at 50.
    let make = b"RenrakuCam\0"; // 11 bytes at 50
    let gps_ifd = 62u32; // after make (50 + 11 = 61, padded to 62)
    u16le(&mut t, 3);
    // Make (0x010F), ASCII, 11, offset 50
    u16le(&mut t, 0x010F);
    u16le(&mut t, 2);
    u32le(&mut t, make.len() as u32);
    u32le(&mut t, 50);
    // Orientation (0x0112), SHORT, 1, value 6
    u16le(&mut t, 0x0112);
    u16le(&mut t, 3);
    u32le(&mut t, 1);
    u16le(&mut t, 6);
    u16le(&mut t, 0);
    // GPSInfo IFD pointer (0x8825), LONG, 1, offset
    u16le(&mut t, 0x8825);
    u16le(&mut t, 4);
    u32le(&mut t, 1);
    u32le(&mut t, gps_ifd);
    u32le(&mut t, 0); // no IFD1
    assert_eq!(t.len(), 50);
    t.extend_from_slice(make);
    t.push(0); // pad to 62
    assert_eq!(t.len() as u32, gps_ifd);
    // GPS IFD: 4 entries → 2 + 48 + 4 = 54 bytes; rationals at 62 + 54 = 116.
    let lat_at = gps_ifd + 54;
    let lon_at = lat_at + 24;
    u16le(&mut t, 4);
    // GPSLatitudeRef 'N'
    u16le(&mut t, 0x0001);
    u16le(&mut t, 2);
    u32le(&mut t, 2);
    t.extend_from_slice(b"N\0\0\0");
    // GPSLatitude 35/1 41/1 2280/100
    u16le(&mut t, 0x0002);
    u16le(&mut t, 5);
    u32le(&mut t, 3);
    u32le(&mut t, lat_at);
    // GPSLongitudeRef 'E'
    u16le(&mut t, 0x0003);
    u16le(&mut t, 2);
    u32le(&mut t, 2);
    t.extend_from_slice(b"E\0\0\0");
    // GPSLongitude 139/1 41/1 3060/100
    u16le(&mut t, 0x0004);
    u16le(&mut t, 5);
    u32le(&mut t, 3);
    u32le(&mut t, lon_at);
    u32le(&mut t, 0);
    assert_eq!(t.len() as u32, lat_at);
    for (n, d) in [
        (35, 1),
        (41, 1),
        (2280, 100),
        (139, 1),
        (41, 1),
        (3060, 100),
    ] {
        u32le(&mut t, n);
        u32le(&mut t, d);
    }
    t
}

/// `jpeg` with an APP1 EXIF segment inserted right after SOI, as cameras write it.
fn with_app1_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xFF\xD8");
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Every EXIF field a reader finds in an image file (an independent parser).
fn exif_fields(bytes: &[u8]) -> Vec<(exif::Tag, String)> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif
            .fields()
            .map(|f| (f.tag, f.display_value().to_string()))
            .collect(),
        Err(_) => vec![],
    }
}

/// Regular files under `dir` (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn attachment_rows(server: &TestServer) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM attachments")
        .fetch_one(server.db().pool())
        .await
        .unwrap()
        .get("n")
}

/// Nothing of a refused upload is anywhere: no row, no blob, no temporary file.
async fn assert_nothing_stored(server: &TestServer, team: &Team, id: &str, case: &str) {
    let data = server.storage().dir.path();
    assert_eq!(
        attachment_rows(server).await,
        0,
        "{case}: a row was written"
    );
    assert_eq!(
        files_under(&data.join("attachments")),
        Vec::<PathBuf>::new(),
        "{case}: a blob was stored"
    );
    assert_eq!(
        files_under(&data.join("attachments-tmp")),
        Vec::<PathBuf>::new(),
        "{case}: a temporary file was left"
    );
    let response = get(server, &team.a.token, &format!("/api/attachments/{id}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "{case}");
}

/// Uploads `body` as `name` into the team's room and checks the refusal a user would see:
/// the HTTP status, the error code, and that nothing was stored (`case` names the attempt).
async fn assert_refused(
    server: &TestServer,
    team: &Team,
    name: &str,
    body: Vec<u8>,
    status: StatusCode,
    code: &str,
    case: &str,
) {
    let id = new_id();
    let response = upload(server, &team.a.token, team.room, &id, name, body).await;
    assert_eq!(response.status(), status, "{case}");
    assert_eq!(error_code(response).await, code, "{case}");
    assert_nothing_stored(server, team, &id, case).await;
}

test_both_dbs!(a_member_downloads_and_an_outsider_gets_403_which_is_audited);
async fn a_member_downloads_and_an_outsider_gets_403_which_is_audited() {
    let server = TestServer::start().await;
    let team = team(&server).await;
    let id = new_id();
    let name = "紹介状 2024.pdf";
    let response = upload(&server, &team.a.token, team.room, &id, name, tiny_pdf()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let meta: Value = response.json().await.unwrap();
    assert_eq!(meta["id"], id.as_str());
    assert_eq!(meta["name"], name);
    assert_eq!(meta["mime"], "application/pdf");
    assert_eq!(meta["size"], tiny_pdf().len());
    assert_eq!(meta["has_thumbnail"], false);

    // The other member sees it listed and downloads the very bytes, as a file download
    // under its original name.
    let list: Value = get(
        &server,
        &team.b.token,
        &format!("/api/rooms/{}/attachments", team.room),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    let response = get(&server, &team.b.token, &format!("/api/attachments/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6%202024.pdf"),
        "{disposition}"
    );
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        tiny_pdf().as_slice()
    );
    assert_eq!(server.audit_count("attachment.download").await, 1);

    // Someone outside the room: refused, and the attempt is on record. No thumbnail or
    // listing either.
    let denied_before = server.audit_count("attachment.denied").await;
    let response = get(
        &server,
        &team.outsider.token,
        &format!("/api/attachments/{id}"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "forbidden");
    assert_eq!(
        server.audit_count("attachment.denied").await,
        denied_before + 1
    );
    let rows = server
        .db()
        .audit_rows(&renraku_server::db::audit::AuditFilter {
            action: Some("attachment.denied".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows[0].user_id, Some(team.outsider.id.get()));
    assert_eq!(rows[0].target, format!("room/{}", team.room));
    assert!(rows[0].detail.contains(&id), "{}", rows[0].detail);
    let response = get(
        &server,
        &team.outsider.token,
        &format!("/api/attachments/{id}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = get(
        &server,
        &team.outsider.token,
        &format!("/api/rooms/{}/attachments", team.room),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Nor can an outsider upload into the room.
    let response = upload(
        &server,
        &team.outsider.token,
        team.room,
        &new_id(),
        "x.pdf",
        tiny_pdf(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.audit_count("attachment.download").await, 1);
}

test_both_dbs!(a_retried_upload_is_the_same_attachment_and_a_taken_id_is_refused);
async fn a_retried_upload_is_the_same_attachment_and_a_taken_id_is_refused() {
    let server = TestServer::start().await;
    let team = team(&server).await;
    let id = new_id();
    let first = upload(
        &server,
        &team.a.token,
        team.room,
        &id,
        "memo.txt",
        b"hello\n".to_vec(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = upload(
        &server,
        &team.a.token,
        team.room,
        &id,
        "memo.txt",
        b"hello\n".to_vec(),
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = upload(
        &server,
        &team.b.token,
        team.room,
        &id,
        "other.txt",
        b"other\n".to_vec(),
    )
    .await;
    assert_eq!(other.status(), StatusCode::CONFLICT);
    assert_eq!(attachment_rows(&server).await, 1);
    // Text is served as text, still as a download and never sniffed into HTML.
    let response = get(&server, &team.b.token, &format!("/api/attachments/{id}")).await;
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"hello\n");
}

test_both_dbs!(each_bad_upload_gets_its_own_error_and_leaves_nothing);
async fn each_bad_upload_gets_its_own_error_and_leaves_nothing() {
    let server = TestServer::start_with(|config| config.attachment_max_bytes = 10_000).await;
    let team = team(&server).await;

    // Over the limit, announced by Content-Length: refused before the body is read.
    assert_refused(
        &server,
        &team,
        "big.txt",
        vec![b'a'; 10_001],
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "oversized",
    )
    .await;

    // Over the limit without a Content-Length (chunked): refused while streaming.
    let id = new_id();
    let mut chunked = Vec::new();
    for _ in 0..20 {
        chunked.extend_from_slice(b"3e8\r\n");
        chunked.extend_from_slice(&[b'b'; 1000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_upload(
        &server,
        &team,
        &id,
        "Transfer-Encoding: chunked",
        &chunked,
        false,
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("too_large"),
        "{answer}"
    );
    assert_nothing_stored(&server, &team, &id, "oversized, streamed").await;

    // A program renamed .jpg (an ELF header, then code).
    let mut elf = b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3E\0".to_vec();
    elf.extend_from_slice(&[0x90; 200]);
    assert_refused(
        &server,
        &team,
        "wound.jpg",
        elf,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
        "executable renamed .jpg",
    )
    .await;

    // A Windows program renamed .jpg.
    let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xFF\xFF\0\0".to_vec();
    exe.extend_from_slice(&[0; 100]);
    assert_refused(
        &server,
        &team,
        "photo.jpg",
        exe,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
        "exe renamed .jpg",
    )
    .await;

    // An HTML page renamed .png: not an image, and not text we would serve either.
    let html = b"<!DOCTYPE html><html><body><script>fetch('/api/me')</script></body></html>";
    assert_refused(
        &server,
        &team,
        "scan.png",
        html.to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
        "HTML renamed .png",
    )
    .await;

    // Harmless text under an image's name: the name lies about the content.
    assert_refused(
        &server,
        &team,
        "scan.png",
        b"just text\n".to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "type_mismatch",
        "text renamed .png",
    )
    .await;

    // Path traversal in the name.
    for name in [
        "../../../etc/passwd.txt",
        "..\\..\\boot.ini.txt",
        "/tmp/x.pdf",
    ] {
        assert_refused(
            &server,
            &team,
            name,
            tiny_pdf(),
            StatusCode::BAD_REQUEST,
            "bad_file_name",
            name,
        )
        .await;
    }

    // A right-to-left override (U+202E): "report<RLO>fdp.exe.pdf" would show reversed.
    assert_refused(
        &server,
        &team,
        "report\u{202E}fdp.exe.pdf",
        tiny_pdf(),
        StatusCode::BAD_REQUEST,
        "bad_file_name",
        "right-to-left override",
    )
    .await;

    // No name at all.
    let id = new_id();
    let response = server
        .client(&team.a.token)
        .put(server.url(&format!("/api/rooms/{}/attachments/{id}", team.room)))
        .body(tiny_pdf())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "bad_file_name");

    // Empty.
    assert_refused(
        &server,
        &team,
        "empty.txt",
        vec![],
        StatusCode::BAD_REQUEST,
        "empty_file",
        "empty",
    )
    .await;

    // Cut off: Content-Length promises 5,000 bytes, the client sends 1,000 and stops.
    let id = new_id();
    let answer = raw_upload(
        &server,
        &team,
        &id,
        "Content-Length: 5000",
        &[b'c'; 1_000],
        true,
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("incomplete_upload"),
        "{answer}"
    );
    assert_nothing_stored(&server, &team, &id, "truncated").await;

    // A photo whose pixels are cut off after the headers: damaged, refused.
    let mut broken = jpeg(64, 64);
    broken.truncate(broken.len() / 3);
    let id = new_id();
    let response = upload(&server, &team.a.token, team.room, &id, "cut.jpg", broken).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_nothing_stored(&server, &team, &id, "damaged JPEG").await;
}

/// Sends a request head with `framing` (a Content-Length or chunked) and `body` over a raw
/// socket, optionally closes the sending side (a client that gives up), and returns
/// whatever the server answered.
async fn raw_upload(
    server: &TestServer,
    team: &Team,
    id: &str,
    framing: &str,
    body: &[u8],
    close_early: bool,
) -> String {
    let addr = server.base_url().trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/rooms/{}/attachments/{id} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\n{NAME_HEADER}: note.txt\r\n\
         {framing}\r\nConnection: close\r\n\r\n",
        team.room, team.a.token
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and stop reading) before everything is written.
    let _ = socket.write_all(body).await;
    if close_early {
        let _ = socket.shutdown().await;
    }
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

test_both_dbs!(a_jpeg_with_gps_exif_is_stored_without_it_and_keeps_its_orientation);
async fn a_jpeg_with_gps_exif_is_stored_without_it_and_keeps_its_orientation() {
    let server = TestServer::start().await;
    let team = team(&server).await;
    let original = with_app1_exif(&jpeg(64, 32), &exif_with_gps());
    // The fixture is what a phone writes: an independent reader finds the location.
    let before = exif_fields(&original);
    assert!(
        before.iter().any(|(tag, _)| *tag == exif::Tag::GPSLatitude),
        "{before:?}"
    );
    assert!(before.iter().any(|(tag, _)| *tag == exif::Tag::Make));

    let id = new_id();
    let response = upload(
        &server,
        &team.a.token,
        team.room,
        &id,
        "褥瘡.jpg",
        original.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let meta: Value = response.json().await.unwrap();
    assert_eq!(meta["mime"], "image/jpeg");
    assert_eq!(meta["has_thumbnail"], true);
    // Shown rotated: 32 wide, 64 high.
    assert_eq!(
        (meta["width"].as_i64(), meta["height"].as_i64()),
        (Some(32), Some(64))
    );

    let response = get(&server, &team.b.token, &format!("/api/attachments/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline;"));
    let stored = response.bytes().await.unwrap().to_vec();
    let after = exif_fields(&stored);
    // Only the orientation survives: no position, no camera.
    assert_eq!(
        after.iter().map(|(tag, _)| *tag).collect::<Vec<_>>(),
        vec![exif::Tag::Orientation],
        "{after:?}"
    );
    assert!(!stored.windows(10).any(|w| w == b"RenrakuCam"));
    // The same file on disk, under its hash.
    let sha = meta["sha256"].as_str().unwrap();
    let on_disk = std::fs::read(
        server
            .storage()
            .dir
            .path()
            .join("attachments/blobs")
            .join(&sha[..2])
            .join(sha),
    )
    .unwrap();
    assert_eq!(on_disk, stored);
    // Still the same picture: decodes at its stored size, pixels untouched (the scan data
    // is kept byte for byte).
    let decoded = image::load_from_memory(&stored).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 32));
    let original_pixels = image::load_from_memory(&original).unwrap().to_rgb8();
    assert_eq!(decoded.to_rgb8(), original_pixels);

    // The thumbnail is already upright.
    let response = get(
        &server,
        &team.b.token,
        &format!("/api/attachments/{id}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (32, 64));
    assert_eq!(server.audit_count("attachment.thumbnail").await, 1);
}

test_both_dbs!(images_get_thumbnails_and_documents_do_not);
async fn images_get_thumbnails_and_documents_do_not() {
    let server = TestServer::start().await;
    let team = team(&server).await;
    let id = new_id();
    let response = upload(
        &server,
        &team.a.token,
        team.room,
        &id,
        "shelf.png",
        png(1000, 500),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = get(
        &server,
        &team.b.token,
        &format!("/api/attachments/{id}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let thumb = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 160));

    let doc = new_id();
    let response = upload(
        &server,
        &team.a.token,
        team.room,
        &doc,
        "letter.pdf",
        tiny_pdf(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = get(
        &server,
        &team.b.token,
        &format!("/api/attachments/{doc}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

test_both_dbs!(an_object_store_holds_the_blobs_when_configured);
async fn an_object_store_holds_the_blobs_when_configured() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let server = TestServer::start_with(|config| config.attachment_store = Some(url)).await;
    let team = team(&server).await;
    let id = new_id();
    let photo = jpeg(40, 40);
    let response = upload(&server, &team.a.token, team.room, &id, "a.jpg", photo).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let meta: Value = response.json().await.unwrap();
    let sha = meta["sha256"].as_str().unwrap();
    // In the store, not in the data directory.
    let stored = files_under(bucket.path());
    assert!(stored.iter().any(|p| p.ends_with(sha)), "{stored:?}");
    assert!(files_under(&server.storage().dir.path().join("attachments")).is_empty());
    let response = get(&server, &team.b.token, &format!("/api/attachments/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len() as i64, meta["size"].as_i64().unwrap());
    let response = get(
        &server,
        &team.b.token,
        &format!("/api/attachments/{id}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// CRC-32 (ISO-HDLC, as PNG chunks use), bit by bit: a few chunks only.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut covered = kind.to_vec();
    covered.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&covered).to_be_bytes());
    chunk
}

/// A small PNG file whose header claims `width` × `height` RGB pixels: what a
/// decompression bomb looks like before its (highly compressible) pixels are decoded.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    // The start of a zlib stream of zero rows; a decoder would allocate for every pixel
    // before finding out that the data ends.
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0xED, 0xC1, 0x01, 0x0D, 0x00, 0x00],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

test_both_dbs!(an_image_over_the_pixel_limit_is_refused_from_its_header_saying_why);
async fn an_image_over_the_pixel_limit_is_refused_from_its_header_saying_why() {
    let server = TestServer::start().await;
    let team = team(&server).await;
    let id = new_id();
    let bomb = png_claiming(16_384, 10_000);
    assert!(bomb.len() < 100, "a small file claiming 164 million pixels");
    let response = upload(&server, &team.a.token, team.room, &id, "bomb.png", bomb).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "image_too_large");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("16384×10000") && message.contains("画素"),
        "the person is told the image's size and that it has too many pixels: {message}"
    );
    assert_nothing_stored(&server, &team, &id, "pixel bomb").await;
}

test_both_dbs!(the_pixel_limit_is_configurable_and_photos_within_it_are_kept);
async fn the_pixel_limit_is_configurable_and_photos_within_it_are_kept() {
    let server = TestServer::start_with(|c| c.image_max_pixels = 400_000).await;
    let team = team(&server).await;
    // 500,000 pixels: a real, decodable photo, over this server's limit.
    assert_refused(
        &server,
        &team,
        "wide.png",
        png(1000, 500),
        StatusCode::PAYLOAD_TOO_LARGE,
        "image_too_large",
        "over a configured limit",
    )
    .await;
    // 200,000 pixels: within it, stored with its thumbnail.
    let id = new_id();
    let response = upload(
        &server,
        &team.a.token,
        team.room,
        &id,
        "ok.png",
        png(500, 400),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = get(
        &server,
        &team.b.token,
        &format!("/api/attachments/{id}/thumbnail"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}
