//! The server's one error type and its HTTP mapping. Server-side details (database text,
//! I/O errors) are logged here and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("authentication required")]
    Unauthorized,
    /// Wrong login id or password: one answer for both, so it reveals no account.
    #[error("bad credentials")]
    BadCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict")]
    Conflict,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many requests")]
    TooManyRequests,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict,
            sqlx::Error::RowNotFound => Error::NotFound,
            _ => Error::Database(e),
        }
    }
}

impl Error {
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(anyhow::anyhow!("{message}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized | Error::BadCredentials => StatusCode::UNAUTHORIZED,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict => StatusCode::CONFLICT,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Stable machine-readable code, part of the API.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized => "unauthorized",
            Error::BadCredentials => "bad_credentials",
            Error::Forbidden => "forbidden",
            Error::NotFound => "not_found",
            Error::Conflict => "conflict",
            Error::BadRequest(_) => "bad_request",
            Error::TooManyRequests => "too_many_requests",
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => "internal",
        }
    }

    fn public_message(&self) -> String {
        match self {
            Error::Unauthorized => "ログインが必要です。(Sign-in required.)".into(),
            Error::BadCredentials => {
                "ログインIDまたはパスワードが正しくありません。(Wrong login id or password.)".into()
            }
            Error::Forbidden => "この操作は許可されていません。(Not allowed.)".into(),
            Error::NotFound => "見つかりません。(Not found.)".into(),
            Error::Conflict => "すでに存在します。(Already exists.)".into(),
            Error::BadRequest(why) => format!("リクエストが正しくありません: {why}"),
            Error::TooManyRequests => {
                "試行回数が多すぎます。しばらくしてから再度お試しください。(Too many attempts.)"
                    .into()
            }
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                "サーバーでエラーが発生しました。(Internal server error.)".into()
            }
        }
    }
}

/// The JSON body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code: `unauthorized`, `bad_credentials`, `forbidden`, `not_found`, `conflict`, `bad_request`,
    /// `too_many_requests` or `internal`.
    pub error: String,
    /// For people; Japanese first.
    pub message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: self.code().into(),
            message: self.public_message(),
        };
        (status, Json(body)).into_response()
    }
}
