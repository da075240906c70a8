//! Why an upload was refused. Each case has its own stable code, so the app can tell the
//! person what to change, and none of them keeps anything of the upload.

use axum::http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Larger than the configured limit (bytes).
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The bytes are not one of the allowed types (photos, PDF, Office documents, text).
    #[error("type not allowed: {found}")]
    UnsupportedType { found: String },
    /// The bytes are an allowed type, but the name's extension says another one.
    #[error("content is {found} but the name says .{extension}")]
    TypeMismatch { found: String, extension: String },
    /// The file name is empty, too long, a path, or holds control or bidirectional characters.
    #[error("bad file name: {0}")]
    BadFileName(&'static str),
    #[error("empty file")]
    EmptyFile,
    /// A photo with more pixels than the server decodes (read from its header).
    #[error("image of {width}×{height} pixels is over the limit of {max_pixels}")]
    ImageTooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    /// The body ended before its `Content-Length`, or the connection broke.
    #[error("incomplete upload")]
    Incomplete,
    /// Where only a photo will do (a 駐車場 space's photo): the bytes are no JPEG, PNG or WebP.
    #[error("not a photo")]
    NotAPhoto,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::TooLarge { .. } | Refusal::ImageTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Refusal::UnsupportedType { .. } | Refusal::TypeMismatch { .. } | Refusal::NotAPhoto => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Refusal::BadFileName(_) | Refusal::EmptyFile | Refusal::Incomplete => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    pub fn code(&self) -> renraku_contract::ErrorCode {
        match self {
            Refusal::TooLarge { .. } => renraku_contract::ErrorCode::TooLarge,
            Refusal::UnsupportedType { .. } | Refusal::NotAPhoto => {
                renraku_contract::ErrorCode::UnsupportedType
            }
            Refusal::TypeMismatch { .. } => renraku_contract::ErrorCode::TypeMismatch,
            Refusal::BadFileName(_) => renraku_contract::ErrorCode::BadFileName,
            Refusal::EmptyFile => renraku_contract::ErrorCode::EmptyFile,
            Refusal::ImageTooLarge { .. } => renraku_contract::ErrorCode::ImageTooLarge,
            Refusal::Incomplete => renraku_contract::ErrorCode::IncompleteUpload,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::TooLarge { limit } => format!(
                "ファイルが大きすぎます（上限 {} MB）。(File too large: the limit is {} MB.)",
                limit / 1_000_000,
                limit / 1_000_000
            ),
            Refusal::UnsupportedType { .. } => {
                "この種類のファイルは添付できません。写真（JPEG・PNG・WebP）、PDF、Office 文書、テキストを添付できます。\
                 (This kind of file cannot be attached: photos, PDF, Office documents and text can.)"
                    .into()
            }
            Refusal::TypeMismatch { found, extension } => format!(
                "ファイルの中身（{found}）が名前の拡張子（.{extension}）と一致しません。\
                 (The file's content is {found}, but its name ends in .{extension}.)"
            ),
            Refusal::BadFileName(why) => format!("ファイル名が使えません: {why}"),
            Refusal::EmptyFile => "空のファイルは添付できません。(The file is empty.)".into(),
            Refusal::ImageTooLarge {
                width,
                height,
                max_pixels,
            } => format!(
                "画像の画素数が多すぎます（{width}×{height}、上限 {} 万画素）。小さくしてから添付してください。\
                 (The image is {width}×{height} pixels; the limit is {} million pixels. Make it smaller and attach it again.)",
                max_pixels / 10_000,
                max_pixels / 1_000_000
            ),
            Refusal::NotAPhoto => {
                "写真（JPEG・PNG・WebP）を選んでください。(Choose a photo: JPEG, PNG or WebP.)".into()
            }
            Refusal::Incomplete => {
                "アップロードが途中で切れました。もう一度お試しください。(The upload was cut off; try again.)"
                    .into()
            }
        }
    }
}
