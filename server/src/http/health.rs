use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// Liveness and database reachability, for load balancers and `xtask`.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Serving, database reachable", body = String),
              (status = 503, description = "Database unreachable")))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
