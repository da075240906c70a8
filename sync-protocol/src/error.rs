use thiserror::Error;

/// Errors of the document API and the wire codec.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("no such post")]
    NoSuchPost,
    #[error("only the author may change a post")]
    NotYours,
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
