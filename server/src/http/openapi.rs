//! The OpenAPI document. Paths are not listed here: every API route is registered through
//! `utoipa_axum`'s router (see `super::router`), which adds its handler's annotation to the
//! document, so a route cannot exist undocumented (the security tests enumerate the document
//! to check that every route but the public ones refuses anonymous requests).

use axum::extract::State;
use axum::Json;
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Renraku API", description = "Renraku 連絡帳 — HTTP API. Conversations sync over WebSocket (`/ws`, `/yjs/{room}`), not here. Browsers authenticate with the `__Host-renraku` cookie and must send `Origin` (or `X-Renraku-Csrf: 1`) on POST/PUT/PATCH/DELETE; other clients use `Authorization: Bearer`."),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SessionAuth),
)]
pub struct ApiDoc;

struct SessionAuth;

impl Modify for SessionAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The whole document: [`ApiDoc`] plus every route's annotation.
pub fn document() -> utoipa::openapi::OpenApi {
    super::api_routes().into_openapi()
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops",
    responses((status = 200, description = "This document")))]
pub async fn openapi_json(
    State(doc): State<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}
