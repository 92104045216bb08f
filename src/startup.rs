//! Builds the application: state, route table, middleware, listener. Shared by `serve` and the
//! tests, which bind port 0 and read the port back.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware, web};
use sea_orm::DatabaseConnection;

use crate::{
    api,
    audit::{Action, Actor, NewEvent},
    auth::{
        enrolment::Enrolments,
        identity::{DevIdentityVerifier, HttpIdentityVerifier, IdentityVerifier},
        messaging::{DevOutbox, HttpMessageSender, MessageSender},
        tokens::{TokenService, TokenSettings},
    },
    checkpoints::Checkpoints,
    clock::SharedClock,
    config::Settings,
    custody::{self, Custody},
    error,
    pki::Pki,
    signing::Signing,
    store::{self, StoreError},
    telemetry::{self, Metrics, Readiness},
};

mod observe;

use self::observe::{bind_metrics, sampler, spawn_prober, warn_development_defaults};

/// Kept at its old path; it lives in [`crate::state`].
pub use crate::state::AppState;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Database unreachable or migrations failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Configuration problem found late.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The KMS could not be opened or reached.
    #[error("kms: {0}")]
    Kms(String),
    /// The token signing keys could not be loaded or created.
    #[error("tokens: {0}")]
    Tokens(#[from] crate::auth::tokens::TokenError),
    /// A partner client could not be built.
    #[error("partner: {0}")]
    Partner(String),
    /// The CA could not be loaded or created.
    #[error("pki: {0}")]
    Pki(#[from] crate::pki::PkiError),
    /// The audit checkpoint key or witness could not be opened.
    #[error("audit checkpoints: {0}")]
    Checkpoints(#[from] crate::checkpoints::CheckpointError),
    /// Metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A built, bound, not-yet-running server.
pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's port and server, when `http.metrics_listen` is set.
    metrics_port: Option<u16>,
    metrics_server: Option<Server>,
    prober: tokio::task::JoinHandle<()>,
    db: DatabaseConnection,
    custody: Arc<Custody>,
    pki: Arc<Pki>,
    outbox: Arc<DevOutbox>,
    signing: Arc<Signing>,
    sweeper: tokio::task::JoinHandle<()>,
    poller: tokio::task::JoinHandle<()>,
    ocsp_poller: tokio::task::JoinHandle<()>,
    checkpoints: Arc<Checkpoints>,
    checkpointer: tokio::task::JoinHandle<()>,
    /// SQLite's WAL checkpoints beside the writer (`spawn_wal_checkpoints`).
    wal_checkpoints: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects the database (migrating if configured), binds the listener and builds the server.
    pub async fn build(settings: Settings, clock: SharedClock) -> Result<Self, StartupError> {
        let db = store::connect(&settings).await?;
        if settings.database.migrate_on_start {
            migrate_and_audit(&db, &clock).await?;
        }
        let addr = settings.listen_addr()?;
        let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: addr.to_string(),
                source,
            })?
            .port();
        let metrics = Arc::new(Metrics::new()?);
        let metrics_listener = bind_metrics(&settings)?;
        let kms = custody::kms::connect(&settings)
            .await
            .map_err(StartupError::Kms)?;
        let kms = custody::kms::observed::ObservedKms::wrap(kms, metrics.kms.clone());
        // Webhook secrets of rows made before backends were recorded derive from the backend
        // in force before any move: name it now, so dropping `kms_previous` later cannot
        // silently change them.
        store::signing::name_webhook_mac_backends(
            &db,
            kms.previous_backend().unwrap_or(kms.backend()),
        )
        .await?;
        let reads = store::connect_readers(&settings, &db).await?;
        let wal_checkpoints = store::checkpoint_beside_writer(&db)
            .await?
            .then(|| spawn_wal_checkpoints(reads.clone()));
        let custody = Arc::new(
            Custody::new(kms, &settings.custody, clock.clone())
                .with_kms_metrics(metrics.kms.clone())
                .with_readers(reads.clone()),
        );
        custody.prepare_decoys(&db).await?;
        let pki =
            Arc::new(Pki::load_or_init(&db, custody.clone(), &settings, clock.clone()).await?);
        let checkpoints = Arc::new(
            Checkpoints::load(
                &db,
                &custody,
                &settings,
                clock.clone(),
                metrics.checkpoints.clone(),
            )
            .await?,
        );
        let checkpointer = checkpoints.spawn(db.clone());
        let tokens = Arc::new(
            TokenService::load(
                &db,
                custody.clone(),
                TokenSettings::from_settings(&settings),
                clock.clone(),
            )
            .await?,
        );
        let outbox = Arc::new(DevOutbox::default());
        let (verifier, sender) = partners(&settings, &db, &clock, &outbox)?;
        let passkeys = Arc::new(
            crate::auth::passkeys::Passkeys::new(
                &settings.auth.webauthn_rp_id,
                &settings.auth.webauthn_origin,
                custody.clone(),
                sender.clone(),
                clock.clone(),
            )
            .map_err(|e| StartupError::Partner(e.to_string()))?,
        );
        let sign_ins = Arc::new(crate::auth::sign_in::SignIns::new(
            sender.clone(),
            custody.kms().clone(),
            clock.clone(),
        ));
        let pins = Arc::new(crate::auth::pin::Pins::new(custody.clone(), sender.clone()));
        let notice_sender = sender.clone();
        let enrolments = Arc::new(Enrolments::new(
            verifier,
            sender,
            custody.kms().clone(),
            clock.clone(),
        ));
        let signing = Arc::new(
            Signing::new(
                db.clone(),
                reads,
                custody.clone(),
                pki.clone(),
                passkeys.clone(),
                clock.clone(),
                settings.signing.clone(),
                crate::signing::SigningMetrics {
                    signatures: metrics.signatures.clone(),
                    commit: metrics.commit.clone(),
                },
            )
            .map_err(StartupError::Partner)?,
        );
        // The cache epoch: read once now, then every 200 ms (see `signing::checks`).
        if let Err(e) = signing.epochs().poll(&db).await {
            tracing::warn!(error = %e, "cache epoch not read; cached checks wait for the poller");
        }
        let poller = signing.epochs().spawn_poller(db.clone());
        // The OCSP answer cache follows the issuing CA's status-change count the same way.
        let ocsp_poller = pki.spawn_ocsp_cache_poller(&db).await;
        // Sessions follow the same epoch: a logout reaches every node's token checks.
        tokens.follow_epochs(signing.epochs().clone());
        let settings_outbox = settings.enrolment.expose_dev_outbox.then(|| outbox.clone());
        let sweeper = spawn_background(
            custody.clone(),
            pki.clone(),
            signing.clone(),
            notice_sender,
            db.clone(),
            clock.clone(),
        );
        let readiness = Arc::new(Readiness::new());
        let prober = spawn_prober(&readiness, &custody, &db, &settings);
        metrics.set_sampler(sampler(&readiness, &custody, &signing, &db));
        warn_development_defaults(&settings);
        let state = AppState {
            db: db.clone(),
            clock,
            settings: Arc::new(settings),
            custody: custody.clone(),
            pki: pki.clone(),
            tokens,
            enrolments,
            sign_ins,
            passkeys,
            pins,
            signing: signing.clone(),
            dev_outbox: settings_outbox,
            readiness,
        };
        let public_metrics = metrics_listener.is_none();
        let server = build_server(listener, state, metrics.clone(), public_metrics)?;
        let (metrics_port, metrics_server) = match metrics_listener {
            Some(listener) => {
                let (port, server) = observe::serve_metrics(listener, metrics)?;
                (Some(port), Some(server))
            }
            None => (None, None),
        };
        Ok(Self {
            port,
            server,
            metrics_port,
            metrics_server,
            prober,
            db,
            custody,
            pki,
            outbox,
            signing,
            sweeper,
            poller,
            ocsp_poller,
            checkpoints,
            checkpointer,
            wal_checkpoints,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's bound port, when `http.metrics_listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until the server handle stops it; in-flight requests finish.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let metrics = self.metrics_server.map(|server| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        // Every request has finished (or timed out): wipe every activated key, then close
        // the pool so SQLite checkpoints.
        self.sweeper.abort();
        self.poller.abort();
        self.ocsp_poller.abort();
        self.prober.abort();
        self.checkpointer.abort();
        if let Some(w) = &self.wal_checkpoints {
            w.abort();
        }
        // A clean stop signs the head it leaves (bounded: a KMS or database outage must not
        // hold the shutdown; failures are counted, logged and audited by `run`).
        let _ = tokio::time::timeout(Duration::from_secs(5), self.checkpoints.run(&self.db)).await;
        self.custody.activations().clear();
        if let Err(e) = self.db.close().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
        served
    }

    /// The custody service (tests reach activations through it).
    pub fn custody(&self) -> Arc<Custody> {
        self.custody.clone()
    }

    /// The certificate authority.
    pub fn pki(&self) -> Arc<Pki> {
        self.pki.clone()
    }

    /// The audit checkpoint signer (tests run it at once).
    pub fn checkpoints(&self) -> Arc<Checkpoints> {
        self.checkpoints.clone()
    }

    /// The development message outbox (tests read one-time codes from it).
    pub fn outbox(&self) -> Arc<DevOutbox> {
        self.outbox.clone()
    }

    /// Remote signing (tests run webhook deliveries through it).
    pub fn signing(&self) -> Arc<Signing> {
        self.signing.clone()
    }

    /// A handle that can stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The identity verifier and message sender the settings name.
#[allow(clippy::type_complexity)]
fn partners(
    settings: &Settings,
    db: &DatabaseConnection,
    clock: &SharedClock,
    outbox: &Arc<DevOutbox>,
) -> Result<(Arc<dyn IdentityVerifier>, Arc<dyn MessageSender>), StartupError> {
    use crate::{config::Adapter, outbound::Partner};
    let e = &settings.enrolment;
    let timeout = Duration::from_millis(e.partner_timeout_ms);
    let verifier: Arc<dyn IdentityVerifier> = match e.identity_verifier {
        Adapter::Dev => Arc::new(DevIdentityVerifier::new(db.clone())),
        Adapter::Http => Arc::new(HttpIdentityVerifier::new(
            Partner::new(&e.identity_url, &e.identity_secret, timeout)
                .map_err(StartupError::Partner)?,
            clock.clone(),
        )),
    };
    let sender: Arc<dyn MessageSender> = match e.message_sender {
        Adapter::Dev => outbox.clone(),
        Adapter::Http => Arc::new(HttpMessageSender::new(
            Partner::new(&e.message_url, &e.message_secret, timeout)
                .map_err(StartupError::Partner)?,
            clock.clone(),
        )),
    };
    Ok((verifier, sender))
}

/// SQLite's WAL checkpoints, four times a second from a reader (`store::checkpoint`): the WAL
/// stays small and the writer never stops for one.
fn spawn_wal_checkpoints(readers: DatabaseConnection) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = store::checkpoint(&readers).await {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying next round");
            }
        }
    })
}

