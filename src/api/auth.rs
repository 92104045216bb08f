//! Sign-in (a PIN, or a device key's signature over a challenge), sessions and the JWKS.
//! (`User`, the extractor every user route takes, is in `extract`.)

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::auth::{
    DeviceChallengeBody, DeviceLoginBody, PinLoginBody, RefreshBody, ResumeBody,
};
use uuid::Uuid;

use crate::{
    auth::{device, login, rate_limit},
    error::ApiError,
    signing::request::AlgorithmExt as _,
    state::AppState,
};

/// Counts a sign-in attempt against the per-client-IP and per-certificate limits (shared by
/// every node), before any PIN or signature is tried.
async fn limit_sign_in(
    state: &AppState,
    req: &HttpRequest,
    certificate_id: Uuid,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let limits = &state.settings.auth;
    let ip = super::extract::client_ip(req, &state.settings);
    let per_minute = |max| rate_limit::Limit {
        max,
        window_secs: 60,
    };
    rate_limit::check(
        &state.db,
        &format!("signin:ip:{ip}"),
        per_minute(limits.sign_in_per_ip_per_minute),
        now,
    )
    .await??;
    rate_limit::check(
        &state.db,
        &format!("signin:cert:{certificate_id}"),
        per_minute(limits.sign_in_per_certificate_per_minute),
        now,
    )
    .await??;
    Ok(())
}

/// `POST /v1/auth/pin`: a session for the holder of the certificate whose PIN this is. With
/// a selection ticket (sign-in by choosing) the certificate must be one it listed, and the
/// session spends it. Limited per client IP and per certificate (shared by every node) before
/// any PIN is tried.
#[tracing::instrument(skip_all)]
pub async fn pin_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PinLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    limit_sign_in(&state, &req, body.certificate_id).await?;
    let pin = super::extract::parse_pin(&body.pin)?;
    let ticket = body.ticket.as_ref().map(|t| login::Ticket {
        sign_ins: &state.sign_ins,
        ticket: t.as_str(),
    });
    let pair = login::with_pin(
        &state.db,
        &state.custody,
        &state.tokens,
        &state.clock,
        body.certificate_id,
        &pin,
        ticket,
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// `POST /v1/auth/resume`: a suspended certificate resumed by identity re-check (the
/// selection ticket of sign-in by choosing and the certificate's PIN), with a session. The
/// way out for a holder whose only certificate is suspended, who cannot sign in to resume it.
#[tracing::instrument(skip_all)]
pub async fn resume(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResumeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    limit_sign_in(&state, &req, body.certificate_id).await?;
    let pin = super::extract::parse_pin(&body.pin)?;
    let ticket = login::Ticket {
        sign_ins: &state.sign_ins,
        ticket: body.ticket.as_str(),
    };
    let pair = login::resume_with_pin(
        &state.db,
        &state.custody,
        &state.pki,
        &state.tokens,
        &state.clock,
        login::Resumption {
            certificate_id: body.certificate_id,
            pin: &pin,
            ticket,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// `POST /v1/auth/device/challenge`: a single-use challenge for the holder of a device-held
/// certificate to sign. Counts as a sign-in attempt (each answer needs a fresh challenge).
#[tracing::instrument(skip_all)]
pub async fn device_challenge(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DeviceChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    limit_sign_in(&state, &req, body.certificate_id).await?;
    let challenge = device::challenge(&state.db, &state.clock, body.certificate_id).await?;
    Ok(HttpResponse::Ok().json(challenge))
}

/// `POST /v1/auth/device`: a session for whoever signed the challenge with the certificate's
/// key.
#[tracing::instrument(skip_all)]
pub async fn device_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DeviceLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    limit_sign_in(&state, &req, body.certificate_id).await?;
    let signature = STANDARD
        .decode(body.signature.as_bytes())
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= MAX_SIGNATURE_LEN)
        .ok_or_else(|| ApiError::InvalidJson("signature: base64, at most 1024 bytes".into()))?;
    let answer = device::Answer {
        certificate_id: body.certificate_id,
        challenge_id: body.challenge_id,
        challenge: &body.challenge,
        scheme: body.algorithm.scheme(),
        signature: &signature,
    };
    let pair = device::sign_in(&state.db, &state.tokens, &state.clock, answer).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// The longest signature accepted (RSA-8192 is 1,024 bytes).
const MAX_SIGNATURE_LEN: usize = 1024;

/// `POST /v1/auth/refresh`: a new token pair; the old refresh token is spent.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.tokens.refresh(&state.db, &body.refresh_token).await?))
}

/// `POST /v1/auth/logout`: ends the session of this refresh token; its access tokens stop
/// working on every node within a second (see `TokenService::verify_session`).
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.logout(&state.db, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.tokens.jwks())
}
