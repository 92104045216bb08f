//! `POST /oauth2/token`: OAuth2 client credentials (RFC 6749 §4.4) for institutions. The
//! client authenticates with HTTP Basic or with `client_id`/`client_secret` in the form; errors
//! are RFC 6749 §5.2 JSON (`error`, `error_description`), as OAuth2 and CSC clients expect.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::{signing::ClientAuth, state::AppState};

/// The token request (form or JSON).
#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Zeroizing<String>>,
    scope: Option<String>,
}

/// An RFC 6749 error answer.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        resp.insert_header(("WWW-Authenticate", "Basic realm=\"fincert\""));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.insert_header(("Retry-After", crate::error::RETRY_AFTER_SECS));
    }
    resp.insert_header(("Cache-Control", "no-store"))
        .json(json!({"error": error, "error_description": description}))
}

/// Client id and secret from `Authorization: Basic` (preferred) or the form.
fn client_credentials(req: &HttpRequest, form: &TokenForm) -> Option<(String, Zeroizing<String>)> {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .map(Zeroizing::new)
        .and_then(|raw| {
            let text = std::str::from_utf8(&raw).ok()?;
            let (id, secret) = text.split_once(':')?;
            Some((id.to_owned(), Zeroizing::new(secret.to_owned())))
        });
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

/// Shared by `/oauth2/token` and the CSC token routes.
pub async fn issue(state: &AppState, req: &HttpRequest, form: TokenForm) -> HttpResponse {
    if form.grant_type.as_deref() != Some("client_credentials") {
        return match form.grant_type {
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ),
            Some(_) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            ),
        };
    }
    let Some((id, secret)) = client_credentials(req, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication is required",
        );
    };
    let auth = state
        .signing
        .authenticate_client(&state.db, &id, &secret, form.scope.as_deref())
        .await;
    match auth {
        Ok(ClientAuth::Ok(row, scope)) => match state.tokens.institution_token(&row.id, &scope) {
            Ok((token, expires_in)) => HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(fincert_client::types::TokenResponse {
                    access_token: token,
                    token_type: "Bearer".into(),
                    expires_in,
                    scope: Some(scope),
                    refresh_token: None,
                }),
            Err(_) => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be issued",
            ),
        },
        Ok(ClientAuth::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ),
        Ok(ClientAuth::InvalidScope) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "a requested scope is unknown or not granted to this client",
        ),
        Err(crate::signing::SigningError::Limited(l)) => oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            &format!(
                "too many token requests; retry in {} seconds",
                l.retry_after_secs
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "token endpoint failed");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "retry later",
            )
        }
    }
}

/// `POST /oauth2/token` (form-encoded, as RFC 6749 requires).
#[tracing::instrument(skip_all)]
pub async fn token(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match parse_form(&req, &body) {
        Ok(form) => issue(&state, &req, form).await,
        Err(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    }
}

/// A token request body: `application/x-www-form-urlencoded`, or JSON (some CSC v1 clients).
pub fn parse_form(req: &HttpRequest, body: &[u8]) -> Result<TokenForm, &'static str> {
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ctype.as_str() {
        "application/x-www-form-urlencoded" => {
            serde_urlencoded::from_bytes(body).map_err(|_| "the form is malformed")
        }
        "application/json" => {
            serde_json::from_slice(body).map_err(|_| "the JSON body is malformed")
        }
        _ => Err("use application/x-www-form-urlencoded"),
    }
}
