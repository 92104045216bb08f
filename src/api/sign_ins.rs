//! Sign-in by choosing over HTTP (`auth::sign_in`): identify → code → the certificates and a
//! selection ticket, which `POST /v1/auth/pin` (or the passkey sign-in) takes with the chosen
//! certificate. Every step is limited per client IP, and identification also per phone number,
//! alike for known and unknown people.

use actix_web::{HttpRequest, HttpResponse, web};
use fincert_client::proto::auth::{
    IdentifyBody, ResendBody, SignInCertificate, SignInChoice, SignInCodeBody, SignInPending,
};
use uuid::Uuid;

use crate::{
    auth::{
        rate_limit::{self, Limit},
        sign_in::{Identification, Pending},
    },
    domain::person::{Phone, parse_birth_date},
    error::ApiError,
    pki::profile::HolderName,
    state::AppState,
};

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidJson(e.to_string())
}

/// Identifications per phone number per 10 minutes (known or not).
const PER_PHONE: Limit = Limit {
    max: 5,
    window_secs: 600,
};

async fn limit(state: &AppState, bucket: &str, limit: Limit) -> Result<(), ApiError> {
    rate_limit::check(&state.db, bucket, limit, state.clock.now()).await??;
    Ok(())
}

async fn limit_ip(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let ip = super::extract::client_ip(req, &state.settings);
    let per_minute = Limit {
        max: state.settings.auth.sign_in_per_ip_per_minute,
        window_secs: 60,
    };
    limit(state, &format!("signin-choose:ip:{ip}"), per_minute).await
}

fn pending(p: Pending) -> SignInPending {
    SignInPending {
        id: p.id,
        phone: p.phone_masked,
        channel: p.channel,
        code_expires_at: p.code_expires_at,
        expires_at: p.expires_at,
    }
}

/// `POST /v1/auth/sign-ins`: identify; 201 with the sign-in waiting for its code — the same
/// answer whether or not the details name anyone.
#[tracing::instrument(skip_all)]
pub async fn identify(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<IdentifyBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Identification {
        name: HolderName::parse(&body.name).map_err(bad)?,
        birth_date: parse_birth_date(&body.birth_date, state.clock.now().date_naive())
            .map_err(bad)?,
        phone: Phone::parse(&body.phone).map_err(bad)?,
    };
    limit_ip(&state, &req).await?;
    limit(
        &state,
        &format!("signin-choose:phone:{}", who.phone.as_str()),
        PER_PHONE,
    )
    .await?;
    let started = state
        .sign_ins
        .identify(&state.db, &who, body.channel)
        .await?;
    Ok(HttpResponse::Created().json(pending(started)))
}

/// `POST /v1/auth/sign-ins/{id}/code`: another code (at most five per sign-in).
#[tracing::instrument(skip_all)]
pub async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<ResendBody>,
) -> Result<HttpResponse, ApiError> {
    limit_ip(&state, &req).await?;
    let again = state.sign_ins.resend(&state.db, *id, body.channel).await?;
    Ok(HttpResponse::Accepted().json(pending(again)))
}

/// `POST /v1/auth/sign-ins/{id}/verify`: the code; the person's certificates and a
/// single-use selection ticket.
#[tracing::instrument(skip_all)]
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<SignInCodeBody>,
) -> Result<HttpResponse, ApiError> {
    if crate::auth::otp::parse_code(&body.code).is_none() {
        return Err(bad("a code is 6 digits"));
    }
    limit_ip(&state, &req).await?;
    let verified = state.sign_ins.verify(&state.db, *id, &body.code).await?;
    let mut certificates = Vec::new();
    for owner in &verified.owners {
        certificates.extend(state.pki.certificates(&state.db, owner).await?);
    }
    certificates.sort_by_key(|c| std::cmp::Reverse(c.not_before));
    Ok(HttpResponse::Ok().json(SignInChoice {
        ticket: verified.ticket,
        ticket_expires_at: verified.ticket_expires_at,
        certificates: certificates
            .into_iter()
            .map(|c| SignInCertificate {
                id: c.id,
                kind: c.kind,
                usage: c.usage,
                storage: c.storage,
                status: c.status,
                subject: c.subject,
                issuer: c.issuer,
                not_after: c.not_after,
                expires_in_secs: c.expires_in_secs,
            })
            .collect(),
    }))
}
