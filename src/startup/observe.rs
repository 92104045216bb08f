//! The observability side of a node's start: the metrics listener (when
//! `http.metrics_listen` is set), the background readiness prober, what `/metrics` samples at
//! scrape time, and the start-up warnings for development defaults on a deployed node.

use std::{net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, web};
use sea_orm::DatabaseConnection;

use super::StartupError;
use crate::{
    api,
    config::Settings,
    custody::Custody,
    signing::Signing,
    store,
    telemetry::{Metrics, Readiness, Sampler},
};

/// Binds `http.metrics_listen`, when set (before anything else starts, so a taken port stops
/// start-up as the public one does).
pub(super) fn bind_metrics(settings: &Settings) -> Result<Option<TcpListener>, StartupError> {
    let Some(addr) = &settings.http.metrics_listen else {
        return Ok(None);
    };
    TcpListener::bind(addr)
        .map(Some)
        .map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })
}

/// The metrics server: `GET /metrics` and nothing else (problem+json 404 for other paths),
/// one worker, no access log.
pub(super) fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
) -> Result<(u16, Server), StartupError> {
    let bind_error = |source| StartupError::Bind {
        addr: "metrics listener".into(),
        source,
    };
    let port = listener.local_addr().map_err(bind_error)?.port();
    let metrics = web::Data::from(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(api::metrics))
            .default_service(web::to(api::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(bind_error)?
    .run();
    Ok((port, server))
}

/// Probes the KMS and the database every few seconds into `readiness` (see
/// `telemetry::Readiness`); the database probe is the one `/readyz` makes.
pub(super) fn spawn_prober(
    readiness: &Arc<Readiness>,
    custody: &Arc<Custody>,
    db: &DatabaseConnection,
    settings: &Settings,
) -> tokio::task::JoinHandle<()> {
    let kms = custody.kms().clone();
    let db = db.clone();
    let within = std::time::Duration::from_millis(settings.database.lock_timeout_ms / 2);
    readiness.clone().spawn_prober(
        move || {
            let kms = kms.clone();
            async move { kms.probe().await.map_err(|e| e.to_string()) }
        },
        move || {
            let db = db.clone();
            async move { store::ping(&db, within).await.map_err(|e| e.to_string()) }
        },
    )
}

/// Fills the levels `/metrics` reports, at scrape time: live activations, the writer pool's
/// connections, pending group-commit changes, readiness.
pub(super) fn sampler(
    readiness: &Arc<Readiness>,
    custody: &Arc<Custody>,
    signing: &Arc<Signing>,
    db: &DatabaseConnection,
) -> Sampler {
    let (readiness, custody, signing, db) = (
        readiness.clone(),
        custody.clone(),
        signing.clone(),
        db.clone(),
    );
    let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Box::new(move |g| {
        g.activations_live.set(int(custody.activations().len()));
        g.audit_pending.set(int(signing.pending_commits()));
        g.ready.set(i64::from(readiness.ready()));
        let (size, idle, max) = pool_stats(&db);
        g.pool_in_use.set(i64::from(size).saturating_sub(int(idle)));
        g.pool_idle.set(int(idle));
        g.pool_max.set(i64::from(max));
    })
}

/// (open, idle, max) connections of the pool behind `db`.
fn pool_stats(db: &DatabaseConnection) -> (u32, usize, u32) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
}

/// One WARN line per development default in force on a deployed node (the rule is in
/// `config::check`; `fincert config check` lists the same).
pub(super) fn warn_development_defaults(settings: &Settings) {
    for w in settings.development_warnings() {
        tracing::warn!(
            key = w.key,
            "development default on a deployed node: {}",
            w.message
        );
    }
}
