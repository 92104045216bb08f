//! Registering certificates issued by other CAs.

use actix_web::{HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::{
    Items,
    foreign::{ForeignView, ImportBody, RegisterBody},
};
use zeroize::Zeroizing;

use super::{certificates::decode_der_or_pem, extract::User, wire};
use crate::{
    domain::{
        der_input::{self, PemRule},
        pin::Pin,
    },
    error::ApiError,
    state::AppState,
};

/// `POST /v1/foreign-certificates`.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.intermediates.len() > 5 {
        return Err(ApiError::InvalidJson("at most 5 intermediates".into()));
    }
    let leaf = decode_der_or_pem(&body.certificate)?;
    let intermediates = body
        .intermediates
        .iter()
        .map(|i| decode_der_or_pem(i))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|d| der_input::der_from(&d, PemRule::FirstLabelled(der_input::CERTIFICATE)).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::InvalidJson("an intermediate is not a certificate".into()))?;
    let view = state
        .pki
        .register_foreign(&state.db, &user.0, &leaf, &intermediates)
        .await?;
    Ok(HttpResponse::Created().json(ForeignView::from(view)))
}

/// `POST /v1/foreign-certificates/pkcs12`: the key is re-sealed under KMS; the file and its
/// password are not stored.
#[tracing::instrument(skip_all)]
pub async fn import_pkcs12(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<ImportBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let p12 = Zeroizing::new(
        STANDARD
            .decode(body.pkcs12.trim())
            .map_err(|_| ApiError::InvalidJson("pkcs12 is not base64".into()))?,
    );
    let pin = Pin::parse_new(&body.pin, None).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let view = state
        .pki
        .import_pkcs12(&state.db, &user.0, &p12, &body.password, &pin)
        .await?;
    Ok(HttpResponse::Created().json(ForeignView::from(view)))
}

/// `GET /v1/foreign-certificates`.
#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items: Items<ForeignView> =
        wire::items(state.pki.foreign_certificates(&state.db, &user.0).await?);
    Ok(HttpResponse::Ok().json(items))
}
