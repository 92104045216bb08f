//! HTTP handlers, one file per resource: extract, parse into domain types, call one function,
//! map the result. No SQL and no business rules here.
//!
//! [`endpoints`] is the route table and the single source of truth for which routes exist:
//! `startup` builds the app from it and a test holds it against `openapi.yaml`.

mod approvals;
mod audit;
mod auth;
mod certificates;
mod consents;
mod csc;
mod csc_authorizations;
mod dev;
mod device_copies;
mod enrolments;
pub mod extract;
mod foreign;
mod health;
mod idempotent;
mod institutions;
mod meta;
pub mod oauth;
mod passkeys;
mod pki;
mod sign_ins;
mod terms;
mod wire;

use std::collections::BTreeMap;

use actix_web::{
    HttpResponse, Route,
    http::{Method, header},
    web,
};

use crate::error::ApiError;

/// One route: a method on a path (actix path syntax, which matches OpenAPI's `{param}`).
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path pattern.
    pub path: &'static str,
    handler: fn() -> Route,
}

const fn endpoint(method: Method, path: &'static str, handler: fn() -> Route) -> Endpoint {
    Endpoint {
        method,
        path,
        handler,
    }
}

/// Every route the service answers.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(Method::GET, "/healthz", || web::route().to(health::healthz)),
        endpoint(Method::GET, "/readyz", || web::route().to(health::readyz)),
        endpoint(Method::GET, METRICS_PATH, || web::route().to(meta::metrics)),
        endpoint(Method::GET, "/openapi.yaml", || {
            web::route().to(meta::openapi)
        }),
        endpoint(Method::GET, "/v1/audit/checkpoints", || {
            web::route().to(audit::checkpoints)
        }),
        endpoint(Method::GET, "/v1/audit/keys", || {
            web::route().to(audit::keys)
        }),
        endpoint(Method::GET, "/v1/terms", || {
            web::route().to(terms::list_current)
        }),
        endpoint(Method::GET, "/pki/ca/{name}", || {
            web::route().to(pki::ca_certificate)
        }),
        endpoint(Method::GET, "/pki/crl/issuing.crl", || {
            web::route().to(pki::crl)
        }),
        endpoint(Method::GET, "/pki/crl/root.crl", || {
            web::route().to(pki::arl)
        }),
        endpoint(Method::POST, "/pki/ocsp", || {
            web::route().to(pki::ocsp_post)
        }),
        endpoint(Method::GET, "/.well-known/jwks.json", || {
            web::route().to(auth::jwks)
        }),
        endpoint(Method::POST, "/v1/auth/sign-ins", || {
            web::route().to(sign_ins::identify)
        }),
        endpoint(Method::POST, "/v1/auth/sign-ins/{id}/code", || {
            web::route().to(sign_ins::resend)
        }),
        endpoint(Method::POST, "/v1/auth/sign-ins/{id}/verify", || {
            web::route().to(sign_ins::verify)
        }),
        endpoint(Method::POST, "/v1/auth/pin", || {
            web::route().to(auth::pin_login)
        }),
        endpoint(Method::POST, "/v1/auth/resume", || {
            web::route().to(auth::resume)
        }),
        endpoint(Method::POST, "/v1/auth/device/challenge", || {
            web::route().to(auth::device_challenge)
        }),
        endpoint(Method::POST, "/v1/auth/device", || {
            web::route().to(auth::device_login)
        }),
        endpoint(Method::POST, "/v1/auth/refresh", || {
            web::route().to(auth::refresh)
        }),
        endpoint(Method::POST, "/v1/auth/logout", || {
            web::route().to(auth::logout)
        }),
        endpoint(Method::GET, "/v1/certificates", || {
            web::route().to(certificates::list)
        }),
        endpoint(Method::GET, "/v1/certificates/{id}", || {
            web::route().to(certificates::get)
        }),
        endpoint(Method::POST, "/v1/certificates/{id}/revoke", || {
            web::route().to(certificates::revoke)
        }),
        endpoint(Method::POST, "/v1/certificates/{id}/suspend", || {
            web::route().to(certificates::suspend)
        }),
        endpoint(Method::POST, "/v1/certificates/{id}/resume", || {
            web::route().to(certificates::resume)
        }),
        endpoint(Method::POST, "/v1/certificates/{id}/renew", || {
            web::route().to(certificates::renew)
        }),
        endpoint(Method::POST, "/v1/certificates/{id}/pin", || {
            web::route().to(certificates::change_pin)
        }),
        endpoint(Method::GET, "/v1/certificates/{id}/history", || {
            web::route().to(certificates::history)
        }),
        endpoint(Method::GET, "/v1/certificates/{id}/history.csv", || {
            web::route().to(certificates::history_csv)
        }),
        endpoint(Method::GET, "/v1/fees", || {
            web::route().to(certificates::fees)
        }),
        endpoint(Method::GET, "/v1/certificates/{id}/auto-renewal", || {
            web::route().to(certificates::auto_renewal)
        }),
        endpoint(Method::PUT, "/v1/certificates/{id}/auto-renewal", || {
            web::route().to(certificates::set_auto_renewal)
        }),
        endpoint(Method::GET, "/v1/pricing", || {
            web::route().to(certificates::pricing)
        }),
        endpoint(Method::GET, "/v1/foreign-certificates", || {
            web::route().to(foreign::list)
        }),
        endpoint(Method::POST, "/v1/foreign-certificates", || {
            web::route().to(foreign::register)
        }),
        endpoint(Method::POST, "/v1/foreign-certificates/npki", || {
            web::route().to(foreign::import_npki)
        }),
        endpoint(Method::POST, "/v1/foreign-certificates/pkcs12", || {
            web::route().to(foreign::import_pkcs12)
        }),
        endpoint(Method::POST, "/v1/enrolments", || {
            web::route().to(enrolments::start)
        }),
        endpoint(Method::GET, "/v1/enrolments/{id}", || {
            web::route().to(enrolments::get)
        }),
        endpoint(Method::POST, "/v1/enrolments/{id}/terms", || {
            web::route().to(enrolments::terms)
        }),
        endpoint(Method::POST, "/v1/enrolments/{id}/identity", || {
            web::route().to(enrolments::identity)
        }),
        endpoint(Method::POST, "/v1/enrolments/{id}/phone-code", || {
            web::route().to(enrolments::send_code)
        }),
        endpoint(
            Method::POST,
            "/v1/enrolments/{id}/phone-code/verify",
            || web::route().to(enrolments::verify_code),
        ),
        endpoint(Method::GET, "/v1/enrolments/{id}/media", || {
            web::route().to(enrolments::registered_media)
        }),
        endpoint(Method::GET, "/v1/enrolments/{id}/medium", || {
            web::route().to(enrolments::medium_challenge)
        }),
        endpoint(Method::POST, "/v1/enrolments/{id}/medium", || {
            web::route().to(enrolments::medium_answer)
        }),
        endpoint(Method::POST, "/v1/enrolments/{id}/complete", || {
            web::route().to(enrolments::complete)
        }),
        endpoint(
            Method::POST,
            "/v1/enrolments/{id}/pin-reset/passkey",
            || web::route().to(enrolments::pin_reset_passkey),
        ),
        endpoint(Method::POST, "/v1/enrolments/{id}/pin-reset", || {
            web::route().to(enrolments::pin_reset)
        }),
        endpoint(Method::POST, "/v1/passkeys/register/start", || {
            web::route().to(passkeys::register_start)
        }),
        endpoint(Method::POST, "/v1/passkeys/register/finish", || {
            web::route().to(passkeys::register_finish)
        }),
        endpoint(Method::GET, "/v1/passkeys", || {
            web::route().to(passkeys::list)
        }),
        endpoint(Method::DELETE, "/v1/passkeys/{id}", || {
            web::route().to(passkeys::remove)
        }),
        endpoint(Method::POST, "/v1/auth/passkey/start", || {
            web::route().to(passkeys::sign_in_start)
        }),
        endpoint(Method::POST, "/v1/auth/passkey/finish", || {
            web::route().to(passkeys::sign_in_finish)
        }),
        endpoint(Method::POST, "/oauth2/token", || {
            web::route().to(oauth::token)
        }),
        endpoint(Method::GET, "/v1/institutions", || {
            web::route().to(consents::directory)
        }),
        endpoint(Method::GET, "/v1/consents", || {
            web::route().to(consents::list)
        }),
        endpoint(Method::POST, "/v1/consents", || {
            web::route().to(consents::give)
        }),
        endpoint(Method::DELETE, "/v1/consents/{id}", || {
            web::route().to(consents::withdraw)
        }),
        endpoint(Method::GET, "/v1/institution/certificates", || {
            web::route().to(institutions::certificates)
        }),
        endpoint(Method::POST, "/v1/signature-requests", || {
            web::route().to(institutions::create)
        }),
        endpoint(Method::GET, "/v1/signature-requests/{id}", || {
            web::route().to(institutions::get)
        }),
        endpoint(
            Method::GET,
            "/v1/signature-requests/{id}/deliveries",
            || web::route().to(institutions::deliveries),
        ),
        endpoint(Method::POST, "/v1/login-requests", || {
            web::route().to(institutions::login)
        }),
        endpoint(Method::POST, "/v1/verify", || {
            web::route().to(institutions::verify)
        }),
        endpoint(Method::GET, "/v1/approvals", || {
            web::route().to(approvals::pending)
        }),
        endpoint(Method::GET, "/v1/approvals/{id}", || {
            web::route().to(approvals::get)
        }),
        endpoint(Method::POST, "/v1/approvals/{id}/approve", || {
            web::route().to(approvals::approve)
        }),
        endpoint(Method::POST, "/v1/approvals/{id}/passkey/start", || {
            web::route().to(approvals::passkey_start)
        }),
        endpoint(Method::POST, "/v1/approvals/{id}/passkey/finish", || {
            web::route().to(approvals::passkey_finish)
        }),
        endpoint(Method::GET, "/v1/approvals/{id}/device", || {
            web::route().to(approvals::device_to_sign)
        }),
        endpoint(Method::POST, "/v1/approvals/{id}/device", || {
            web::route().to(approvals::device_approve)
        }),
        endpoint(Method::POST, "/v1/device-copies", || {
            web::route().to(device_copies::create)
        }),
        endpoint(Method::POST, "/v1/device-copies/claim", || {
            web::route().to(device_copies::claim)
        }),
        endpoint(Method::POST, "/v1/approvals/{id}/reject", || {
            web::route().to(approvals::reject)
        }),
        endpoint(Method::GET, "/v1/csc-authorizations/{id}", || {
            web::route().to(csc_authorizations::get)
        }),
        endpoint(Method::POST, "/v1/csc-authorizations/{id}/approve", || {
            web::route().to(csc_authorizations::approve)
        }),
        endpoint(
            Method::POST,
            "/v1/csc-authorizations/{id}/passkey/start",
            || web::route().to(csc_authorizations::passkey_start),
        ),
        endpoint(
            Method::POST,
            "/v1/csc-authorizations/{id}/passkey/finish",
            || web::route().to(csc_authorizations::passkey_finish),
        ),
        endpoint(Method::POST, "/v1/csc-authorizations/{id}/allow", || {
            web::route().to(csc_authorizations::allow)
        }),
        endpoint(Method::POST, "/v1/csc-authorizations/{id}/refuse", || {
            web::route().to(csc_authorizations::refuse)
        }),
        endpoint(Method::POST, "/csc/v1/info", || {
            web::route().to(csc::v1_info)
        }),
        endpoint(Method::POST, "/csc/v1/oauth2/token", || {
            web::route().to(csc::v1_token)
        }),
        endpoint(Method::GET, "/csc/v1/oauth2/authorize", || {
            web::route().to(csc::v1_oauth_authorize)
        }),
        endpoint(Method::POST, "/csc/v1/oauth2/revoke", || {
            web::route().to(csc::v1_revoke)
        }),
        endpoint(Method::POST, "/csc/v1/credentials/list", || {
            web::route().to(csc::v1_list)
        }),
        endpoint(Method::POST, "/csc/v1/credentials/info", || {
            web::route().to(csc::v1_credential_info)
        }),
        endpoint(Method::POST, "/csc/v1/credentials/authorize", || {
            web::route().to(csc::v1_authorize)
        }),
        endpoint(
            Method::POST,
            "/csc/v1/credentials/extendTransaction",
            || web::route().to(csc::v1_extend),
        ),
        endpoint(Method::POST, "/csc/v1/signatures/signHash", || {
            web::route().to(csc::v1_sign_hash)
        }),
        endpoint(Method::POST, "/csc/v2/info", || {
            web::route().to(csc::v2_info)
        }),
        endpoint(Method::POST, "/csc/v2/oauth2/token", || {
            web::route().to(csc::v2_token)
        }),
        endpoint(Method::GET, "/csc/v2/oauth2/authorize", || {
            web::route().to(csc::v2_oauth_authorize)
        }),
        endpoint(Method::POST, "/csc/v2/oauth2/revoke", || {
            web::route().to(csc::v2_revoke)
        }),
        endpoint(Method::POST, "/csc/v2/credentials/list", || {
            web::route().to(csc::v2_list)
        }),
        endpoint(Method::POST, "/csc/v2/credentials/info", || {
            web::route().to(csc::v2_credential_info)
        }),
        endpoint(Method::POST, "/csc/v2/credentials/authorize", || {
            web::route().to(csc::v2_authorize)
        }),
        endpoint(
            Method::POST,
            "/csc/v2/credentials/extendTransaction",
            || web::route().to(csc::v2_extend),
        ),
        endpoint(Method::POST, "/csc/v2/signatures/signHash", || {
            web::route().to(csc::v2_sign_hash)
        }),
        endpoint(Method::POST, "/csc/v2/signatures/signDoc", || {
            web::route().to(csc::v2_sign_doc)
        }),
        endpoint(Method::POST, "/csc/v2/signatures/signPolling", || {
            web::route().to(csc::v2_sign_polling)
        }),
        endpoint(Method::GET, "/", || {
            web::route().to(crate::portal::redirect)
        }),
        endpoint(Method::GET, "/portal", || {
            web::route().to(crate::portal::redirect)
        }),
        endpoint(Method::GET, "/portal/", || {
            web::route().to(crate::portal::index)
        }),
        endpoint(Method::GET, "/portal/app.js", || {
            web::route().to(crate::portal::script)
        }),
        endpoint(Method::GET, "/portal/device.js", || {
            web::route().to(crate::portal::device_script)
        }),
        endpoint(Method::GET, "/portal/csc.js", || {
            web::route().to(crate::portal::csc_script)
        }),
        endpoint(Method::GET, "/portal/app.css", || {
            web::route().to(crate::portal::style)
        }),
        endpoint(Method::GET, "/dev/outbox/{phone}", || {
            web::route().to(dev::outbox)
        }),
        endpoint(Method::GET, "/pki/ocsp/{request:.+}", || {
            web::route().to(pki::ocsp_get)
        }),
    ]
}

