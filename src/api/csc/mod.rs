//! The Cloud Signature Consortium API, v1 (1.0.4.0) under `/csc/v1` and v2 (2.0.0.2) under
//! `/csc/v2`: every method is a POST with a JSON body, errors are `{error, error_description}`
//! with the status codes and descriptions the specification gives (rendered by
//! `error::CscError`), so standard CSC clients (PDF signing tools) work unchanged. The routes
//! parse the wire format and call the same domain functions as the native API
//! (`signing::csc`).
//!
//! `params.rs` reads the loosely typed CSC bodies (the response bodies are the typed
//! `fincert_client::proto::csc` structs), `credentials.rs` answers `info` and the
//! `credentials/list|info` methods, `signatures.rs` answers `credentials/authorize`,
//! `extendTransaction`, `signHash` and (v2) `signDoc`; this file holds the routes and the
//! caller.

mod authorize;
mod credentials;
mod params;
mod signatures;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::Serialize;

use super::oauth;
use crate::{
    auth::tokens::{Audience, TokenError},
    error::{CscError, Kind, OAuthError, OAuthErrorCode},
    signing::{Caller, SigningError},
    state::AppState,
};
use credentials::{info, info_of, list};
pub use params::{Method, read_request};
use signatures::{authorize, extend, poll, sign_doc, sign_hash};

/// Which version of the API a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 1.0.4.0.
    V1,
    /// 2.0.0.2.
    V2,
}

/// A method's answer: its wire body (`fincert_client::proto::csc`) or the CSC error.
pub(super) type CscResult<T> = Result<T, CscError>;

