//! Public PKI material: CA certificates, the CRL and the root's ARL, and the OCSP responder (RFC 6960, GET and
//! POST). No authentication: relying parties everywhere fetch these.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};

use crate::{error::ApiError, state::AppState};

const OCSP_REQUEST: &str = "application/ocsp-request";
const OCSP_RESPONSE: &str = "application/ocsp-response";
const MAX_OCSP_REQUEST: usize = 4096;

/// `root.crt`, `issuing.crt` or `ocsp.crt` as DER; `chain.pem` as issuing + root PEM.
pub async fn ca_certificate(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if name == "chain.pem" {
        let pem: String = ["issuing", "root"]
            .iter()
            .filter_map(|n| state.pki.ca_certificate(n))
            .map(crate::pki::x509::pem_certificate)
            .collect();
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/pem-certificate-chain"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(pem));
    }
    let der = name
        .strip_suffix(".crt")
        .and_then(|n| state.pki.ca_certificate(n))
        .ok_or(ApiError::RouteNotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/pkix-cert"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(der.to_vec()))
}

/// The issuing CA's current CRL (DER).
#[tracing::instrument(skip_all)]
pub async fn crl(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let der = state.pki.current_crl(&state.db).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/pkix-crl"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(der))
}

/// The root CA's current CRL, the ARL (DER): the issuing CA's status.
#[tracing::instrument(skip_all)]
pub async fn arl(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let der = state.pki.current_arl(&state.db).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/pkix-crl"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(der))
}

fn ocsp_response(der: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, OCSP_RESPONSE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(der)
}

/// OCSP over POST: the DER request is the body.
#[tracing::instrument(skip_all)]
pub async fn ocsp_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ctype.starts_with(OCSP_REQUEST) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if body.len() > MAX_OCSP_REQUEST {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_OCSP_REQUEST,
        });
    }
    Ok(ocsp_response(state.pki.ocsp(&state.db, &body).await))
}

/// OCSP over GET: the path holds the base64 (then URL-encoded) DER request (RFC 6960 A.1).
#[tracing::instrument(skip_all)]
pub async fn ocsp_get(
    state: web::Data<AppState>,
    request: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let encoded = request.into_inner();
    if encoded.len() > MAX_OCSP_REQUEST * 2 {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_OCSP_REQUEST,
        });
    }
    let der = match STANDARD.decode(encoded.replace(' ', "+")) {
        Ok(der) => der,
        // A malformed request still gets an OCSP answer, as responders must give.
        Err(_) => return Ok(ocsp_response(crate::pki::ocsp::malformed())),
    };
    Ok(ocsp_response(state.pki.ocsp(&state.db, &der).await))
}