/// Background work of a node: wipes expired activations every few seconds (so an unused
/// activated key does not outlive its window in memory), sends due webhooks, runs the PKI
/// revocation refresh (CRL after status changes, OCSP answers before their nextUpdate) every
/// five seconds and the lifecycle job (expiry, renewal notices sent by SMS) every five minutes, each on
/// whichever node holds its lock.
fn spawn_background(
    custody: Arc<Custody>,
    pki: Arc<Pki>,
    signing: Arc<Signing>,
    sender: Arc<dyn MessageSender>,
    db: DatabaseConnection,
    clock: SharedClock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            let wiped = custody.activations().sweep(clock.now());
            if wiped > 0 {
                tracing::debug!(wiped, "expired activations wiped");
            }
            match signing.deliver_due(&db, 50).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(attempted = n, "webhook deliveries"),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries failed; retrying next round")
                }
            }
            // The revocation refresh every tick (a CRL within seconds of a status change), on
            // whichever node holds the job lock.
            match pki.refresh_revocation(&db).await {
                Ok(Some(r)) if r.crl_published || r.ocsp_refreshed > 0 => tracing::debug!(
                    crl = r.crl_published,
                    ocsp = r.ocsp_refreshed,
                    "revocation refresh"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "revocation refresh failed; retrying next round")
                }
            }
            // First run one interval after start (the CRL is also published on demand).
            if ticks % 60 == 59 {
                // Finished and abandoned sign-ins by choosing (any node may; it is idempotent).
                if let Err(e) = store::sign_ins::purge_expired(&db, clock.now()).await {
                    tracing::warn!(error = %e, "expired sign-ins not purged; retrying later");
                }
                // Decided or abandoned CSC authorization requests, expired token revocations.
                if let Err(e) = store::signing::purge_expired_grants(&db, clock.now()).await {
                    tracing::warn!(error = %e, "expired CSC authorizations not purged; retrying later");
                }
                // Asynchronous CSC results past their validity period.
                if let Err(e) = store::signing::purge_expired_async_results(&db, clock.now()).await
                {
                    tracing::warn!(error = %e, "expired CSC results not purged; retrying later");
                }
                // The audit log's next partitions (PostgreSQL); a month is made once.
                let now = clock.now();
                if let Err(e) =
                    store::audit::ensure_partitions(&db, now, now + chrono::Duration::days(62))
                        .await
                {
                    tracing::warn!(error = %e, "audit partitions not made; retrying later");
                }
                match pki.run_lifecycle_job(&db, sender.as_ref()).await {
                    Ok(Some(report)) if report.expired + report.renewal_notices > 0 => {
                        tracing::info!(
                            expired = report.expired,
                            notices = report.renewal_notices,
                            notices_sent = report.renewal_notices_sent,
                            "lifecycle job"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "lifecycle job failed; retrying next round")
                    }
                }
            }
            ticks = ticks.wrapping_add(1);
        }
    })
}

