//! The certificate centre in the browser: a small single-page front end — one HTML page, one
//! stylesheet, one ES module, no build step, nothing loaded from outside — served by the same
//! binary under `/portal/`. It calls only the public JSON API, so it can do nothing a client
//! could not. Strict headers: a content security policy that allows this origin only, no
//! framing, no referrer.

use actix_web::{HttpResponse, http::header};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const DEVICE: &str = include_str!("assets/device.js");
const CSC: &str = include_str!("assets/csc.js");
const STYLE: &str = include_str!("assets/app.css");

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// `GET /portal/`: the page.
pub async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /portal/app.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /portal/device.js`: certificates kept in the browser (imported by app.js).
pub async fn device_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", DEVICE)
}

/// `GET /portal/csc.js`: the CSC consent page (imported by app.js).
pub async fn csc_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CSC)
}

/// `GET /portal/app.css`.
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /` and `GET /portal`: to the portal.
pub async fn redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/portal/"))
        .finish()
}
