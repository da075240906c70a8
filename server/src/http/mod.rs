//! The HTTP API (`/api/…`), health check, OpenAPI document, security.txt, and the layers
//! every response passes through.

mod acks;
pub mod admin;
pub(crate) mod attachments;
mod client_certs;
mod directory;
mod extract;
mod health;
mod me;
mod municipalities;
mod openapi;
mod parking;
mod passkeys;
mod push;
mod record;
mod register;
mod rooms;
mod search;
mod security_txt;
mod session;
mod templates;
mod tiles;

use crate::error::Error;
use crate::{assets, auth, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use openapi::{document as openapi_document, ApiDoc};

/// `connect-src 'self'` also covers the app's WebSocket to its own origin: CSP Level 3
/// matches `ws:`/`wss:` of the page's host and port under `'self'` (Chromium, Firefox and
/// Safari do), so an injected script cannot open a socket to anywhere else. `img-src blob:`
/// lets the composer show a picked photo from the phone itself (an object URL the page made;
/// a `blob:` URL can only name data the page already holds).
const CSP: &str = "default-src 'self'; object-src 'none'; frame-ancestors 'none'; \
     connect-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     img-src 'self' blob:; style-src 'self' 'unsafe-inline'";
/// Two years, subdomains included (the hstspreload.org minimum). Browsers ignore it over
/// plain HTTP, so development without TLS is unaffected.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Every documented route. Registering through `routes!` puts the handler's `#[utoipa::path]`
/// into the OpenAPI document, so the document is the complete list of routes.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(security_txt::security_txt))
        .routes(routes!(security_txt::security_policy))
        .routes(routes!(session::signin))
        .routes(routes!(session::signout))
        .routes(routes!(session::me))
        .routes(routes!(municipalities::get_municipality))
        .routes(routes!(me::totp_setup))
        .routes(routes!(me::totp_confirm))
        .routes(routes!(me::totp_remove))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(me::change_password))
        .routes(routes!(me::unlock))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::remove))
        .routes(routes!(passkeys::signin_start))
        .routes(routes!(passkeys::signin_finish))
        .routes(routes!(passkeys::unlock_start))
        .routes(routes!(passkeys::unlock_finish))
        .routes(routes!(rooms::list_rooms))
        .routes(routes!(rooms::get_room))
        .routes(routes!(rooms::room_token))
        .routes(routes!(rooms::get_home, rooms::set_home, rooms::clear_home))
        .routes(routes!(acks::inbox))
        .routes(routes!(search::search))
        .routes(routes!(record::export_record))
        .routes(routes!(
            templates::list_templates,
            templates::create_template
        ))
        .routes(routes!(
            templates::update_template,
            templates::delete_template
        ))
        .routes(routes!(register::overview))
        .routes(routes!(register::list_people, register::create_person))
        .routes(routes!(register::get_person, register::update_person))
        .routes(routes!(register::set_retired))
        .routes(routes!(register::set_legend))
        .routes(routes!(register::list_staff))
        .routes(routes!(register::set_staff))
        .routes(routes!(register::declare_disaster, register::end_disaster))
        .routes(routes!(register::grant_partner, register::revoke_partner))
        .routes(routes!(register::partners))
        .routes(routes!(register::mark_safety))
        .routes(routes!(register::summary))
        .routes(routes!(register::import_csv))
        .routes(routes!(register::export_csv))
        .routes(routes!(register::registers))
        .routes(routes!(tiles::tile_set))
        .routes(routes!(tiles::offline))
        .routes(routes!(tiles::tile))
        .routes(routes!(parking::overview))
        .routes(routes!(parking::set_manager))
        .routes(routes!(parking::share_with_agreement))
        .routes(routes!(parking::list_approvals))
        .routes(routes!(parking::approve, parking::revoke))
        .routes(routes!(parking::choices::organization_choices))
        .routes(routes!(parking::list_lenders, parking::create_lender))
        .routes(routes!(parking::update_lender))
        .routes(routes!(parking::list_spaces, parking::create_space))
        .routes(routes!(parking::nearby))
        .routes(routes!(parking::get_space, parking::update_space))
        .routes(routes!(parking::set_paused))
        .routes(routes!(parking::set_availability))
        .routes(routes!(
            parking::photo::get_photo,
            parking::photo::put_photo,
            parking::photo::delete_photo
        ))
        .routes(routes!(parking::free))
        .routes(routes!(parking::space_bookings))
        .routes(routes!(parking::book))
        .routes(routes!(parking::my_bookings))
        .routes(routes!(parking::cancel))
        .routes(routes!(parking::left_early))
        .routes(routes!(parking::list_troubles, parking::report_trouble))
        .routes(routes!(parking::statistics))
        .routes(routes!(push::vapid_key))
        .routes(routes!(push::get_settings, push::put_settings))
        .routes(routes!(push::mute_room))
        .routes(routes!(push::subscribe, push::unsubscribe))
        .routes(routes!(rooms::create_message_room))
        .routes(routes!(directory::directory))
        .routes(routes!(attachments::upload))
        .routes(routes!(attachments::list))
        .routes(routes!(attachments::download))
        .routes(routes!(attachments::thumbnail))
        .routes(routes!(client_certs::register))
        .routes(routes!(client_certs::list))
        .routes(routes!(client_certs::revoke))
        .routes(routes!(client_certs::set_policy))
        .merge(admin::routes())
}

