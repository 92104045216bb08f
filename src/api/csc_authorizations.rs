//! The holder's side of user-authorized CSC, as the portal's consent page calls it: read a
//! pending `oauth2/authorize` request, approve a credential request with the certificate's PIN
//! or a passkey bound to its key, allow a service request, or refuse either.
//! Each answer of a decision is where the browser goes next (the client's redirect URI).

use actix_web::{HttpResponse, web};
use fincert_client::proto::{
    approvals::PasskeyApproval,
    csc_oauth::{CscAuthorizationApproval, CscAuthorizationRedirect},
};
use uuid::Uuid;

use super::extract::{User, parse_pin};
use crate::{error::ApiError, state::AppState};

/// `GET /v1/csc-authorizations/{id}`.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .signing
        .csc_oauth_view(&state.db, &user.0, *id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// `POST /v1/csc-authorizations/{id}/approve` (PIN).
#[tracing::instrument(skip_all)]
pub async fn approve(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<CscAuthorizationApproval>,
) -> Result<HttpResponse, ApiError> {
    let pin = parse_pin(&body.pin)?;
    let redirect_uri = state
        .signing
        .csc_oauth_approve(&state.db, &user.0, *id, &pin)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CscAuthorizationRedirect { redirect_uri }))
}

/// `POST /v1/csc-authorizations/{id}/allow`: the signed-in holder allows a service request.
#[tracing::instrument(skip_all)]
pub async fn allow(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let redirect_uri = state
        .signing
        .csc_oauth_allow(&state.db, &user.0, *id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CscAuthorizationRedirect { redirect_uri }))
}

/// `POST /v1/csc-authorizations/{id}/refuse`.
#[tracing::instrument(skip_all)]
pub async fn refuse(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let redirect_uri = state
        .signing
        .csc_oauth_refuse(&state.db, &user.0, *id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CscAuthorizationRedirect { redirect_uri }))
}

/// `POST /v1/csc-authorizations/{id}/passkey/start`: WebAuthn options whose challenge
/// commits to the request.
#[tracing::instrument(skip_all)]
pub async fn passkey_start(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let started = state
        .signing
        .csc_oauth_passkey_start(&state.db, &user.0, *id)
        .await?;
    Ok(HttpResponse::Ok().json(started))
}

/// `POST /v1/csc-authorizations/{id}/passkey/finish`.
#[tracing::instrument(skip_all)]
pub async fn passkey_finish(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<PasskeyApproval>,
) -> Result<HttpResponse, ApiError> {
    let redirect_uri = state
        .signing
        .csc_oauth_passkey_finish(
            &state.db,
            &user.0,
            *id,
            &body.ceremony_id,
            &body.credential,
            body.prf.as_deref().map(String::as_str),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CscAuthorizationRedirect { redirect_uri }))
}
