//! Failures of actix's extractors (bad JSON, oversized bodies, malformed query strings and
//! path parameters) as [`ApiError`]s, so they too answer problem+json. Messages never echo the
//! input: a mistyped field could hold a PIN.

use actix_web::http::header;

use super::ApiError;

/// Maps extractor failures (bad JSON, oversized bodies) to problems; installed on every
/// extractor config in `startup`.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit }
        }
        E::ContentType => ApiError::UnsupportedMediaType,
        E::Deserialize(e) => ApiError::InvalidJson(describe_serde(&e)),
        E::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::PayloadTooLarge { limit: 0 }
        }
        other => ApiError::InvalidJson(other.to_string()),
    };
    api.into()
}

/// Parses a JSON body read as bytes (routes that also fingerprint the raw body), with the
/// same safe error messages as the JSON extractor.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim() == "application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(describe_serde(&e)))
}

/// serde_json's message without echoing input. Its data errors quote the offending value
/// (`invalid type: string "482915", expected ...`), which could be a PIN or an OTP: keep only
/// field names (from missing/unknown/duplicate-field messages) and the position.
fn describe_serde(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON at {at}"),
        Category::Data => {
            let msg = e.to_string();
            let field = ["missing field `", "unknown field `", "duplicate field `"]
                .iter()
                .find_map(|prefix| {
                    let rest = msg.strip_prefix(prefix)?;
                    let name = rest.split('`').next()?;
                    let ok = !name.is_empty()
                        && name.len() <= 64
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    ok.then(|| format!("{prefix}{name}`"))
                });
            match field {
                Some(f) => format!("{f} at {at}"),
                None => format!("a value has the wrong type or is out of range at {at}"),
            }
        }
        Category::Io => "could not read the body".into(),
    }
}

/// Maps query-string failures to problems.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidQuery(err.to_string()).into()
}

/// Maps path-parameter failures to problems.
pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidPath(err.to_string()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A secret sent with the wrong JSON type is never echoed back.
    #[test]
    fn json_errors_do_not_echo_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            pin: u32,
        }
        let err = serde_json::from_str::<Body>(r#"{"pin": "482915"}"#).unwrap_err();
        assert!(err.to_string().contains("482915"), "serde does quote it");
        let described = describe_serde(&err);
        assert!(!described.contains("482915"), "{described}");
        let missing = serde_json::from_str::<Body>("{}").unwrap_err();
        assert_eq!(
            describe_serde(&missing),
            "missing field `pin` at line 1 column 2"
        );
    }
}
