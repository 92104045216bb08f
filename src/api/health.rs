//! Liveness and readiness.

use actix_web::{HttpResponse, web};
use fincert_client::proto::health::{Health, Readiness};

use crate::{error::ApiError, state::AppState, store};

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// The node can serve requests: its database answers and its write path is not stuck behind
/// a held lock (a request would wait for it until `lock_timeout` and fail), and its KMS
/// answered the last background probe (read from the cache: never a KMS call per request).
#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let within = std::time::Duration::from_millis(state.settings.database.lock_timeout_ms / 2);
    let database = store::ping(&state.db, within).await;
    state
        .readiness
        .record_database(database.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    database?;
    if let Err(why) = state.readiness.kms() {
        tracing::warn!(error = %why, "not ready: the KMS did not answer its last probe");
        return Err(ApiError::Unavailable { dependency: "KMS" });
    }
    Ok(HttpResponse::Ok().json(Readiness {
        database: "ok".into(),
        kms: "ok".into(),
        status: "ready".into(),
    }))
}
