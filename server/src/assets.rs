//! The built web app (`app/dist/`, made by `cargo xtask build-app`), embedded in the binary
//! so that one binary is a whole deployment.
//!
//! Release builds embed the files at compile time; debug builds read them from `app/dist/`
//! at run time; `--app-dir` serves another directory instead. Routes: an existing file is
//! served as is; `/` and `/{municipality}/…` get `index.html` (the app routes itself),
//! except `/{municipality}/admin…`, which gets `admin.html`: the administration screens are a
//! bundle of their own, so that only administrators download them;
//! `/{municipality}/manifest.webmanifest` is that municipality's web app manifest; `/api/…`
//! and missing files with an extension are 404. Without a built app, pages explain how to
//! build it.
//!
//! Text, JavaScript and wasm go out compressed (brotli, else gzip), compressed once per file
//! content and kept in memory; every file carries an ETag so revalidation is a 304.

use crate::AppState;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(RustEmbed)]
#[folder = "../app/dist"]
#[allow_missing = true]
struct Dist;

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Renraku 連絡</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7">
<h1>アプリがビルドされていません</h1>
<p>このサーバーには Web アプリが組み込まれていません。リポジトリのルートで次を実行してから、サーバーをビルドし直してください。</p>
<pre style="background: #f2f2f2; padding: .75rem">cargo xtask build-app</pre>
<p><code>cargo xtask run</code> なら、アプリのビルドとサーバーの起動をまとめて行います。</p>
<p>The web app is not built: run <code>cargo xtask build-app</code>, then rebuild the server.</p>
</body></html>
"#;

/// Where the app's files come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Built into the binary (release) or read from `app/dist/` (debug builds).
    Embedded,
    /// A directory given at run time (`--app-dir`).
    Dir(PathBuf),
}

impl Source {
    pub fn of(state: &AppState) -> Source {
        match &state.config.app_dir {
            Some(dir) => Source::Dir(dir.clone()),
            None => Source::Embedded,
        }
    }

    fn get(&self, path: &str) -> Option<Asset> {
        match self {
            Source::Embedded => Dist::get(path).map(|f| Asset {
                hash: f.metadata.sha256_hash(),
                bytes: f.data.into_owned().into(),
            }),
            Source::Dir(dir) => {
                let bytes = std::fs::read(dir.join(path)).ok()?;
                Some(Asset {
                    hash: Sha256::digest(&bytes).into(),
                    bytes: bytes.into(),
                })
            }
        }
    }
}

struct Asset {
    hash: [u8; 32],
    bytes: Arc<[u8]>,
}

/// The router's fallback: everything that is not an API or WebSocket route.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(&Source::of(&state), uri.path(), &headers).await
}

async fn respond(source: &Source, path: &str, request: &HeaderMap) -> Response {
    let path = path.trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        // An unknown API route: the API's own JSON error, not a page.
        return crate::error::Error::NotFound.into_response();
    }
    // No way out of the folder, whatever the source.
    if path.split('/').any(|s| s == ".." || s == ".") || path.contains('\\') {
        return not_found();
    }
    if !path.is_empty() && !path.ends_with('/') {
        if let Some(file) = source.get(path) {
            return file_response(path, file, request, true).await;
        }
        // A missing file (`/favicon.ico`, `/demo/x.png`) is not a page of the app.
        if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
        {
            return not_found();
        }
    }
    let page = if is_admin_page(path) {
        "admin.html"
    } else {
        "index.html"
    };
    match source.get(page) {
        Some(index) => match municipality_page(&index, path) {
            // Per municipality, so not compressed: a cache of compressed copies would grow
            // with every made-up municipality in a URL (and the page is 1 KB).
            Some(html) => file_response(page, html, request, false).await,
            None => file_response(page, index, request, true).await,
        },
        None => not_built(),
    }
}

