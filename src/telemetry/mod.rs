//! Logs, request ids, metrics and readiness: everything an operator reads about a running node.
//!
//! Every request gets an id (the caller's `X-Request-Id` when it is well-formed, else a fresh
//! UUID) that is echoed in the response, put into problem bodies, and recorded on the
//! request's tracing span, which is entered for the whole handler: every event of the request
//! inherits it (text lines show the span; JSON lines, see `logs`, carry its fields at the top
//! level). The access line of each request names its route *pattern*, status, problem code
//! (when it failed) and latency. Request counts and latency histograms are kept per route
//! pattern (never per raw path, so ids in paths cannot blow up the label space); the other
//! families are in `crate::metrics` (a leaf, so custody and signing can count into it), the cached dependency probes behind `/readyz` in `readiness`.
//! Log lines never carry request bodies, headers or secrets.

mod logs;
mod readiness;

use std::time::Instant;

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    web,
};
use tracing::Instrument;
use tracing_subscriber::{
    EnvFilter,
    fmt::{self, format::JsonFields},
    prelude::*,
};

use crate::{
    config::{LogFormat, LogSettings},
    error::{ApiError, PROBLEM_JSON, ProblemCode},
};

pub use self::{
    logs::FlatJson,
    readiness::{PROBE_EVERY, Readiness, STALE_AFTER},
};
pub use crate::metrics::{
    CommitMetrics, Gauges, KmsMetrics, KmsOp, KmsOutcome, Metrics, Sampler, SignatureMetrics,
    SignatureResult,
};
pub use crate::request_id::{REQUEST_ID_HEADER, current_request_id};

/// Installs the global tracing subscriber. Later calls (tests) keep the first one.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Json => registry.with(json_layer(std::io::stdout)).try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
    };
}

/// The JSON log layer, writing to `writer` (stdout in `serve`; a buffer in tests).
pub fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_writer(writer)
}

