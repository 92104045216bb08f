//! Registering certificates issued by other CAs: by public certificate, or by importing a
//! PKCS#12 file or a Korean NPKI pair. Imports try passwords, so they are counted per user
//! (shared by every node) before any file is opened.

use actix_web::{HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::{
    Items,
    foreign::{ForeignView, ImportBody, NpkiImportBody, RegisterBody},
};
use zeroize::Zeroizing;

use super::{certificates::decode_der_or_pem, extract::User, wire};
use crate::{
    auth::rate_limit,
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
    let leaf = decode_der_or_pem(&body.certificate)?;
    let intermediates = intermediates(&body.intermediates)?;
    let view = state
        .pki
        .register_foreign(&state.db, &user.0, &leaf, &intermediates)
        .await?;
    Ok(HttpResponse::Created().json(ForeignView::from(view)))
}

/// Up to 5 intermediates, each base64 DER or PEM.
fn intermediates(raw: &[String]) -> Result<Vec<Vec<u8>>, ApiError> {
    if raw.len() > 5 {
        return Err(ApiError::InvalidJson("at most 5 intermediates".into()));
    }
    raw.iter()
        .map(|i| decode_der_or_pem(i))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|d| der_input::der_from(&d, PemRule::FirstLabelled(der_input::CERTIFICATE)).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::InvalidJson("an intermediate is not a certificate".into()))
}

/// Key-file imports (each a password guess) a user may try per window, on every node together.
const IMPORTS: rate_limit::Limit = rate_limit::Limit {
    max: 10,
    window_secs: 600,
};

/// Counts an import attempt of `user` (before the file is opened or the password tried).
async fn limit_import(state: &AppState, user: &User) -> Result<(), ApiError> {
    rate_limit::check(
        &state.db,
        &format!("import:user:{}", user.0.as_str()),
        IMPORTS,
        state.clock.now(),
    )
    .await??;
    Ok(())
}

fn base64_field(raw: &str, name: &str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    STANDARD
        .decode(raw.trim())
        .map(Zeroizing::new)
        .map_err(|_| ApiError::InvalidJson(format!("{name} is not base64")))
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
    let p12 = base64_field(&body.pkcs12, "pkcs12")?;
    let pin = Pin::parse_new(&body.pin, None).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    limit_import(&state, &user).await?;
    let view = state
        .pki
        .import_pkcs12(&state.db, &user.0, &p12, &body.password, &pin)
        .await?;
    Ok(HttpResponse::Created().json(ForeignView::from(view)))
}

/// `POST /v1/foreign-certificates/npki`: `signPri.key` is decrypted in memory (SEED-CBC),
/// the key (with its identity random `R`) re-sealed under KMS; neither file nor password is
/// stored.
#[tracing::instrument(skip_all)]
pub async fn import_npki(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<NpkiImportBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let cert = der_input::der_from(
        &decode_der_or_pem(&body.sign_cert)?,
        PemRule::FirstLabelled(der_input::CERTIFICATE),
    )
    .map_err(|_| ApiError::InvalidJson("sign_cert is not a certificate".into()))?;
    let mut certs = vec![cert];
    certs.extend(intermediates(&body.intermediates)?);
    let key_file = base64_field(&body.sign_pri, "sign_pri")?;
    let pin = Pin::parse_new(&body.pin, None).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    limit_import(&state, &user).await?;
    let view = state
        .pki
        .import_npki(&state.db, &user.0, certs, &key_file, &body.password, &pin)
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
