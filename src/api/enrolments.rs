//! The issuance procedure over HTTP (and the PIN reset, an enrolment of purpose `pin_reset`
//! whose last step is `pin-reset` instead of `complete`). The enrolment id is the capability
//! that ties the steps together; each step answers with the step that comes next.

use actix_web::{HttpRequest, HttpResponse, web};
use fincert_client::proto::enrolment::{
    CodeBody, CompleteBody, Completed, EnrolmentView, IdentityBody, MediumBody, MediumChallenge,
    MediumQuery, PinResetBody, PinResetDone, PinResetStartBody, RegisteredMedia, SendCodeBody,
    StartBody, TermsBody,
};

use crate::{
    auth::{
        identity::IdentityClaim,
        rate_limit::{self, Limit},
    },
    domain::person::{CustomerNumber, Phone, parse_birth_date},
    error::ApiError,
    pki::profile::HolderName,
    state::AppState,
};

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidJson(e.to_string())
}

/// `POST /v1/enrolments` (10 per minute per client IP).
#[tracing::instrument(skip_all)]
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<StartBody>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::extract::client_ip(&req, &state.settings);
    rate_limit::check(
        &state.db,
        &format!("enrol:ip:{ip}"),
        Limit {
            max: 10,
            window_secs: 60,
        },
        state.clock.now(),
    )
    .await??;
    let started = state.enrolments.start(&state.db, body.purpose).await?;
    Ok(HttpResponse::Created().json(EnrolmentView::from(started)))
}

/// `GET /v1/enrolments/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = state.enrolments.get(&state.db, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

/// `POST /v1/enrolments/{id}/terms`.
#[tracing::instrument(skip_all)]
pub async fn terms(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<TermsBody>,
) -> Result<HttpResponse, ApiError> {
    if body.agreed.len() > 20 {
        return Err(bad("at most 20 consents"));
    }
    let agreed: Vec<(String, i32)> = body
        .agreed
        .iter()
        .map(|c| (c.code.clone(), c.version))
        .collect();
    let enrolment = state
        .enrolments
        .agree_terms(&state.db, &id.to_string(), &agreed)
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

/// `POST /v1/enrolments/{id}/identity`.
#[tracing::instrument(skip_all)]
pub async fn identity(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<IdentityBody>,
) -> Result<HttpResponse, ApiError> {
    let claim = IdentityClaim {
        name: HolderName::parse(&body.name).map_err(bad)?,
        birth_date: parse_birth_date(&body.birth_date, state.clock.now().date_naive())
            .map_err(bad)?,
        phone: Phone::parse(&body.phone).map_err(bad)?,
        customer: CustomerNumber::parse(&body.customer_number).map_err(bad)?,
    };
    let enrolment = state
        .enrolments
        .verify_identity(&state.db, &id.to_string(), &claim)
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

/// `POST /v1/enrolments/{id}/phone-code`.
#[tracing::instrument(skip_all)]
pub async fn send_code(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<SendCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = state
        .enrolments
        .send_code(&state.db, &id.to_string(), body.channel)
        .await?;
    Ok(HttpResponse::Accepted().json(EnrolmentView::from(enrolment)))
}

/// `POST /v1/enrolments/{id}/phone-code/verify`.
#[tracing::instrument(skip_all)]
pub async fn verify_code(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    if crate::auth::otp::parse_code(&body.code).is_none() {
        return Err(bad("a code is 6 digits"));
    }
    let enrolment = state
        .enrolments
        .verify_code(&state.db, &id.to_string(), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

/// `GET /v1/enrolments/{id}/media`: the kinds of medium the customer holds.
#[tracing::instrument(skip_all)]
pub async fn registered_media(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let kinds = state
        .enrolments
        .registered_media(&state.db, &id.to_string())
        .await?;
    Ok(HttpResponse::Ok().json(RegisteredMedia { kinds }))
}

/// `GET /v1/enrolments/{id}/medium?kind=card`: a challenge (card cells) or nothing (OTP).
#[tracing::instrument(skip_all)]
pub async fn medium_challenge(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    q: web::Query<MediumQuery>,
) -> Result<HttpResponse, ApiError> {
    let challenge = state
        .enrolments
        .medium_challenge(&state.db, &id.to_string(), q.kind)
        .await?;
    Ok(HttpResponse::Ok().json(MediumChallenge::from(challenge)))
}

/// `POST /v1/enrolments/{id}/medium`.
#[tracing::instrument(skip_all)]
pub async fn medium_answer(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<MediumBody>,
) -> Result<HttpResponse, ApiError> {
    if body.answer.len() > 8 || !body.answer.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "an answer is 4 card digits or a 6-digit one-time password",
        ));
    }
    let enrolment = state
        .enrolments
        .medium_answer(
            &state.db,
            &id.to_string(),
            body.kind,
            &body.answer,
            body.device_id.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

/// `POST /v1/enrolments/{id}/complete`: 201 with the certificate (and a session for cloud keys).
#[tracing::instrument(skip_all)]
pub async fn complete(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<CompleteBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let csr = body
        .csr
        .as_deref()
        .map(super::certificates::decode_der_or_pem)
        .transpose()?;
    let choice = crate::auth::enrolment::CredentialChoice {
        kind: body.kind,
        usage: body.usage,
        pin: body.pin.as_deref().map(String::as_str),
        csr: csr.as_deref(),
        replaces: body.replaces,
        fee_confirmed_krw: body.fee_confirmed_krw,
    };
    let done = state
        .enrolments
        .complete(
            &state.db,
            &state.pki,
            &state.tokens,
            &id.to_string(),
            choice,
        )
        .await?;
    Ok(HttpResponse::Created().json(Completed::from(done)))
}

/// `POST /v1/enrolments/{id}/pin-reset/passkey`: a WebAuthn ceremony offering the passkeys
/// bound to the certificate's key; `409 reissuance_required` (with the fee) when there is none.
#[tracing::instrument(skip_all)]
pub async fn pin_reset_passkey(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<PinResetStartBody>,
) -> Result<HttpResponse, ApiError> {
    let ceremony = state
        .enrolments
        .pin_reset_challenge(
            &state.db,
            &state.pki,
            &state.pins,
            &state.passkeys,
            &id.to_string(),
            body.certificate_id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(ceremony))
}

/// `POST /v1/enrolments/{id}/pin-reset`: the bound passkey's assertion and the new PIN; the
/// PIN slot is made anew and the lock counter cleared.
#[tracing::instrument(skip_all)]
pub async fn pin_reset(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
    body: web::Json<PinResetBody>,
) -> Result<HttpResponse, ApiError> {
    let done = state
        .enrolments
        .reset_pin(
            &state.db,
            &state.pki,
            &state.pins,
            &state.passkeys,
            &id.to_string(),
            &body.ceremony_id,
            &body.credential,
            body.prf.as_deref().map(String::as_str),
            &body.new_pin,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PinResetDone {
        certificate_id: done.certificate_id,
        pin_reset: true,
    }))
}
