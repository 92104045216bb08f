//! Sign-in, sessions and the JWKS. (`User`, the extractor every user route takes, is in
//! `extract`.)

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use fincert_client::proto::auth::{PinLoginBody, RefreshBody};

use crate::{
    auth::{login, rate_limit},
    error::ApiError,
    state::AppState,
};

/// `POST /v1/auth/pin`: a session for the holder of the certificate whose PIN this is.
/// Limited per client IP and per certificate (shared by every node) before any PIN is tried.
#[tracing::instrument(skip_all)]
pub async fn pin_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PinLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let now = state.clock.now();
    let limits = &state.settings.auth;
    let ip = super::extract::client_ip(&req, &state.settings);
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
        &format!("signin:cert:{}", body.certificate_id),
        per_minute(limits.sign_in_per_certificate_per_minute),
        now,
    )
    .await??;
    let pin = super::extract::parse_pin(&body.pin)?;
    let pair = login::with_pin(
        &state.db,
        &state.custody,
        &state.tokens,
        &state.clock,
        body.certificate_id,
        &pin,
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// `POST /v1/auth/refresh`: a new token pair; the old refresh token is spent.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.tokens.refresh(&state.db, &body.refresh_token).await?))
}

/// `POST /v1/auth/logout`: ends the session of this refresh token.
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
