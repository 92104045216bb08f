//! The institution side of remote signing: consented certificates, signature requests, login
//! with certificate, verification. Every route takes [`Institution`] (an institution access
//! token from `/oauth2/token`; see `extract`).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert_client::proto::{
    Items,
    institutions::{LoginBody, VerifyBody},
};
use uuid::Uuid;

use super::{extract::Institution, idempotent};
use crate::{
    error::{ApiError, parse_json},
    signing::{
        SigningError,
        request::{DEFAULT_EXPIRY_SECS, Digest, NewRequest, NewRequestBody, Target},
        verify::{self, Signed},
    },
    state::AppState,
};

/// `GET /v1/institution/certificates`: the certificates users have registered with the
/// calling institution (live consents only).
#[tracing::instrument(skip_all)]
pub async fn certificates(
    state: web::Data<AppState>,
    inst: Institution,
) -> Result<HttpResponse, ApiError> {
    inst.0.require("sign")?;
    let items = state
        .signing
        .consented_certificates(&state.db, &inst.0)
        .await?;
    Ok(HttpResponse::Ok().json(Items::from(items)))
}

/// `POST /v1/signature-requests` (Idempotency-Key required).
#[tracing::instrument(skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    inst: Institution,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let parsed: NewRequestBody = parse_json(&req, &body)?;
    let new = NewRequest::parse(parsed, state.settings.signing.allow_http_webhooks)
        .map_err(SigningError::from)?;
    let scope = format!("institution:{}", inst.0.institution.id);
    idempotent::run(
        &state,
        &req,
        &scope,
        &body,
        StatusCode::CREATED,
        |answer| async {
            Ok(state
                .signing
                .create_request(&inst.0, new, Some(answer))
                .await?)
        },
    )
    .await
}

/// `GET /v1/signature-requests/{id}`: status and, once signed, the result with the signer's
/// validation material.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    inst: Institution,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .signing
        .request_with_material(&state.db, &inst.0, *id)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/signature-requests/{id}/deliveries`: the webhook delivery log.
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    state: web::Data<AppState>,
    inst: Institution,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let items = state.signing.deliveries(&state.db, &inst.0, *id).await?;
    Ok(HttpResponse::Ok().json(Items::from(items)))
}

/// `POST /v1/login-requests` (Idempotency-Key required): the user is asked to sign a fresh
/// nonce; the result carries signature, certificate and chain.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    inst: Institution,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let parsed: LoginBody = parse_json(&req, &body)?;
    let invalid = |m: &str| {
        ApiError::from(SigningError::Invalid(
            crate::signing::request::RequestError::Invalid(m.into()),
        ))
    };
    let target = match (parsed.certificate_id, parsed.user_ref) {
        (Some(id), None) => Target::Certificate(id),
        (None, Some(r)) if !r.is_empty() && r.len() <= 128 => Target::User(r),
        _ => return Err(invalid("give exactly one of certificate_id and user_ref")),
    };
    let secs = parsed.expires_in.unwrap_or(DEFAULT_EXPIRY_SECS);
    if !(30..=900).contains(&secs) {
        return Err(invalid("expires_in must be 30 to 900 seconds"));
    }
    let scope = format!("institution:{}", inst.0.institution.id);
    idempotent::run(
        &state,
        &req,
        &scope,
        &body,
        StatusCode::CREATED,
        |answer| async {
            Ok(state
                .signing
                .create_login(&inst.0, target, Duration::seconds(secs), Some(answer))
                .await?)
        },
    )
    .await
}

/// `POST /v1/verify`: signature, chain and status in one call.
#[tracing::instrument(skip_all)]
pub async fn verify(
    state: web::Data<AppState>,
    inst: Institution,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    inst.0.require("verify")?;
    let b = body.into_inner();
    let invalid = |m: &str| {
        ApiError::from(SigningError::Invalid(
            crate::signing::request::RequestError::Invalid(m.into()),
        ))
    };
    let b64 = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|_| invalid(&format!("{field} is not valid base64")))
    };
    let cert = b64("certificate", &b.certificate)?;
    let signature = b64("signature", &b.signature)?;
    let signed = match (b.content, b.digest) {
        (Some(c), None) => Signed::Content(b64("content", &c)?),
        (None, Some(d)) => Signed::Digest(Digest::parse_b64(&d).map_err(SigningError::from)?),
        _ => return Err(invalid("give exactly one of content and digest")),
    };
    let report = verify::verify(
        &state.db,
        &state.pki,
        &cert,
        &signature,
        &signed,
        b.algorithm,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
