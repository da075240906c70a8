//! The HTTP API (`/api/…`), health check, OpenAPI document, and the layers every response
//! passes through.

mod health;
mod municipalities;
mod openapi;
mod rooms;
mod session;

use crate::error::Error;
use crate::{assets, AppState};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use openapi::ApiDoc;

const CSP: &str = "default-src 'self'; object-src 'none'; frame-ancestors 'none'; \
     connect-src 'self' ws: wss:; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'";

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/{municipality}/signin", post(session::signin))
        .route("/api/signout", post(session::signout))
        .route("/api/me", get(session::me))
        .route(
            "/api/municipalities/{slug}",
            get(municipalities::get_municipality),
        )
        .route("/api/rooms", get(rooms::list_rooms))
        .route("/api/rooms/{id}", get(rooms::get_room))
        .route("/api/rooms/{id}/token", post(rooms::room_token));

    let app = Router::new()
        .route("/", get(assets::serve))
        .route("/{municipality}/", get(assets::serve))
        .merge(api)
        .merge(crate::rooms::router())
        .fallback(assets::serve)
        .with_state(state);

    let header = |name: HeaderName, value: &'static str| {
        // `if_not_present`: a handler that knows better (a download, say) may set its own.
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(
            // The path only: room tokens travel in query strings and must not reach logs.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
}

/// `Json` whose rejections are our JSON errors rather than axum's plain-text ones.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(Error::BadRequest(rejection.body_text())),
        }
    }
}
