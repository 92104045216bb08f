//! The user side of signature requests: see what is pending, with its display text, and
//! approve (PIN or passkey, both bound to the request's canonical digest) or reject.

use actix_web::{HttpResponse, web};
use fincert_client::proto::{
    Items,
    approvals::{PasskeyApproval, PinApproval},
};
use uuid::Uuid;

use super::extract::{User, parse_pin};
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
    let view = state
        .signing
        .approve_with_pin(&state.db, &user.0, *id, &pin, &digest)
        .await?;
    Ok(HttpResponse::Ok().json(view))
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
    let view = state
        .signing
        .approve_with_passkey(&state.db, &user.0, *id, &body.ceremony_id, &body.credential)
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
