//! Logs, request ids and metrics: everything an operator reads about a running node.
//!
//! Every request gets an id (the caller's `X-Request-Id` when it is well-formed, else a fresh
//! UUID) that is echoed in the response, attached to every log line of the request, and put into
//! problem bodies. Request counts and latency histograms are kept per route *pattern* (never per
//! raw path, so ids in paths cannot blow up the label space). Log lines never carry request
//! bodies, headers or secrets.

use std::time::Instant;

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    web,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tracing::Instrument;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{
    config::{LogFormat, LogSettings},
    error::{ApiError, PROBLEM_JSON},
};

pub use crate::request_id::{REQUEST_ID_HEADER, current_request_id};

/// Installs the global tracing subscriber. Later calls (tests) keep the first one.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
    };
}

/// Request metrics in a registry of their own (one per application, so tests that run several
/// applications in one process do not share counters).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    /// Creates and registers the request metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("fincert".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status.to_string().as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The outermost middleware: request id, tracing span, metrics, access log, and the guarantee
/// that every error response is problem+json (framework-made 404/405/413s included).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = crate::request_id::from_header(req.headers().get(&REQUEST_ID_HEADER));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
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
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let _enter = span.enter();
    let millis = elapsed * 1000.0;
    if status >= 500 {
        tracing::warn!(status, route = %route, elapsed_ms = millis, "request failed");
    } else {
        tracing::info!(status, route = %route, elapsed_ms = millis, "request completed");
    }
    Ok(res)
}

/// Replaces a framework-made error body (plain text or empty) with problem+json. JSON error
/// bodies are ours and kept: the OAuth2 and CSC protocols prescribe `{error, error_description}`.
fn ensure_problem(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes())
            || v.as_bytes().starts_with(b"application/json")
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

    /// Bad JSON, a wrong content type and an oversized body all come back as problem+json with
    /// a stable code, through the same extractor configuration the service uses.
    #[actix_web::test]
    async fn extractor_failures_are_problems() {
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

    #[test]
    fn metrics_render_counts_and_histograms() {
        let m = Metrics::new().unwrap();
        m.observe("GET", "/healthz", 200, 0.002);
        let text = m.render().unwrap();
        assert!(
            text.contains(
                r#"fincert_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("fincert_http_request_duration_seconds_bucket"));
    }
}