/// The outermost middleware: request id, tracing span, metrics, access log, and the guarantee
/// that every error response is problem+json (framework-made 404/405/413s included).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = crate::request_id::from_header(req.headers().get(&REQUEST_ID_HEADER));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    let started = Instant::now();

    let mut res = crate::request_id::scope(
        request_id.clone(),
        async move {
            // Handler and extractor errors arrive here already rendered as responses;
            // an `Err` could only come from an inner middleware and passes through.
            next.call(req)
                .await
                .map(|res| ensure_problem(res.map_into_boxed_body()))
        }
        .instrument(span.clone()),
    )
    .await?;

    let elapsed = started.elapsed().as_secs_f64();
    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(metrics) = metrics {
        metrics.observe_request(method.as_str(), &route, status.as_str(), elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let _enter = span.enter();
    let millis = elapsed * 1000.0;
    let code = res.response().extensions().get::<ProblemCode>().cloned();
    let status = status.as_u16();
    match code {
        Some(ProblemCode(code)) if status >= 500 => {
            tracing::warn!(status, route = %route, code = %code, latency_ms = millis, "request failed")
        }
        Some(ProblemCode(code)) => {
            tracing::info!(status, route = %route, code = %code, latency_ms = millis, "request refused")
        }
        None if status >= 500 => {
            tracing::warn!(status, route = %route, latency_ms = millis, "request failed")
        }
        None => {
            tracing::info!(status, route = %route, latency_ms = millis, "request completed")
        }
    }
    Ok(res)
}

/// Replaces a framework-made error body (plain text or empty) with problem+json. JSON error
/// bodies are ours and kept: the OAuth2 and CSC protocols prescribe `{error, error_description}`;
/// so are HTML ones (the authorization endpoint's error page, shown to a person).
fn ensure_problem(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes())
            || v.as_bytes().starts_with(b"application/json")
            || v.as_bytes().starts_with(b"text/html")
    });
    if is_problem {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut replacement = ApiError::Http(status).error_response();
    if let Some(allow) = allow {
        replacement.headers_mut().insert(header::ALLOW, allow);
    }
    ServiceResponse::new(req, replacement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, test as atest};

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
    }

    async fn probe(body: web::Json<Probe>) -> HttpResponse {
        HttpResponse::Ok().body(body.name.clone())
    }

    /// The tests that send requests through `observe` run one at a time: tracing decides once
    /// per callsite (racily, across threads) whether anyone listens, and a request logged
    /// with no subscriber while the capturing test registers its own can leave that test's
    /// spans and events switched off.
    static OBSERVED: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Bad JSON, a wrong content type and an oversized body all come back as problem+json with
    /// a stable code, through the same extractor configuration the service uses.
    #[actix_web::test]
    async fn extractor_failures_are_problems() {
        let _serial = OBSERVED.lock().unwrap_or_else(|p| p.into_inner());
        let app = atest::init_service(
            App::new()
                .configure(crate::startup::extractor_limits(1024))
                .route("/probe", web::post().to(probe))
                .wrap(actix_web::middleware::from_fn(observe)),
        )
        .await;
        let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
            ("application/json", br#"{"name": "ok"}"#.to_vec(), 200, ""),
            (
                "application/json",
                b"{not json".to_vec(),
                400,
                "invalid_json",
            ),
            (
                "application/json",
                br#"{"name": 5}"#.to_vec(),
                400,
                "invalid_json",
            ),
            (
                "text/plain",
                br#"{"name": "x"}"#.to_vec(),
                415,
                "unsupported_media_type",
            ),
            (
                "application/json",
                format!(r#"{{"name": "{}"}}"#, "x".repeat(2000)).into_bytes(),
                413,
                "payload_too_large",
            ),
        ];
        for (ctype, body, status, code) in cases {
            let req = atest::TestRequest::post()
                .uri("/probe")
                .insert_header((header::CONTENT_TYPE, ctype))
                .set_payload(body)
                .to_request();
            let resp = atest::call_service(&app, req).await;
            assert_eq!(resp.status().as_u16(), status, "{code}");
            if status >= 400 {
                assert_eq!(
                    resp.headers().get(header::CONTENT_TYPE).unwrap(),
                    PROBLEM_JSON
                );
                let problem: crate::error::ProblemDocument = atest::read_body_json(resp).await;
                assert_eq!(problem.code, code);
                assert!(problem.request_id.is_some());
            }
        }
    }

    /// Captured log output.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }
    }

    /// A handler that logs a cause inside its own span, as the error mappings do.
    #[tracing::instrument(skip_all, fields(certificate = "c-1"))]
    async fn failing() -> Result<HttpResponse, ApiError> {
        tracing::error!(error = "disk on fire", "database operation failed");
        Err(ApiError::Internal)
    }

    /// Every line a request logs carries its id at the top level (the handler's nested span
    /// included), and the access line names route pattern, status, problem code and latency.
    #[actix_web::test]
    async fn every_log_line_of_a_request_carries_its_id() {
        let _serial = OBSERVED.lock().unwrap_or_else(|p| p.into_inner());
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(json_layer(captured.clone()));
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = atest::init_service(
            App::new()
                .route("/fail/{id}", web::get().to(failing))
                .route("/probe", web::post().to(probe))
                .configure(crate::startup::extractor_limits(1024))
                .wrap(actix_web::middleware::from_fn(observe)),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/fail/7")
            .insert_header((REQUEST_ID_HEADER, "req-abc-1"))
            .to_request();
        assert_eq!(atest::call_service(&app, req).await.status(), 500);
        let req = atest::TestRequest::post()
            .uri("/probe")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{not json")
            .to_request();
        let resp = atest::call_service(&app, req).await;
        let second_id = resp
            .headers()
            .get(REQUEST_ID_HEADER)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(resp.status(), 400);

        let lines = captured.lines();
        let find = |message: &str| {
            lines
                .iter()
                .find(|l| l["fields"]["message"] == message)
                .unwrap_or_else(|| panic!("no {message:?} line in {lines:#?}"))
                .clone()
        };
        let cause = find("database operation failed");
        assert_eq!(cause["request_id"], "req-abc-1", "{cause}");
        assert_eq!(cause["level"], "ERROR");
        assert_eq!(cause["fields"]["error"], "disk on fire");
        assert_eq!(cause["certificate"], "c-1", "the handler span's fields too");
        assert_eq!(cause["path"], "/fail/7");
        assert_eq!(
            cause["span"]["name"], "failing",
            "the innermost span, as before"
        );
        assert_eq!(cause["span"]["certificate"], "c-1");
        let access = find("request failed");
        assert_eq!(access["request_id"], "req-abc-1");
        assert_eq!(access["fields"]["route"], "/fail/{id}");
        assert_eq!(access["fields"]["status"], 500);
        assert_eq!(access["fields"]["code"], "internal_error");
        assert!(
            access["fields"]["latency_ms"].as_f64().unwrap() >= 0.0,
            "{access}"
        );
        let refused = find("request refused");
        assert_eq!(refused["request_id"], second_id.as_str());
        assert_eq!(refused["fields"]["status"], 400);
        assert_eq!(refused["fields"]["code"], "invalid_json");
        assert!(
            lines.iter().all(|l| l["request_id"].is_string()),
            "every line of a request has its id: {lines:#?}"
        );
    }
}
