//! `POST /oauth2/token`: OAuth2 client credentials (RFC 6749 §4.4) for institutions. The
//! client authenticates with HTTP Basic or with `client_id`/`client_secret` in the form; errors
//! are RFC 6749 §5.2 JSON (`error`, `error_description`), as OAuth2 and CSC clients expect,
//! rendered by [`OAuthError`].

use actix_web::{HttpRequest, HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::oauth::{TokenRequest, TokenResponse};
use zeroize::Zeroizing;

use crate::{
    error::{Kind, OAuthError, OAuthErrorCode},
    signing::ClientAuth,
    state::AppState,
};

/// Client id and secret from `Authorization: Basic` (preferred) or the form.
fn client_credentials(
    req: &HttpRequest,
    form: &TokenRequest,
) -> Option<(String, Zeroizing<String>)> {
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

/// Which grants a token route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grants {
    /// `client_credentials` only (`/oauth2/token`).
    ClientCredentials,
    /// `client_credentials` and `authorization_code` with PKCE (the CSC token routes).
    WithCode,
}

/// The institution a token or revoke request authenticates as, or the RFC 6749 answer.
pub async fn authenticated_client(
    state: &AppState,
    req: &HttpRequest,
    form: &TokenRequest,
) -> Result<crate::store::signing::InstitutionRow, HttpResponse> {
    let Some((id, secret)) = client_credentials(req, form) else {
        return Err(OAuthError::new(
            Kind::Unauthorized,
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
        .into_response());
    };
    match state
        .signing
        .authenticate_client(&state.db, &id, &secret, None)
        .await
    {
        Ok(ClientAuth::Ok(row, _)) => Ok(*row),
        Ok(_) => Err(OAuthError::new(
            Kind::Unauthorized,
            OAuthErrorCode::InvalidClient,
            "client authentication failed",
        )
        .into_response()),
        Err(e) => Err(OAuthError::from(e).into_response()),
    }
}

/// `grant_type=authorization_code` (CSC): the code exchanged once for a credential token.
async fn exchange(state: &AppState, req: &HttpRequest, form: &TokenRequest) -> HttpResponse {
    let (Some(code), Some(verifier)) = (form.code.as_deref(), form.code_verifier.as_deref()) else {
        return OAuthError::invalid_request("code and code_verifier are required").into_response();
    };
    let client = match authenticated_client(state, req, form).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match state
        .signing
        .csc_oauth_exchange(
            &state.db,
            &client,
            code,
            verifier,
            form.redirect_uri.as_deref(),
        )
        .await
    {
        Ok(Ok((token, expires_in, scope))) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(TokenResponse {
                access_token: token.to_string(),
                token_type: "Bearer".into(),
                expires_in,
                scope: Some(scope.into()),
                refresh_token: None,
            }),
        Ok(Err(why)) => {
            OAuthError::new(Kind::BadRequest, OAuthErrorCode::InvalidGrant, why).into_response()
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// Shared by `/oauth2/token` and the CSC token routes.
pub async fn issue(
    state: &AppState,
    req: &HttpRequest,
    form: TokenRequest,
    grants: Grants,
) -> HttpResponse {
    if grants == Grants::WithCode && form.grant_type.as_deref() == Some("authorization_code") {
        return exchange(state, req, &form).await;
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return match form.grant_type {
            None => OAuthError::invalid_request("grant_type is required"),
            Some(_) => OAuthError::new(
                Kind::BadRequest,
                OAuthErrorCode::UnsupportedGrantType,
                match grants {
                    Grants::ClientCredentials => "only client_credentials is supported",
                    Grants::WithCode => {
                        "only client_credentials and authorization_code are supported"
                    }
                },
            ),
        }
        .into_response();
    }
    let Some((id, secret)) = client_credentials(req, &form) else {
        return OAuthError::new(
            Kind::Unauthorized,
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
        .into_response();
    };
    let auth = state
        .signing
        .authenticate_client(&state.db, &id, &secret, form.scope.as_deref())
        .await;
    match auth {
        Ok(ClientAuth::Ok(row, scope)) => match state.tokens.institution_token(&row.id, &scope) {
            Ok((token, expires_in)) => HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenResponse {
                    access_token: token,
                    token_type: "Bearer".into(),
                    expires_in,
                    scope: Some(scope),
                    refresh_token: None,
                }),
            Err(_) => OAuthError::new(
                Kind::Internal,
                OAuthErrorCode::ServerError,
                "the token could not be issued",
            )
            .into_response(),
        },
        Ok(ClientAuth::InvalidClient) => OAuthError::new(
            Kind::Unauthorized,
            OAuthErrorCode::InvalidClient,
            "client authentication failed",
        )
        .into_response(),
        Ok(ClientAuth::InvalidScope) => OAuthError::new(
            Kind::BadRequest,
            OAuthErrorCode::InvalidScope,
            "a requested scope is unknown or not granted to this client",
        )
        .into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// `POST /oauth2/token` (form-encoded, as RFC 6749 requires).
#[tracing::instrument(skip_all)]
pub async fn token(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match parse_form(&req, &body) {
        Ok(form) => issue(&state, &req, form, Grants::ClientCredentials).await,
        Err(why) => OAuthError::invalid_request(why).into_response(),
    }
}

/// A token request body: `application/x-www-form-urlencoded`, or JSON (some CSC v1 clients).
/// A PKCE verifier, when given, must have RFC 7636's shape whatever the grant.
pub fn parse_form(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, &'static str> {
    let form = read_form(req, body)?;
    if form
        .code_verifier
        .as_deref()
        .is_some_and(|v| !crate::signing::csc_oauth::is_pkce_verifier(v))
    {
        return Err(
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'",
        );
    }
    Ok(form)
}

fn read_form(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, &'static str> {
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
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| "the JSON body is malformed")?;
            // Every parameter is a string when present; serde would read `null` as absent.
            let fields = [
                "grant_type",
                "client_id",
                "client_secret",
                "scope",
                "code",
                "code_verifier",
                "redirect_uri",
                "token",
                "token_type_hint",
            ];
            if let Some(m) = value.as_object()
                && fields
                    .iter()
                    .any(|f| m.get(*f).is_some_and(|v| !v.is_string()))
            {
                return Err("every parameter is a string");
            }
            serde_json::from_value(value).map_err(|_| "the JSON body is malformed")
        }
        _ => Err("use application/x-www-form-urlencoded"),
    }
}
