//! Copying a device-kept certificate to another device: the holder leaves an encrypted
//! package (signed in), the other device fetches it once with the code (no session yet).

use actix_web::{HttpRequest, HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::device_copies::{ClaimBody, CopyBody, CopyCreated, CopyPackage};

use super::extract::User;
use crate::{
    auth::{
        device_copy::{self, CopyError},
        rate_limit::{self, Limit},
    },
    error::ApiError,
    state::AppState,
};

/// `POST /v1/device-copies` (5 a minute per holder): 201 with the code.
#[tracing::instrument(skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<CopyBody>,
) -> Result<HttpResponse, ApiError> {
    rate_limit::check(
        &state.db,
        &format!("copy:owner:{}", user.0.as_str()),
        Limit {
            max: 5,
            window_secs: 60,
        },
        state.clock.now(),
    )
    .await??;
    let package = STANDARD
        .decode(body.package.as_bytes())
        .map_err(|_| ApiError::from(CopyError::Package))?;
    let created = device_copy::create(
        &state.db,
        &state.clock,
        &user.0,
        body.certificate_id,
        &package,
    )
    .await?;
    Ok(HttpResponse::Created().json(CopyCreated {
        code: created.code,
        expires_at: created.expires_at,
    }))
}

/// `POST /v1/device-copies/claim` (10 a minute per client address): the package, once.
#[tracing::instrument(skip_all)]
pub async fn claim(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ClaimBody>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::extract::client_ip(&req, &state.settings);
    rate_limit::check(
        &state.db,
        &format!("copy:ip:{ip}"),
        Limit {
            max: 10,
            window_secs: 60,
        },
        state.clock.now(),
    )
    .await??;
    let code = device_copy::parse_code(&body.code)
        .ok_or_else(|| ApiError::InvalidJson("code: 10 digits".into()))?;
    let fetched = device_copy::claim(&state.db, &state.clock, code, &ip).await?;
    Ok(HttpResponse::Ok().json(CopyPackage {
        certificate_id: fetched.certificate_id,
        certificate: STANDARD.encode(&fetched.certificate_der),
        package: STANDARD.encode(&fetched.package),
    }))
}
