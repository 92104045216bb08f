//! Liveness and readiness.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{error::ApiError, startup::AppState, store};

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The node can serve requests: its database answers.
#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    store::ping(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})))
}
