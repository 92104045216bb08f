//! A webhook receiver on loopback, standing in for an institution's endpoint.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// A webhook receiver on loopback: answers 500 to the first `fail_first` calls, then 200, and
/// records every call's headers and body.
#[derive(Clone, Default)]
pub(super) struct Receiver {
    pub(super) calls: Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>,
}

impl Receiver {
    /// Whether call `i` carries the signature of its body (`X-Fincert-Signature` over
    /// `X-Fincert-Timestamp` and the body) made with `secret`; and that body.
    pub(super) fn signed_with(&self, i: usize, secret: &str) -> (bool, String) {
        let calls = self.calls.lock().unwrap();
        let (headers, body) = &calls[i];
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("call {i} has no {n}"))
        };
        let ts: i64 = header("x-fincert-timestamp").parse().unwrap();
        let expected = fincert::outbound::signature(secret.as_bytes(), ts, body.as_bytes());
        (header("x-fincert-signature") == expected, body.clone())
    }
}

pub(super) async fn receiver(
    fail_first: usize,
) -> (Receiver, String, actix_web::dev::ServerHandle) {
    let rx = Receiver::default();
    let state = rx.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let state = state.clone();
            async move {
                let mut calls = state.calls.lock().unwrap();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                calls.push((headers, String::from_utf8_lossy(&body).into_owned()));
                if calls.len() <= fail_first {
                    HttpResponse::InternalServerError().finish()
                } else {
                    HttpResponse::Ok().finish()
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (rx, format!("http://127.0.0.1:{port}/hooks/fincert"), handle)
}