/// The page of the app at `/{municipality}/…`, linking that municipality's manifest (start
/// URL `/{municipality}/`), so installing from /demo/… installs デモ市's app. In the HTML
/// itself rather than set by a script: Chromium may read the manifest before any script has
/// run. The service worker does the same to the page it keeps (sw.js).
fn municipality_page(index: &Asset, path: &str) -> Option<Asset> {
    const LINK: &str = r#"href="/manifest.webmanifest""#;
    let slug = path.split('/').next().filter(|s| is_slug(s))?;
    let html = std::str::from_utf8(&index.bytes).ok()?;
    if !html.contains(LINK) {
        return None;
    }
    let bytes: Arc<[u8]> = html
        .replacen(LINK, &format!(r#"href="/{slug}/manifest.webmanifest""#), 1)
        .into_bytes()
        .into();
    Some(Asset {
        hash: Sha256::digest(&bytes).into(),
        bytes,
    })
}

/// `/{municipality}/admin` and below, and the 駐車場's office screens (`parking/city…`,
/// `parking/lender`): the admin bundle's page (app/src/lib.rs, `Route::bundle`).
fn is_admin_page(path: &str) -> bool {
    let mut segments = path.split('/');
    if !segments.next().is_some_and(is_slug) {
        return false;
    }
    match segments.next() {
        Some("admin") => true,
        Some("parking") => matches!(segments.next(), Some("city" | "lender")),
        _ => false,
    }
}

/// The shape of a municipality's slug in a URL (`demo`, `kita-ku`).
fn is_slug(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `/{municipality}/manifest.webmanifest`: the app's manifest, made this municipality's own
/// app (its name, start URL and scope), so installing from `/demo/` opens `/demo/`.
pub async fn manifest(State(state): State<AppState>, UrlPath(slug): UrlPath<String>) -> Response {
    let municipality = match state.db.municipality_by_slug(&slug).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return e.into_response(),
    };
    let Some(base) = Source::of(&state).get("manifest.webmanifest") else {
        return not_built();
    };
    match municipality_manifest(&base.bytes, &municipality.slug, &municipality.name) {
        Some(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/manifest+json; charset=utf-8",
                ),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => {
            crate::error::Error::internal("the built manifest is not a JSON object").into_response()
        }
    }
}

fn municipality_manifest(base: &[u8], slug: &str, name: &str) -> Option<String> {
    let mut manifest: serde_json::Value = serde_json::from_slice(base).ok()?;
    let fields = manifest.as_object_mut()?;
    let home = format!("/{slug}/");
    let app_name = fields
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("Renraku 連絡")
        .to_owned();
    fields.insert("name".into(), format!("{app_name} {name}").into());
    // The id keeps two municipalities' installs apart on one phone.
    fields.insert("id".into(), home.clone().into());
    fields.insert("start_url".into(), home.clone().into());
    fields.insert("scope".into(), home.into());
    serde_json::to_string_pretty(&manifest).ok()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    fn suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gz",
            Encoding::Brotli => "-br",
        }
    }
}

/// Whether the client accepts `coding` (`Accept-Encoding: gzip, deflate, br;q=0.5`).
fn accepts(request: &HeaderMap, coding: &str) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case(coding))
                && parts.all(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_none_or(|q| q > 0.0)
                })
        })
}

fn compressible(path: &str) -> bool {
    [
        ".html",
        ".js",
        ".mjs",
        ".wasm",
        ".css",
        ".json",
        ".webmanifest",
        ".svg",
        ".txt",
    ]
    .iter()
    .any(|ext| path.ends_with(ext))
}

/// One file's compressed forms. Gzip is made on the first request (fast); brotli, which
/// at its best quality takes seconds for the wasm, is made in the background meanwhile and
/// used from then on.
struct Compressed {
    gzip: Arc<[u8]>,
    brotli: OnceLock<Arc<[u8]>>,
}

fn compressed_cache() -> &'static Mutex<HashMap<[u8; 32], Arc<Compressed>>> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<Compressed>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

async fn compressed(asset: &Asset) -> Option<Arc<Compressed>> {
    if let Some(hit) = compressed_cache().lock().ok()?.get(&asset.hash) {
        return Some(hit.clone());
    }
    let bytes = asset.bytes.clone();
    let gzip = tokio::task::spawn_blocking(move || gzip(&bytes))
        .await
        .ok()??;
    let entry = Arc::new(Compressed {
        gzip: gzip.into(),
        brotli: OnceLock::new(),
    });
    {
        let mut cache = compressed_cache().lock().ok()?;
        if let Some(raced) = cache.get(&asset.hash) {
            return Some(raced.clone());
        }
        cache.insert(asset.hash, entry.clone());
    }
    let (background, bytes) = (entry.clone(), asset.bytes.clone());
    tokio::task::spawn_blocking(move || {
        if let Some(br) = brotli(&bytes) {
            let _ = background.brotli.set(br.into());
        }
    });
    Some(entry)
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn brotli(bytes: &[u8]) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
    Some(out)
}

