//! The user side of signature requests: see what is pending, with its display text, and
//! approve (PIN or passkey, both bound to the request's canonical digest) or reject.

use actix_web::{HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::{
    Items,
    approvals::{DeviceApproval, PasskeyApproval, PinApproval},
};
use uuid::Uuid;

use super::{
    extract::{User, parse_pin},
    wire,
};
use crate::{error::ApiError, signing::SigningError, signing::request::Digest, state::AppState};

/// `GET /v1/approvals`: requests waiting for the user.
#[tracing::instrument(skip_all)]
pub async fn pending(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items = state.signing.pending(&state.db, &user.0).await?;
    Ok(HttpResponse::Ok().json(Items::from(items)))
}

/// `GET /v1/approvals/{id}`.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.signing.approval(&state.db, &user.0, *id).await?))
}

/// `POST /v1/approvals/{id}/approve`.
#[tracing::instrument(skip_all)]
pub async fn approve(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<PinApproval>,
) -> Result<HttpResponse, ApiError> {
    let pin = parse_pin(&body.pin)?;
    let digest = Digest::parse_b64(&body.request_digest).map_err(SigningError::from)?;
    let approved = state
        .signing
        .approve_with_pin(&state.db, &user.0, *id, &pin, &digest)
        .await?;
    Ok(HttpResponse::Ok().json(wire::approved(
        approved,
        state.pki.general_purpose_fee_krw(),
    )))
}

/// `POST /v1/approvals/{id}/passkey/start`: WebAuthn options whose challenge commits to the
/// request.
#[tracing::instrument(skip_all)]
pub async fn passkey_start(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let started = state
        .signing
        .start_passkey_approval(&state.db, &user.0, *id)
        .await?;
    Ok(HttpResponse::Ok().json(started))
}

/// `POST /v1/approvals/{id}/passkey/finish`.
#[tracing::instrument(skip_all)]
pub async fn passkey_finish(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<PasskeyApproval>,
) -> Result<HttpResponse, ApiError> {
    let approved = state
        .signing
        .approve_with_passkey(
            &state.db,
            &user.0,
            *id,
            &body.ceremony_id,
            &body.credential,
            body.prf.as_deref().map(String::as_str),
        )
        .await?;
    Ok(HttpResponse::Ok().json(wire::approved(
        approved,
        state.pki.general_purpose_fee_krw(),
    )))
}

/// `GET /v1/approvals/{id}/device`: what the holder's device signs (a device-kept
/// certificate's request).
#[tracing::instrument(skip_all)]
pub async fn device_to_sign(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.signing.device_to_sign(&user.0, *id).await?))
}

/// The most bytes of one submitted signature (RSA-8192 is 1,024).
const MAX_SIGNATURE_LEN: usize = 1024;

/// `POST /v1/approvals/{id}/device`: the device's signatures, verified before they count.
#[tracing::instrument(skip_all)]
pub async fn device_approve(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<DeviceApproval>,
) -> Result<HttpResponse, ApiError> {
    let digest = Digest::parse_b64(&body.request_digest).map_err(SigningError::from)?;
    let max = state.signing.max_batch() as usize;
    if body.signatures.is_empty() || body.signatures.len() > max {
        return Err(ApiError::InvalidJson(format!(
            "signatures: 1 to {max} items"
        )));
    }
    let signatures = body
        .signatures
        .iter()
        .map(|s| {
            STANDARD
                .decode(s.as_bytes())
                .ok()
                .filter(|b| !b.is_empty() && b.len() <= MAX_SIGNATURE_LEN)
                .ok_or_else(|| {
                    ApiError::InvalidJson("signatures: base64, at most 1024 bytes each".into())
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let view = state
        .signing
        .approve_with_device(&state.db, &user.0, *id, &digest, &signatures)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /v1/approvals/{id}/reject`.
#[tracing::instrument(skip_all)]
pub async fn reject(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.signing.reject(&state.db, &user.0, *id).await?))
}
