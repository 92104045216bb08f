//! The signed-in user's certificates and their lifecycle (issuance and reissuance are the last
//! step of enrolment, which verifies identity first; they are not here).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::extract::{User, parse_pin};
use crate::{
    domain::der_input,
    error::ApiError,
    pki::{KeySource, lifecycle::RevocationReason},
    state::AppState,
};

/// `GET /v1/certificates`: the user's certificates, newest first, with status in force and
/// whether renewal is open.
#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items = state.pki.certificates(&state.db, &user.0).await?;
    let fees = state.pki.fees(&state.db, &user.0).await?;
    let charged: i64 = fees.iter().map(|f| i64::from(f.amount_krw)).sum();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "fees_charged_krw": charged })))
}

/// `GET /v1/certificates/{id}`.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pki.certificate(&state.db, &user.0, *id).await?))
}

/// A revocation request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    reason: RevocationReason,
}

/// `POST /v1/certificates/{id}/revoke`.
#[tracing::instrument(skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        state
            .pki
            .revoke(&state.db, &user.0, *id, body.reason)
            .await?,
    ))
}

/// `POST /v1/certificates/{id}/suspend`.
#[tracing::instrument(skip_all)]
pub async fn suspend(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pki.suspend(&state.db, &user.0, *id).await?))
}

/// `POST /v1/certificates/{id}/resume`.
#[tracing::instrument(skip_all)]
pub async fn resume(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.pki.resume(&state.db, &user.0, *id).await?))
}

/// A renewal: the PIN (cloud key; it must open the current key and binds the new one) or a
/// new CSR (device key, base64 DER or PEM).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    pin: Option<zeroize::Zeroizing<String>>,
    csr: Option<String>,
}

/// `POST /v1/certificates/{id}/renew`: 201 with the new certificate.
#[tracing::instrument(skip_all)]
pub async fn renew(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<RenewBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let renewed = match (body.pin, body.csr) {
        (Some(pin), None) => {
            let pin = parse_pin(&pin)?;
            state
                .pki
                .renew(&state.db, &user.0, *id, KeySource::Cloud(&pin))
                .await?
        }
        (None, Some(csr)) => {
            let csr = decode_der_or_pem(&csr)?;
            state
                .pki
                .renew(&state.db, &user.0, *id, KeySource::Device(&csr))
                .await?
        }
        _ => {
            return Err(ApiError::InvalidJson(
                "give either pin (cloud key) or csr (device key)".into(),
            ));
        }
    };
    Ok(HttpResponse::Created().json(renewed))
}

/// `GET /v1/fees`: every charge, oldest first.
#[tracing::instrument(skip_all)]
pub async fn fees(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items: Vec<_> = state
        .pki
        .fees(&state.db, &user.0)
        .await?
        .into_iter()
        .map(|f| json!({"certificate_id": f.certificate_id, "event": f.event, "amount_krw": f.amount_krw, "currency": "KRW", "charged_at": f.created_at}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// PEM text as given, or base64 DER decoded.
pub fn decode_der_or_pem(input: &str) -> Result<Vec<u8>, ApiError> {
    der_input::bytes_from_text(input)
        .map_err(|_| ApiError::InvalidJson("not base64 DER or PEM".into()))
}
