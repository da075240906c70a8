//! The API's extractors: axum's `Json`, `Path` and `Query`, whose rejections are our JSON
//! errors (through the `From` impls in `crate::error`) instead of axum's plain text, so a
//! malformed body, path or query string gets the same error body as everything else.

use crate::error::Error;
use axum::extract::{FromRequest, FromRequestParts};

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);