/// For the fuzz targets (`crate::fuzzing`): the request readers of the CSC routes and of
/// `GET /pki/ocsp/{request}`.
#[doc(hidden)]
pub use self::{
    csc::{Method as CscMethod, Version as CscVersion, read_request as read_csc_request},
    pki::decode_get_request as decode_ocsp_get,
};
pub use meta::metrics;

/// The path of the Prometheus exposition.
pub const METRICS_PATH: &str = "/metrics";

/// Registers every endpoint, one resource per path, each answering 405 problem+json (with
/// `Allow`) for methods it does not serve. Without `public_metrics` (a separate metrics
/// listener is configured) `/metrics` is left out, so the public port answers it 404.
pub fn configure(public_metrics: bool) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| configure_routes(cfg, public_metrics)
}

fn configure_routes(cfg: &mut web::ServiceConfig, public_metrics: bool) {
    let mut by_path: BTreeMap<&'static str, Vec<Endpoint>> = BTreeMap::new();
    for e in endpoints() {
        if e.path == METRICS_PATH && !public_metrics {
            continue;
        }
        by_path.entry(e.path).or_default().push(e);
    }
    for (path, routes) in by_path {
        let allow = routes
            .iter()
            .map(|e| e.method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource = web::resource(path);
        for e in routes {
            let method = e.method.clone();
            resource = resource.route((e.handler)().method(method));
        }
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                let mut resp: HttpResponse =
                    actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
                if let Ok(value) = header::HeaderValue::from_str(&allow) {
                    resp.headers_mut().insert(header::ALLOW, value);
                }
                resp
            }
        }));
        cfg.service(resource);
    }
}

/// Answer for paths no route has.
pub async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::RouteNotFound)
}
