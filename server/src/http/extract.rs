//! The API's extractors: axum's `Json`, `Path` and `Query`, whose rejections are our JSON
//! errors (through the `From` impls in `crate::error`) instead of axum's plain text, so a
//! malformed body, path or query string gets the same error body as everything else.

use crate::error::Error;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

/// A JSON body. Every body of this API is an object: serde would also read a struct from a
/// JSON array (`[null, null]` as an all-optional PATCH), which the document does not allow,
/// so anything but an object is refused before it is read into `T`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(Error::BadRequest("the body must be a JSON object".into()));
        }
        serde_json::from_value(value).map(ApiJson).map_err(|e| {
            Error::BadRequest(format!(
                "Failed to deserialize the JSON body into the target type: {e}"
            ))
        })
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);
