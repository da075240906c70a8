//! Client certificates (mTLS) for administrators: register a certificate to an account,
//! list and revoke them, and set a municipality's policy. A revocation ends the owner's live
//! connections at once; the certificate is refused from the next request on.

use super::ApiPath;
use crate::db::client_certs::ClientCertificate;
use crate::db::users::Role;
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::http::admin::Admin;
use crate::http::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
pub use renraku_contract::{CertificatePolicy, NewClientCertificate, Revoked};
use renraku_sync::UserId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The account, if this administrator manages it.
async fn managed(state: &AppState, admin: &Admin, id: i64) -> Result<UserId> {
    let profile = state
        .db
        .user(UserId::new(id))
        .await?
        .ok_or(Error::NotFound)?;
    admin.require_manages(profile.municipality)?;
    if profile.role == Role::SystemAdmin {
        admin.require_system()?;
    }
    Ok(profile.id)
}

/// Registers a client certificate to an account.
#[utoipa::path(post, path = "/api/admin/users/{id}/client-certificates", tag = "admin",
    params(("id" = i64, Path)),
    request_body = NewClientCertificate,
    responses((status = 201, body = ClientCertificate),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn register(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<NewClientCertificate>,
) -> Result<(StatusCode, Json<ClientCertificate>)> {
    let user = managed(&state, &admin, id).await?;
    crate::domain::text::optional_line(&req.label, usize::MAX)
        .map_err(|problem| Error::BadRequest(format!("label {problem}")))?;
    let der = CertificateDer::from_pem_slice(req.certificate_pem.as_bytes())
        .map_err(|_| Error::BadRequest("certificate_pem is not a PEM certificate".into()))?;
    let label: String = req.label.trim().chars().take(100).collect();
    let fingerprint = crate::tls::fingerprint(der.as_ref());
    let cert = state
        .db
        .register_client_certificate(user, &fingerprint, der.as_ref(), &label)
        .await?;
    let profile_municipality = state.db.user(user).await?.map(|p| p.municipality);
    state
        .db
        .audit(admin.entry(
            AuditAction::AdminClientCertificateRegister,
            profile_municipality,
            format!("client_certificate/{}", cert.id),
        ))
        .await?;
    Ok((StatusCode::CREATED, Json(cert)))
}

/// An account's client certificates, revoked ones included.
#[utoipa::path(get, path = "/api/admin/users/{id}/client-certificates", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ClientCertificate>),
              (status = 403, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ClientCertificate>>> {
    let user = managed(&state, &admin, id).await?;
    Ok(Json(state.db.client_certificates_of(user).await?))
}

/// Revokes a client certificate and closes its owner's live connections.
#[utoipa::path(post, path = "/api/admin/client-certificates/{id}/revoke", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = Revoked),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Revoked>> {
    let cert = state
        .db
        .client_certificate(id)
        .await?
        .ok_or(Error::NotFound)?;
    managed(&state, &admin, cert.user.get()).await?;
    let by = Some((admin.0.id, admin.0.municipality));
    let closed = crate::tls::revoke(
        &state,
        cert.id,
        cert.user,
        AuditAction::AdminClientCertificateRevoke,
        by,
    )
    .await?;
    Ok(Json(Revoked {
        connections_closed: closed.unwrap_or(0),
    }))
}

/// Sets whether a municipality's professionals must use a registered client certificate.
#[utoipa::path(put, path = "/api/admin/municipalities/{slug}/client-certificate-policy", tag = "admin",
    params(("slug" = String, Path)),
    request_body = CertificatePolicy,
    responses((status = 204),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn set_policy(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<CertificatePolicy>,
) -> Result<StatusCode> {
    let m = admin.municipality(&state, &slug).await?;
    state
        .db
        .set_require_client_certificate(m.id, req.required)
        .await?;
    state
        .db
        .audit(
            admin
                .entry(
                    AuditAction::AdminClientCertificatePolicy,
                    Some(m.id),
                    format!("municipality/{}", m.slug),
                )
                .detail(format!("required: {}", req.required)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