/// `file` as the answer to a GET of `path`; `may_compress`: whether a compressed copy may be
/// made and kept (see `compressed`).
async fn file_response(
    path: &str,
    file: Asset,
    request: &HeaderMap,
    may_compress: bool,
) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let content_type = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == "javascript" || mime.suffix() == Some(mime_guess::mime::JSON) => {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    // File names carry no content hash, so every response is revalidated (a 304 thanks to
    // the ETag); the service worker's versioned cache is what makes repeat loads fast and
    // offline-capable.
    let cache = if path.ends_with(".wasm") || path.ends_with(".js") && path != "sw.js" {
        "max-age=0, must-revalidate"
    } else {
        "no-cache"
    };

    let mut encoding = Encoding::Identity;
    let mut body = file.bytes.clone();
    let compress = may_compress && compressible(path);
    if compress {
        let (br, gz) = (accepts(request, "br"), accepts(request, "gzip"));
        if br || gz {
            if let Some(c) = compressed(&file).await {
                match c.brotli.get() {
                    Some(b) if br => (encoding, body) = (Encoding::Brotli, b.clone()),
                    _ if gz => (encoding, body) = (Encoding::Gzip, c.gzip.clone()),
                    _ => {}
                }
            }
        }
    }
    let tag = hex::encode(&file.hash[..12]);
    let etag = format!("\"{tag}{}\"", encoding.suffix());
    // Any representation of the same bytes is still current.
    let unchanged = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(&tag));

    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Vec::from(&body[..]).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if compress {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    match encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Encoding::Brotli => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-cache")],
        "見つかりません (not found)",
    )
        .into_response()
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        NOT_BUILT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get_with(path: &str, headers: &[(header::HeaderName, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        respond(&Source::Embedded, path, &map).await
    }

    async fn get(path: &str) -> Response {
        get_with(path, &[]).await
    }

    #[tokio::test]
    async fn api_paths_and_missing_files_are_404() {
        let api = get("/api/nope").await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert!(api.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(get("/api").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/favicon.ico").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/demo/x.png").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn app_routes_get_the_shell_or_the_not_built_page() {
        let built = Dist::get("index.html").is_some();
        for path in ["/", "/demo/", "/demo", "/demo/rooms/12"] {
            let r = get(path).await;
            let ct = r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            let expected = if built {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            assert_eq!(r.status(), expected, "{path}");
        }
    }

    #[tokio::test]
    async fn built_files_have_their_types() {
        if Dist::get("index.html").is_none() {
            return; // the app is not built: covered by the test above
        }
        for (path, ct) in [
            ("/app_bg.wasm", "application/wasm"),
            ("/app.js", "text/javascript; charset=utf-8"),
            (
                "/manifest.webmanifest",
                "application/manifest+json; charset=utf-8",
            ),
            ("/icon-192.png", "image/png"),
        ] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], ct, "{path}");
        }
        let sw = get("/sw.js").await;
        assert_eq!(sw.headers()[header::CACHE_CONTROL], "no-cache");
    }

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    async fn body(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn admin_urls_get_the_admin_page_and_others_the_app() {
        let dir = dir_with(&[
            (
                "index.html",
                br#"<link rel="manifest" href="/manifest.webmanifest">app"#,
            ),
            (
                "admin.html",
                br#"<link rel="manifest" href="/manifest.webmanifest">admin"#,
            ),
        ]);
        let source = Source::Dir(dir.path().to_owned());
        for (path, page) in [
            ("/demo/admin", "admin"),
            ("/demo/admin/", "admin"),
            ("/demo/admin/rooms/12", "admin"),
            ("/demo/parking/city", "admin"),
            ("/demo/parking/city/hours", "admin"),
            ("/demo/parking/lender", "admin"),
            ("/demo/parking", "app"),
            ("/demo/parking/citywide", "app"),
            ("/demo/", "app"),
            ("/demo/home", "app"),
            ("/demo/administration", "app"),
            ("/demo/rooms/admin", "app"),
            ("/admin", "app"),
        ] {
            let r = respond(&source, path, &HeaderMap::new()).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let html = String::from_utf8(body(r).await).unwrap();
            assert!(html.ends_with(page), "{path}: {html}");
            if path.starts_with("/demo/") {
                assert!(
                    html.contains("/demo/manifest.webmanifest"),
                    "{path}: {html}"
                );
            }
        }
    }

    #[tokio::test]
    async fn text_and_wasm_are_compressed_and_revalidate_to_304() {
        let js = "export const greeting = 'こんにちは';\n".repeat(200);
        let dir = dir_with(&[
            ("index.html", b"<!doctype html>"),
            ("app.js", js.as_bytes()),
        ]);
        let source = Source::Dir(dir.path().to_owned());
        let ask = |enc: &'static str, inm: Option<String>| {
            let source = source.clone();
            async move {
                let mut h = HeaderMap::new();
                h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(enc));
                if let Some(tag) = inm {
                    h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
                }
                respond(&source, "/app.js", &h).await
            }
        };

        let plain = ask("identity", None).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(body(plain).await, js.as_bytes());

        let gz = ask("gzip, deflate", None).await;
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gz.headers()[header::VARY], "accept-encoding");
        let packed = body(gz).await;
        assert!(packed.len() < js.len() / 10, "{} bytes", packed.len());
        let mut unpacked = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, js);

        // Brotli is made in the background after the first compressed request.
        let mut br = ask("gzip, br", None).await;
        for _ in 0..200 {
            if br.headers().get(header::CONTENT_ENCODING).unwrap() == "br" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            br = ask("gzip, br", None).await;
        }
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        let mut unpacked = Vec::new();
        brotli::BrotliDecompress(&mut &body(br).await[..], &mut unpacked).unwrap();
        assert_eq!(unpacked, js.as_bytes());
        assert!(!accepts(&HeaderMap::new(), "br"));

        let revalidated = ask("gzip", Some(etag)).await;
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert!(body(revalidated).await.is_empty());
        let stale = ask("gzip", Some("\"0000\"".into())).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }

    #[test]
    fn quality_zero_refuses_a_coding() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0, gzip;q=0.5"),
        );
        assert!(!accepts(&h, "br"));
        assert!(accepts(&h, "gzip"));
    }

    #[test]
    fn a_municipality_manifest_starts_at_its_page() {
        let base =
            r#"{"name": "Renraku 連絡", "short_name": "連絡", "start_url": "./", "icons": []}"#;
        let made = municipality_manifest(base.as_bytes(), "demo", "デモ市").unwrap();
        let m: serde_json::Value = serde_json::from_str(&made).unwrap();
        assert_eq!(m["start_url"], "/demo/");
        assert_eq!(m["scope"], "/demo/");
        assert_eq!(m["id"], "/demo/");
        assert_eq!(m["name"], "Renraku 連絡 デモ市");
        assert_eq!(m["short_name"], "連絡");
        assert!(municipality_manifest(b"[1]", "demo", "x").is_none());
    }

    #[test]
    fn a_municipality_page_links_its_manifest() {
        let html = br#"<link rel="manifest" href="/manifest.webmanifest"><p>x</p>"#;
        let index = Asset {
            hash: Sha256::digest(html).into(),
            bytes: html.as_slice().into(),
        };
        let page = municipality_page(&index, "kita-ku/rooms/5").unwrap();
        assert_eq!(
            std::str::from_utf8(&page.bytes).unwrap(),
            r#"<link rel="manifest" href="/kita-ku/manifest.webmanifest"><p>x</p>"#
        );
        assert_ne!(page.hash, index.hash, "its own ETag");
        // The start page and anything that is not a municipality keep the plain page.
        for path in ["", "Demo/", "-x/", "a b/", &"a".repeat(64)] {
            assert!(municipality_page(&index, path).is_none(), "{path:?}");
        }
    }
}
