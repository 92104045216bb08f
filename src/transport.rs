//! What the service refuses about a request before any route reads it: a request target or
//! header section larger than it ever needs, and a path whose percent-encoding decodes to
//! bytes that are not UTF-8 (actix's router would read them as U+FFFD and route the mangled
//! path). Each refusal is an [`ApiError`] and so answers problem+json with a stable code.
//!
//! actix-http's HTTP/1 codec answers some requests itself, before any application code runs,
//! with an empty body (README "Transport refusals"): a request head over 128 KiB or with more
//! than 96 header fields (431), and a request line or header it cannot parse — raw non-ASCII
//! bytes in the target, a control character in a header value, a missing `Host` (400). The
//! limits here are far below the codec's, so every oversized head the codec lets through is
//! refused here with a problem.

use actix_web::{
    Error,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};

use crate::error::ApiError;

/// The longest request target (path and query, as sent) read: 8 KiB, nginx's default line
/// buffer. The longest the API needs is an OCSP GET (RFC 6960 suggests GET for requests under
/// 255 bytes) and a history query; both are far shorter.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header bytes read (every name and value, plus 4 per field for `: ` and CRLF):
/// 16 KiB. A bearer token, a passkey ticket and a proxy's forwarding headers fit many times.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The refusal for a request the service will not read, if any.
pub fn refusal(req: &actix_web::dev::RequestHead) -> Option<ApiError> {
    let target = req
        .uri
        .path_and_query()
        .map_or(req.uri.path().len(), |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    let headers: usize = req
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        });
    }
    if !decodes_to_utf8(req.uri.path()) {
        return Some(ApiError::InvalidPath(
            "the path's percent-encoding does not decode to UTF-8".into(),
        ));
    }
    None
}

/// Middleware: answers [`refusal`]'s problem without calling the routes.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(err) = refusal(req.head()) {
        let resp = actix_web::ResponseError::error_response(&err);
        return Ok(req.into_response(resp));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Whether `path`, percent-decoded, is UTF-8 (a `%` not followed by two hex digits is taken
/// literally, as actix's router and the `percent-encoding` crate both take it).
fn decodes_to_utf8(path: &str) -> bool {
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_decode_to_utf8() {
        assert!(decodes_to_utf8("/v1/certificates/abc"));
        assert!(decodes_to_utf8("/v1/%ED%99%8D"), "홍 percent-encoded");
        assert!(decodes_to_utf8("/pki/ocsp/MEow%2BSDA%3D"));
        assert!(decodes_to_utf8("/v1/100%"), "a lone % is literal");
        assert!(decodes_to_utf8("/v1/%zz"));
        assert!(!decodes_to_utf8("/v1/certificates/%FF%FE"));
        assert!(!decodes_to_utf8("/v1/%ED%A0%80"), "an encoded surrogate");
        assert!(!decodes_to_utf8("/v1/%C3"), "a truncated sequence");
    }

    #[test]
    fn oversized_targets_and_headers_are_refused() {
        let head = |uri: String, header: usize| {
            let req = actix_web::test::TestRequest::get()
                .uri(&uri)
                .insert_header(("x-big", "a".repeat(header)))
                .to_srv_request();
            refusal(req.head()).map(|e| e.code().as_str().to_owned())
        };
        assert_eq!(head("/healthz".into(), 10), None);
        let long = format!("/healthz?q={}", "a".repeat(MAX_URI_BYTES));
        assert_eq!(head(long, 10).as_deref(), Some("uri_too_long"));
        let at_limit = format!("/healthz?q={}", "a".repeat(MAX_URI_BYTES - 11));
        assert_eq!(head(at_limit, 10), None);
        assert_eq!(
            head("/healthz".into(), MAX_HEADER_BYTES).as_deref(),
            Some("headers_too_large")
        );
        assert_eq!(head("/v1/%FF".into(), 10).as_deref(), Some("invalid_path"));
    }
}
