//! `GET /csc/v{1,2}/oauth2/authorize` (RFC 6749 §4.1.1 with PKCE, CSC's credential scope):
//! an unknown client or a redirect URI that is not registered exactly is answered here, as an
//! error page (JSON when asked for), and redirects nowhere; every other refusal goes back to
//! the redirect URI with `error`, `error_description` and `state` (§4.1.2.1). A good request
//! is stored and the browser is sent to the portal's consent page. `oauth2/revoke` (RFC 7009)
//! lives here too.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::Version;
use crate::{
    error::OAuthError,
    signing::csc_oauth::{Dialect, parse_ask, redirect_with, state_of},
    state::AppState,
};

/// The answer when the client or its redirect URI is wrong: never a redirect.
fn error_page(req: &HttpRequest, description: &str) -> HttpResponse {
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return OAuthError::invalid_request(description).into_response();
    }
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>fincert: authorization refused</title></head>\
         <body><h1>This authorization request cannot be answered</h1><p>error: invalid_request</p><p>{}</p>\
         <p>Return to the service you came from.</p></body></html>",
        html_escape(description)
    );
    HttpResponse::BadRequest()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

pub(super) async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    version: Version,
) -> HttpResponse {
    let Ok(web::Query(q)) = web::Query::<HashMap<String, String>>::from_query(req.query_string())
    else {
        return error_page(req, "The query is malformed");
    };
    let (Some(client_id), Some(redirect_uri)) = (q.get("client_id"), q.get("redirect_uri")) else {
        return error_page(req, "client_id and redirect_uri are required");
    };
    let client = match state
        .signing
        .oauth_client(&state.db, client_id, redirect_uri)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            if let Err(e) = state
                .signing
                .csc_oauth_invalid(&state.db, client_id, "unknown client or redirect URI")
                .await
            {
                return OAuthError::from(e).into_response();
            }
            return error_page(
                req,
                "The client is unknown or the redirect_uri is not registered for it",
            );
        }
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let dialect = match version {
        Version::V1 => Dialect::V1,
        Version::V2 => Dialect::V2,
    };
    let ask = match parse_ask(&q, dialect, state.signing.max_batch()) {
        Ok(a) => a,
        Err(r) => {
            if let Err(e) = state
                .signing
                .csc_oauth_invalid(&state.db, &client.id, &r.description)
                .await
            {
                return OAuthError::from(e).into_response();
            }
            let to = redirect_with(
                redirect_uri,
                &[("error", r.error), ("error_description", &r.description)],
                state_of(&q).as_deref(),
            );
            return found(&to);
        }
    };
    match state
        .signing
        .csc_oauth_begin(&state.db, &client, redirect_uri, &ask)
        .await
    {
        Ok(Some(id)) => found(&format!("/portal/#/csc/{id}")),
        Ok(None) => found(&redirect_with(
            redirect_uri,
            &[
                ("error", "invalid_request"),
                ("error_description", "Invalid parameter credentialID"),
            ],
            ask.state.as_deref(),
        )),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// `POST /csc/v{1,2}/oauth2/revoke` (RFC 7009): the client authenticates as at the token
/// endpoint; its own access tokens and credential tokens are revoked; any other token is
/// answered 200 too, so tokens cannot be probed.
pub(super) async fn revoke(state: &AppState, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let form = match super::oauth::parse_form(req, body) {
        Ok(f) => f,
        Err(why) => return OAuthError::invalid_request(why).into_response(),
    };
    let Some(token) = form.token.as_deref().filter(|t| !t.is_empty()) else {
        return OAuthError::invalid_request("token is required").into_response();
    };
    let client = match super::oauth::authenticated_client(state, req, &form).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let done = if token.contains('.') {
        match state
            .tokens
            .verify_for(token, crate::auth::tokens::Audience::Institution)
        {
            Ok(claims) if claims.sub == client.id => {
                let exp = chrono::DateTime::from_timestamp(claims.exp, 0)
                    .unwrap_or_else(|| state.clock.now());
                state
                    .signing
                    .revoke_access_token(&state.db, &client, &claims.jti, exp)
                    .await
            }
            _ => Ok(()),
        }
    } else {
        state
            .signing
            .revoke_credential_token(&state.db, &client, token)
            .await
    };
    match done {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}
