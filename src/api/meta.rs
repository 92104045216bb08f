//! Prometheus metrics and the OpenAPI document.

use actix_web::{HttpResponse, http::header, web};

use crate::{error::ApiError, telemetry::Metrics};

/// The API contract, compiled in so the served spec always matches the binary.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Prometheus text exposition.
pub async fn metrics(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics.render().map_err(|e| {
        tracing::error!(error = %e, "rendering metrics failed");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(text))
}

/// The OpenAPI 3.1 document.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/yaml"))
        .body(OPENAPI_YAML)
}
