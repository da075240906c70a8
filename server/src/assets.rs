//! The built web app (`app/dist/`, made by `cargo xtask build-app`), embedded in the binary
//! so that one binary is a whole deployment.
//!
//! Release builds embed the files at compile time; debug builds read them from `app/dist/`
//! at run time. Routes: an existing file is served as is; `/` and `/{municipality}/…` get
//! `index.html` (the app routes itself); `/api/…` and missing files with an extension are
//! 404. Without a built app, pages explain how to build it.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

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

/// The router's fallback: everything that is not an API or WebSocket route.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        // An unknown API route: the API's own JSON error, not a page.
        return crate::error::Error::NotFound.into_response();
    }
    // No way out of the folder, whatever the build mode.
    if path.split('/').any(|s| s == ".." || s == ".") || path.contains('\\') {
        return not_found();
    }
    if !path.is_empty() && !path.ends_with('/') {
        if let Some(file) = Dist::get(path) {
            return file_response(path, file.data.into_owned());
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
    match Dist::get("index.html") {
        Some(index) => file_response("index.html", index.data.into_owned()),
        None => not_built(),
    }
}

fn file_response(path: &str, body: Vec<u8>) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let content_type = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == "javascript" || mime.suffix() == Some(mime_guess::mime::JSON) => {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    // File names carry no content hash, so every response is revalidated; the service
    // worker's versioned cache is what makes repeat loads fast and offline-capable.
    let cache = if path.ends_with(".wasm") || path.ends_with(".js") && path != "sw.js" {
        "max-age=0, must-revalidate"
    } else {
        "no-cache"
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
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

    async fn get(path: &str) -> Response {
        serve(path.parse().unwrap()).await
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
}
