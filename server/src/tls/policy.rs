//! The per-municipality client certificate policy, checked on every request.
//!
//! A certificate binds to a user by the SHA-256 fingerprint of its DER encoding, registered
//! by an administrator (`POST /api/admin/client-certificates`, or `renraku client-certificate
//! add`). The TLS layer has already checked that the CA issued it and the CRL does not
//! revoke it; here the question is whether it is this user's and not revoked by an
//! administrator. Without TLS (or behind a proxy that terminates it) no request carries a
//! certificate, so the users of a municipality that requires one are refused: the policy
//! fails closed.

use crate::auth::token::{looks_like_token, token_hash};
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The fingerprint of the certificate the client presented on this connection, if any.
#[derive(Clone, Debug, Default)]
pub struct PresentedCertificate(pub Option<String>);

/// SHA-256 of a certificate's DER encoding, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Refuses requests of users whose municipality requires a client certificate, unless the
/// connection presented one registered to them.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Owned, so nothing of the request (whose body is not `Sync`) is held across an await.
    let asked = Asked {
        presented: req
            .extensions()
            .get::<PresentedCertificate>()
            .and_then(|p| p.0.clone()),
        signin: signin_municipality(req.uri().path()).map(str::to_owned),
        token: if req.uri().path().starts_with("/yjs/") {
            query_token(req.uri().query()).map(|t| Token::Room(t.to_owned()))
        } else {
            crate::auth::presented_token(&state.config, req.headers())
                .map(|(t, _)| t)
                .filter(|t| looks_like_token(t))
                .map(Token::Session)
        },
    };
    match check(&state, asked).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

enum Token {
    Session(String),
    Room(String),
}

/// What the policy needs to know of a request.
struct Asked {
    presented: Option<String>,
    /// The municipality signed in to, for `/api/{municipality}/signin`.
    signin: Option<String>,
    token: Option<Token>,
}

async fn check(state: &AppState, asked: Asked) -> Result<()> {
    let presented = asked.presented.as_deref();
    if let Some(slug) = &asked.signin {
        // The password is not even looked at without a registered certificate; which user
        // it belongs to is checked on every request of the session that follows.
        if state
            .db
            .municipality_requires_client_certificate(slug)
            .await?
        {
            let registered = match presented {
                Some(fp) => state.db.certificate_is_registered(fp).await?,
                None => false,
            };
            if !registered {
                return Err(Error::ClientCertificateRequired);
            }
        }
        return Ok(());
    }
    let requirement = match &asked.token {
        Some(Token::Room(token)) => {
            state
                .db
                .certificate_requirement_of_room_token(&token_hash(token))
                .await?
        }
        Some(Token::Session(token)) => {
            state
                .db
                .certificate_requirement_of_session(&token_hash(token))
                .await?
        }
        None => None,
    };
    // No known token: the handler answers (401 where a session is needed).
    let Some(requirement) = requirement.filter(|r| r.required) else {
        return Ok(());
    };
    match presented {
        Some(fp)
            if state
                .db
                .certificate_belongs_to(fp, requirement.user)
                .await? =>
        {
            Ok(())
        }
        _ => Err(Error::ClientCertificateRequired),
    }
}

/// `/api/{municipality}/signin` → the municipality's slug.
fn signin_municipality(path: &str) -> Option<&str> {
    let slug = path.strip_prefix("/api/")?.strip_suffix("/signin")?;
    (!slug.is_empty() && !slug.contains('/')).then_some(slug)
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| looks_like_token(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_signin_municipality_and_the_room_token() {
        assert_eq!(signin_municipality("/api/demo/signin"), Some("demo"));
        assert_eq!(signin_municipality("/api/demo/x/signin"), None);
        assert_eq!(signin_municipality("/api/me"), None);
        let token = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            query_token(Some(&format!("a=1&token={token}"))),
            Some(token)
        );
        assert_eq!(query_token(Some("token=short")), None);
        assert_eq!(query_token(None), None);
    }
}
