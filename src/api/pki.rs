//! Public PKI material: CA certificates, the CRL and the root's ARL, and the OCSP responder
//! (RFC 6960 POST and RFC 5019 GET with HTTP caching headers and conditional GET). No
//! authentication: relying parties everywhere fetch these.

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use aws_lc_rs::digest;
use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use chrono::{DateTime, Utc};

use crate::{
    error::{ApiError, ErrorCode, Kind},
    pki::ocsp::OcspAnswer,
    state::AppState,
};

const OCSP_REQUEST: &str = "application/ocsp-request";
const OCSP_RESPONSE: &str = "application/ocsp-response";
const MAX_OCSP_REQUEST: usize = 4096;

/// The longest OCSP GET request segment read, in characters once percent-decoded (base64 of a
/// 510-byte request: a few CertIDs and a nonce; even percent-encoded whole it stays under
/// `transport::MAX_URI_BYTES`).
const MAX_OCSP_GET_CHARS: usize = 680;

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

/// Base64 with either padding, in the standard or the URL-safe alphabet (RFC 5019 clients
/// send standard base64 URL-encoded; some send base64url).
fn lenient(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Percent-decodes a path segment; `None` on a broken escape or non-ASCII result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| s.is_ascii())
}

/// The DER request a GET path carries: percent-decoded, then base64 (standard or URL-safe,
/// padded or not; a space is a `+` a form encoder turned into one).
pub fn decode_get_request(encoded: &str) -> Option<Vec<u8>> {
    let text = percent_decode(encoded)?.replace(' ', "+");
    let engine = if text.contains(['-', '_']) {
        lenient(&alphabet::URL_SAFE)
    } else {
        lenient(&alphabet::STANDARD)
    };
    engine.decode(text).ok()
}

/// The strong entity tag of an answer: a hash of its bytes.
fn etag(der: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, der);
    format!("\"{}\"", hex::encode(&hash.as_ref()[..16]))
}

fn http_date(t: DateTime<Utc>) -> String {
    header::HttpDate::from(std::time::SystemTime::from(t)).to_string()
}

/// Whether an `If-None-Match` value names `tag` (or is `*`).
fn none_match(value: &str, tag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// The HTTP caching headers of an answer (RFC 5019 §6): cacheable until its nextUpdate,
/// identified by its hash, dated by its thisUpdate. Error answers are not cached.
fn caching(builder: &mut HttpResponseBuilder, answer: &OcspAnswer, tag: &str, now: DateTime<Utc>) {
    match (answer.this_update, answer.next_update) {
        (Some(this), Some(next)) => {
            let max_age = (next - now).num_seconds().max(0);
            builder
                .insert_header((
                    header::CACHE_CONTROL,
                    format!("max-age={max_age}, public, no-transform, must-revalidate"),
                ))
                .insert_header((header::ETAG, tag.to_owned()))
                .insert_header((header::LAST_MODIFIED, http_date(this)))
                .insert_header((header::EXPIRES, http_date(next)));
        }
        _ => {
            builder.insert_header((header::CACHE_CONTROL, "no-store"));
        }
    }
}

/// The HTTP answer for an OCSP answer: 304 (no body) when `if_none_match` names it.
fn ocsp_response(
    answer: OcspAnswer,
    if_none_match: Option<&str>,
    now: DateTime<Utc>,
) -> HttpResponse {
    let tag = etag(&answer.der);
    let cacheable = answer.next_update.is_some();
    if cacheable && if_none_match.is_some_and(|v| none_match(v, &tag)) {
        let mut builder = HttpResponse::build(StatusCode::NOT_MODIFIED);
        caching(&mut builder, &answer, &tag, now);
        return builder.finish();
    }
    let mut builder = HttpResponse::Ok();
    builder.insert_header((header::CONTENT_TYPE, OCSP_RESPONSE));
    caching(&mut builder, &answer, &tag, now);
    builder.body(answer.der)
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
    let answer = state.pki.ocsp_answer(&state.db, &body).await;
    Ok(ocsp_response(answer, None, state.clock.now()))
}

/// OCSP over GET (RFC 6960 A.1, RFC 5019 §5): the path holds the DER request in base64,
/// URL-encoded. Answers carry caching headers; `If-None-Match` with the answer's tag is a 304.
#[tracing::instrument(skip_all)]
pub async fn ocsp_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    request: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // The raw path, so that escaped `/`, `+` and `=` are decoded exactly once, here.
    let raw = req
        .uri()
        .path()
        .strip_prefix("/pki/ocsp/")
        .map_or_else(|| request.into_inner(), str::to_owned);
    // RFC 5019 §5: GET is for short requests, longer ones are POSTed. The limit counts the
    // decoded segment's characters, as openapi.yaml's maxLength does.
    if percent_decode(&raw).map_or(raw.len(), |t| t.chars().count()) > MAX_OCSP_GET_CHARS {
        return Err(ApiError::rule(
            Kind::UriTooLong,
            ErrorCode::UriTooLong,
            "Request target too long",
            format!(
                "an OCSP GET request is at most {MAX_OCSP_GET_CHARS} characters; POST longer ones"
            ),
        ));
    }
    let if_none_match = if_none_match(&req)?;
    let now = state.clock.now();
    let Some(der) = decode_get_request(&raw) else {
        // A malformed request still gets an OCSP answer, as responders must give.
        let answer = state.pki.ocsp_answer(&state.db, &[]).await;
        return Ok(ocsp_response(answer, None, now));
    };
    let answer = state.pki.ocsp_answer(&state.db, &der).await;
    Ok(ocsp_response(answer, if_none_match.as_deref(), now))
}

/// The longest `If-None-Match` read: a few of our tags (`"` + 64 hex digits + `"`) fit many
/// times over.
const MAX_IF_NONE_MATCH: usize = 1024;

/// The request's `If-None-Match`, when it is one this service could have a use for: visible
/// ASCII of at most [`MAX_IF_NONE_MATCH`] bytes; anything else is refused, never ignored.
fn if_none_match(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::IF_NONE_MATCH) else {
        return Ok(None);
    };
    let invalid = |problem: &str| ApiError::InvalidHeader {
        name: "If-None-Match",
        problem: problem.to_owned(),
    };
    if value.len() > MAX_IF_NONE_MATCH {
        return Err(invalid("longer than 1024 bytes"));
    }
    let text = value.to_str().map_err(|_| invalid("not visible ASCII"))?;
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_decode_in_every_base64_form() {
        let der = vec![0x30u8, 0xfb, 0xff, 0x3e, 0x00];
        let std = base64::engine::general_purpose::STANDARD.encode(&der);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
        assert!(std.contains(['+', '/']), "{std}");
        let escaped = std
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        for form in [std.clone(), escaped, url, std.replace('+', " ")] {
            assert_eq!(
                decode_get_request(&form).as_deref(),
                Some(der.as_slice()),
                "{form}"
            );
        }
        assert_eq!(decode_get_request("%zz"), None);
        assert_eq!(decode_get_request("%E2%82%AC"), None);
        assert_eq!(decode_get_request("!!!"), None);
    }

    #[test]
    fn if_none_match_lists_and_wildcards() {
        let tag = "\"abc\"";
        assert!(none_match("\"abc\"", tag));
        assert!(none_match("\"x\", W/\"abc\"", tag));
        assert!(none_match("*", tag));
        assert!(!none_match("\"abd\"", tag));
    }
}
