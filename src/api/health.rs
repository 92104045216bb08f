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
/// a held lock (a request would wait for it until `lock_timeout` and fail).
#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let within = std::time::Duration::from_millis(state.settings.database.lock_timeout_ms / 2);
    store::ping(&state.db, within).await?;
    Ok(HttpResponse::Ok().json(Readiness {
        database: "ok".into(),
        status: "ready".into(),
    }))
}