/// Applies pending migrations and records that it did, in the audit log.
pub async fn migrate_and_audit(
    db: &DatabaseConnection,
    clock: &SharedClock,
) -> Result<Vec<String>, StoreError> {
    let applied = store::migrate(db).await?;
    // This month's audit partition and the next two (PostgreSQL), before the first append.
    let now = clock.now();
    store::audit::ensure_partitions(db, now, now + chrono::Duration::days(62)).await?;
    if !applied.is_empty() {
        let event = NewEvent::new(Actor::System, Action::SchemaMigrated)
            .details(serde_json::json!({ "applied": applied }));
        store::audit::append(db, clock.now(), &[event]).await?;
        tracing::info!(count = applied.len(), "migrations applied");
    }
    Ok(applied)
}

/// Body limits and problem+json error handlers for every extractor.
pub fn extractor_limits(limit: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(error::json_error),
        )
        .app_data(web::PayloadConfig::default().limit(limit))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error));
    }
}

fn build_server(
    listener: TcpListener,
    state: AppState,
    metrics: Arc<Metrics>,
    public_metrics: bool,
) -> Result<Server, StartupError> {
    let metrics = web::Data::from(metrics);
    let http = state.settings.http.clone();
    let limit = http.max_body_bytes;
    let workers = http.workers;
    let shutdown = http.shutdown_timeout_secs;
    let request_timeout = Duration::from_secs(http.request_timeout_secs);
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .configure(extractor_limits(limit))
            .configure(api::configure(public_metrics))
            .default_service(web::to(api::not_found))
            .wrap(middleware::from_fn(crate::transport::guard))
            .wrap(
                middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(middleware::from_fn(telemetry::observe))
    })
    // Signals are the caller's to handle (`serve` stops the server gracefully on both SIGTERM
    // and SIGINT; actix's own handler would make SIGINT a forced stop).
    .disable_signals()
    .shutdown_timeout(shutdown)
    .client_request_timeout(request_timeout)
    .max_connection_rate(256);
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: "listener".into(),
            source,
        })?
        .run();
    Ok(server)
}
