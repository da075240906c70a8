//! The server's one error type and its HTTP mapping. Server-side details (database text,
//! I/O errors) are logged here and never sent to the client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use renraku_contract::{ErrorCode, SecondFactorKind};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("authentication required")]
    Unauthorized,
    /// The municipality requires a client certificate registered to the user (mTLS).
    #[error("client certificate required")]
    ClientCertificateRequired,
    /// Wrong login id or password: one answer for both, so it reveals no account.
    #[error("bad credentials")]
    BadCredentials,
    /// The password was right, but the account has a second factor and none was given. Says
    /// which kinds the account has, so the app can offer them.
    #[error("second factor required")]
    SecondFactorRequired { totp: bool, passkey: bool },
    /// A wrong, expired or replayed TOTP or recovery code at sign-in.
    #[error("bad second factor")]
    BadSecondFactor,
    /// A wrong TOTP code where a signed-in user confirms or removes their second factor.
    #[error("invalid code")]
    InvalidCode,
    /// The session may only enrol a second factor (the municipality requires one).
    #[error("second factor enrolment required")]
    EnrolmentRequired,
    /// A passkey ceremony that cannot succeed: an unreadable or forged credential, an
    /// expired or unknown ceremony, no passkey to sign in with. The reason is for people.
    #[error("passkey refused: {0}")]
    PasskeyRejected(&'static str),
    /// The server has no WebAuthn relying party (its public URL has no domain name).
    #[error("passkeys unavailable")]
    PasskeysUnavailable,
    /// An administrator reset the password: the session may only change it (and sign out).
    #[error("password change required")]
    PasswordChangeRequired,
    /// Maintenance mode: only administrators are served until the window ends.
    #[error("under maintenance")]
    Maintenance { message: String },
    /// A cookie-authenticated mutation without a matching `Origin` or the CSRF header.
    #[error("cross-site request refused")]
    CsrfRejected,
    /// A new password that is too short, too long or too common; the reason is for people.
    #[error("weak password: {0}")]
    WeakPassword(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict")]
    Conflict,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 駐車場: the window asked for overlaps a booking; says which (its time and
    /// organisation — a booking holds nothing about a patient).
    #[error("booking conflict: {0}")]
    BookingConflict(String),
    /// 駐車場: the window is outside the space's availability, or the space is paused.
    #[error("outside availability: {0}")]
    OutsideAvailability(String),
    /// A JSON body over the API's limit (uploads have their own, see [`Error::Upload`]).
    #[error("request body too large")]
    BodyTooLarge,
    /// An upload refused for what it is: too large, a type not allowed, a bad file name, or
    /// a body that ended early. Nothing of it is kept.
    #[error("upload refused: {0}")]
    Upload(#[from] crate::attachments::Refusal),
    /// `renraku import` refused a data set (a rule it breaks, at its JSON path); nothing of
    /// it was written. Not a `source`: the message holds it already, and the CLI would
    /// print it twice.
    #[error("nothing imported: {0}")]
    ImportRefused(crate::import_export::ImportError),
    /// Sent with `Retry-After: {retry_after_secs}`.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A feature this server is not set up for; the reason tells the operator what to do.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
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

/// axum's own extractors answer in plain text; ours (`crate::http::extract`) turn their
/// rejections into these, so every malformed request gets the JSON error body.
impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Error::BodyTooLarge,
            _ => Error::BadRequest(rejection.body_text()),
        }
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        Error::BadRequest(rejection.body_text())
    }
}

impl Error {
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(anyhow::anyhow!("{message}"))
    }

    /// 429 with `Retry-After`: the throttle's wait, at least a second.
    pub fn retry_after(wait: std::time::Duration) -> Self {
        Error::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized
            | Error::BadCredentials
            | Error::SecondFactorRequired { .. }
            | Error::BadSecondFactor => StatusCode::UNAUTHORIZED,
            Error::PasskeyRejected(_) => StatusCode::BAD_REQUEST,
            Error::PasskeysUnavailable => StatusCode::CONFLICT,
            Error::EnrolmentRequired
            | Error::PasswordChangeRequired
            | Error::CsrfRejected
            | Error::ClientCertificateRequired
            | Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Maintenance { .. } | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::InvalidCode | Error::WeakPassword(_) => StatusCode::BAD_REQUEST,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict | Error::BookingConflict(_) => StatusCode::CONFLICT,
            Error::OutsideAvailability(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest(_) | Error::ImportRefused(_) => StatusCode::BAD_REQUEST,
            Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Upload(refusal) => refusal.status(),
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Stable machine-readable code, part of the API.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthorized => ErrorCode::Unauthorized,
            Error::ClientCertificateRequired => ErrorCode::ClientCertificateRequired,
            Error::BadCredentials => ErrorCode::BadCredentials,
            Error::SecondFactorRequired { .. } => ErrorCode::SecondFactorRequired,
            Error::PasskeyRejected(_) => ErrorCode::PasskeyRejected,
            Error::PasskeysUnavailable => ErrorCode::PasskeysUnavailable,
            Error::BadSecondFactor => ErrorCode::BadSecondFactor,
            Error::InvalidCode => ErrorCode::InvalidCode,
            Error::EnrolmentRequired => ErrorCode::EnrolmentRequired,
            Error::PasswordChangeRequired => ErrorCode::PasswordChangeRequired,
            Error::Maintenance { .. } => ErrorCode::Maintenance,
            Error::CsrfRejected => ErrorCode::CsrfRejected,
            Error::WeakPassword(_) => ErrorCode::WeakPassword,
            Error::Forbidden => ErrorCode::Forbidden,
            Error::NotFound => ErrorCode::NotFound,
            Error::Conflict => ErrorCode::Conflict,
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::BookingConflict(_) => ErrorCode::BookingConflict,
            Error::OutsideAvailability(_) => ErrorCode::OutsideAvailability,
            Error::ImportRefused(_) => ErrorCode::ImportRefused,
            Error::BodyTooLarge => ErrorCode::TooLarge,
            Error::Upload(refusal) => refusal.code(),
            Error::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => ErrorCode::Internal,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Error::Unauthorized => "ログインが必要です。(Sign-in required.)".into(),
            Error::ClientCertificateRequired => {
                "この自治体では登録済みのクライアント証明書が必要です。(A client certificate registered to your account is required.)"
                    .into()
            }
            Error::BadCredentials => {
                "ログインIDまたはパスワードが正しくありません。(Wrong login id or password.)".into()
            }
            Error::SecondFactorRequired { passkey: true, totp: false } => {
                "パスキーで確認してください。(Confirm with your passkey.)".into()
            }
            Error::SecondFactorRequired { .. } => {
                "確認コードを入力してください。(Enter the code from your authenticator app.)".into()
            }
            Error::PasskeyRejected(why) => format!("パスキーを確認できませんでした: {why}"),
            Error::PasskeysUnavailable => {
                "このサーバーではパスキーを使えません。(Passkeys are not available on this server.)"
                    .into()
            }
            Error::BadSecondFactor => {
                "確認コードが正しくないか、期限切れです。(Wrong or expired code.)".into()
            }
            Error::InvalidCode => "確認コードが正しくありません。(Wrong code.)".into(),
            Error::EnrolmentRequired => {
                "この自治体では二段階認証の設定が必要です。(Set up a second factor first.)".into()
            }
            Error::PasswordChangeRequired => {
                "パスワードを変更してください。(Change your password first.)".into()
            }
            Error::Maintenance { message } if !message.is_empty() => {
                format!("メンテナンス中です: {message}")
            }
            Error::Maintenance { .. } => "メンテナンス中です。(Under maintenance.)".into(),
            Error::CsrfRejected => {
                "別のサイトからのリクエストは受け付けません。(Cross-site request refused.)".into()
            }
            Error::WeakPassword(why) => format!("このパスワードは使えません: {why}"),
            Error::Forbidden => "この操作は許可されていません。(Not allowed.)".into(),
            Error::NotFound => "見つかりません。(Not found.)".into(),
            Error::Conflict => "すでに存在します。(Already exists.)".into(),
            Error::BadRequest(why) => format!("リクエストが正しくありません: {why}"),
            Error::BookingConflict(what) => format!("この時間は予約済みです: {what}"),
            Error::OutsideAvailability(why) => format!("予約できません: {why}"),
            Error::ImportRefused(why) => format!("取り込めません (nothing imported): {why}"),
            Error::BodyTooLarge => {
                "リクエストが大きすぎます。(The request body is too large.)".into()
            }
            Error::Upload(refusal) => refusal.message(),
            Error::TooManyRequests { .. } => {
                "試行回数が多すぎます。しばらくしてから再度お試しください。(Too many attempts.)"
                    .into()
            }
            Error::Unavailable(why) => format!("このサーバーでは使えません: {why}"),
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                "サーバーでエラーが発生しました。(Internal server error.)".into()
            }
        }
    }
}

/// The JSON body of every error response (part of the API contract).
pub use renraku_contract::ErrorBody;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: self.code(),
            message: self.public_message(),
            second_factors: match &self {
                Error::SecondFactorRequired { totp, passkey } => [
                    (*totp, SecondFactorKind::Totp),
                    (*passkey, SecondFactorKind::Passkey),
                ]
                .into_iter()
                .filter(|(has, _)| *has)
                .map(|(_, kind)| kind)
                .collect(),
                _ => Vec::new(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Error::TooManyRequests { retry_after_secs } = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}
