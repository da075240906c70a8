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

/// The whole document as `/api/openapi.json` serves it: [`ApiDoc`] plus every route's
/// annotation, with the answers every route shares.
pub fn document() -> utoipa::openapi::OpenApi {
    super::api_parts().2
}

/// Adds the error answers that come from the layers and extractors every route passes
/// through rather than from its handler, so no annotation can forget them (an operation's
/// own description of the same status is kept):
/// - 400 where the path, query or body can be malformed (`ApiPath`, `ApiQuery`, `ApiJson`);
/// - 401 and 403 where a session is needed (403: a cookie request without our `Origin`, a
///   pending second-factor enrolment or password change, a required client certificate);
///   403 also where the client-certificate policy can refuse a presented session;
/// - 404 where the path names something that may not exist;
/// - 413 for a JSON body over the limit;
/// - 503 where maintenance windows apply (the same rule as [`super::admin::maintenance`]).
pub fn add_shared_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let params = op.parameters.as_deref().unwrap_or_default();
            let in_path = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description).into());
            };
            if !params.is_empty() || json_body {
                add("400", "Malformed path, query or body (`bad_request`)");
            }
            if op.security.is_some() {
                add("401", "Not signed in (`unauthorized`)");
            }
            if path != "/api/openapi.json" {
                add(
                    "403",
                    "Not allowed: `forbidden`, `csrf_rejected`, `enrolment_required`, \
                     `password_change_required` or `client_certificate_required`",
                );
            }
            if in_path {
                add("404", "Nothing there (`not_found`)");
            }
            if json_body {
                add("413", "The body is too large (`too_large`)");
            }
            if !super::admin::maintenance::exempt(path) {
                add(
                    "503",
                    "Under maintenance (`maintenance`), with `Retry-After`",
                );
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops",
    responses((status = 200, description = "This document")))]
pub async fn openapi_json(
    State(doc): State<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in copy of [`document`], for clients and reviewers: a change to the API shows
    /// in the diff of this file.
    pub const CHECKED_IN: &str = "../contract/openapi.json";

    /// [`document`] as pretty JSON with a final newline: the form of the checked-in copy.
    pub fn document_json() -> String {
        let mut json = serde_json::to_string_pretty(&document()).expect("the document serializes");
        json.push('\n');
        json
    }

    /// `contract/openapi.json` is what the server serves. When the API changes, refresh it
    /// with `RENRAKU_UPDATE_OPENAPI=1 cargo test -p renraku-server --lib openapi` and commit
    /// the diff with the change.
    #[test]
    fn openapi_document_is_checked_in() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CHECKED_IN);
        let served = document_json();
        if std::env::var_os("RENRAKU_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &served).expect("writing contract/openapi.json");
            return;
        }
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        if file == served {
            return;
        }
        let (line, (ours, theirs)) = served
            .lines()
            .chain(std::iter::repeat(""))
            .zip(file.lines().chain(std::iter::repeat("")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .expect("the texts differ somewhere");
        panic!(
            "contract/openapi.json is not the document the server serves.\n\
             First difference at line {}:\n  served: {ours}\n  file:   {theirs}\n\
             If the API change is intended, refresh the file and commit it:\n  \
             RENRAKU_UPDATE_OPENAPI=1 cargo test -p renraku-server --lib openapi",
            line + 1
        );
    }
}