/// Opens a CSC method call: the JSON body object (checked first, as every method answers a
/// malformed body before a bad token) and the institution behind the bearer token.
pub(super) async fn open(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(serde_json::Map<String, serde_json::Value>, Caller), CscError> {
    let m = params::body_object(req, body)?;
    let caller = caller(state, req).await?;
    Ok((m, caller))
}

/// The institution behind the bearer token, or the CSC 401.
pub(super) async fn caller(state: &AppState, req: &HttpRequest) -> Result<Caller, CscError> {
    let unauthorized = || {
        CscError::new(
            Kind::Unauthorized,
            OAuthErrorCode::InvalidToken,
            "The access token is not valid",
        )
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let token = token
        .strip_prefix("Bearer ")
        .ok_or_else(|| CscError::bad("Malformed authorization header"))?;
    if !token.contains('.') {
        // Not a JWT: a service token (user-authorized, scope `service`) acts for its holder.
        return service_caller(state, token).await?.ok_or_else(unauthorized);
    }
    let claims = state
        .tokens
        .verify_for(token, Audience::Institution)
        .map_err(|_: TokenError| unauthorized())?;
    if state.signing.access_token_revoked(&claims.jti).await? {
        return Err(unauthorized());
    }
    state
        .signing
        .caller(&claims.sub, &claims.scope)
        .await
        .map_err(|e| match e {
            // An outage is not a bad token: the client should retry, not re-authenticate.
            e @ SigningError::Store(_) => CscError::from(e),
            _ => unauthorized(),
        })
}

/// The caller behind a service token: its client, acting for its holder only (`None`: no
/// such live token).
async fn service_caller(state: &AppState, token: &str) -> Result<Option<Caller>, CscError> {
    let Some((institution, user)) = state.signing.service_token_owner(token).await? else {
        return Ok(None);
    };
    match state.signing.caller(&institution, "sign").await {
        Ok(mut caller) => {
            caller.user = Some(user);
            Ok(Some(caller))
        }
        Err(e @ SigningError::Store(_)) => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// Like [`open`], for `signatures/signHash` and `signDoc`, which also take a *credential token* (from the
/// authorization code flow, scope `credential`) as the bearer: then the caller is the
/// institution the token was issued to and the token is the SAD. Returns that token too.
pub(super) async fn open_signing(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<
    (
        serde_json::Map<String, serde_json::Value>,
        Caller,
        Option<String>,
    ),
    CscError,
> {
    let m = params::body_object(req, body)?;
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer.filter(|t| !t.contains('.')) {
        let Some(institution) = state.signing.credential_token_owner(token).await? else {
            // Not a credential token: a service token (then the SAD is a parameter).
            let caller = service_caller(state, token).await?.ok_or_else(|| {
                CscError::new(
                    Kind::Unauthorized,
                    OAuthErrorCode::InvalidToken,
                    "The access token is not valid",
                )
            })?;
            return Ok((m, caller, None));
        };
        let caller = state
            .signing
            .caller(&institution, "sign")
            .await
            .map_err(|e| match e {
                e @ SigningError::Store(_) => CscError::from(e),
                _ => CscError::new(
                    Kind::Unauthorized,
                    OAuthErrorCode::InvalidToken,
                    "The access token is not valid",
                ),
            })?;
        return Ok((m, caller, Some(token.to_owned())));
    }
    let caller = caller(state, req).await?;
    Ok((m, caller, None))
}

fn respond<T: Serialize>(result: CscResult<T>) -> HttpResponse {
    match result {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => e.into_response(),
    }
}

macro_rules! routes {
    ($v:expr, $info:ident, $token:ident, $oauth_authorize:ident, $revoke:ident, $list:ident, $cinfo:ident, $auth:ident, $ext:ident, $sign:ident) => {
        /// `info` (a body, when sent, must be a JSON object, like every method's).
        pub async fn $info(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            // `lang` asks for a language; the service answers in one (ko-KR), but a `lang`
            // that is not a string is refused like any other parameter of the wrong type.
            match params::body_object(&req, &body)
                .and_then(|m| params::opt_string(&m, "lang").map(drop))
            {
                Ok(()) => info(&state, $v).await,
                Err(e) => e.into_response(),
            }
        }
        /// `oauth2/token` (client credentials; form or JSON).
        pub async fn $token(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            match oauth::parse_form(&req, &body) {
                Ok(form) => oauth::issue(&state, &req, form, oauth::Grants::WithCode).await,
                Err(why) => OAuthError::invalid_request(why).into_response(),
            }
        }
        /// `oauth2/authorize` (GET; authorization code with PKCE S256).
        pub async fn $oauth_authorize(
            state: web::Data<AppState>,
            req: HttpRequest,
        ) -> HttpResponse {
            authorize::authorize(&state, &req, $v).await
        }
        /// `oauth2/revoke` (RFC 7009).
        pub async fn $revoke(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            authorize::revoke(&state, &req, &body).await
        }
        /// `credentials/list`.
        pub async fn $list(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(list(&state, &req, &body, $v).await)
        }
        /// `credentials/info`.
        pub async fn $cinfo(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(info_of(&state, &req, &body, $v).await)
        }
        /// `credentials/authorize`.
        pub async fn $auth(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(authorize(&state, &req, &body, $v).await)
        }
        /// `credentials/extendTransaction`.
        pub async fn $ext(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(extend(&state, &req, &body).await)
        }
        /// `signatures/signHash`.
        pub async fn $sign(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(sign_hash(&state, &req, &body, $v).await)
        }
    };
}

routes!(
    Version::V1,
    v1_info,
    v1_token,
    v1_oauth_authorize,
    v1_revoke,
    v1_list,
    v1_credential_info,
    v1_authorize,
    v1_extend,
    v1_sign_hash
);
routes!(
    Version::V2,
    v2_info,
    v2_token,
    v2_oauth_authorize,
    v2_revoke,
    v2_list,
    v2_credential_info,
    v2_authorize,
    v2_extend,
    v2_sign_hash
);

/// `signatures/signDoc` (2.0.0.2; 1.0.4.0 has no such method).
pub async fn v2_sign_doc(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    respond(sign_doc(&state, &req, &body).await)
}

/// `signatures/signPolling` (2.0.0.2): the answer of an asynchronous signHash or signDoc.
pub async fn v2_sign_polling(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    poll(&state, &req, &body).await
}