/// The API's routes, the route of its document, and the document exactly as
/// `/api/openapi.json` serves it (`contract/openapi.json` is a checked-in copy).
fn api_parts() -> (
    Router<AppState>,
    Router<Arc<utoipa::openapi::OpenApi>>,
    utoipa::openapi::OpenApi,
) {
    let (api, mut doc) = api_routes().split_for_parts();
    // The document route is itself documented; added last so it is part of what it serves.
    let (doc_route, doc_paths) = OpenApiRouter::<Arc<utoipa::openapi::OpenApi>>::new()
        .routes(routes!(openapi::openapi_json))
        .split_for_parts();
    doc.merge(doc_paths);
    openapi::add_shared_responses(&mut doc);
    (api, doc_route, doc)
}

pub fn router(state: AppState) -> Router {
    let (api, doc_route, doc) = api_parts();
    let doc_route = doc_route.with_state(Arc::new(doc));

    let app = Router::new()
        .route("/", get(assets::serve))
        .route("/{municipality}/", get(assets::serve))
        .route(
            "/{municipality}/manifest.webmanifest",
            get(assets::manifest),
        )
        .merge(api)
        .merge(crate::hub::router())
        .fallback(assets::serve)
        .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
        // Municipalities that require client certificates (mTLS): before any handler.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::tls::guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admin::maintenance_guard,
        ))
        .with_state(state)
        .merge(doc_route)
        // Inside the header layers, so a panicking handler's 500 carries them too.
        .layer(CatchPanicLayer::custom(|_panic| {
            // The payload may hold request data: not logged, not sent.
            Error::internal("a handler panicked").into_response()
        }));

    let header = |name: HeaderName, value: &'static str| {
        // `if_not_present`: a handler that knows better (a download, say) may set its own.
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.layer(middleware::from_fn(no_store_for_the_api))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::STRICT_TRANSPORT_SECURITY, HSTS))
        .layer(
            // The path only: room tokens travel in query strings and must not reach logs.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
}

/// API answers carry patient data (and errors about it): no browser or proxy may keep a
/// copy, also not after sign-out on a shared computer. A handler may set its own policy.
async fn no_store_for_the_api(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    if api {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses cookie-authenticated mutations that do not show they come from our own pages
/// (see [`auth::csrf_allows`]). Bearer-token requests are exempt: a browser never adds that
/// header by itself, so another site cannot make it send one.
async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !safe {
        let presented = auth::presented_token(&state.config, req.headers());
        if matches!(presented, Some((_, auth::Presented::Cookie))) {
            let authority = req.uri().authority().map(|a| a.as_str());
            if !auth::csrf_allows(&state.config, req.headers(), authority) {
                return Error::CsrfRejected.into_response();
            }
        }
    }
    next.run(req).await
}
