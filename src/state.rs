//! [`AppState`]: what every handler can reach, built once by `startup` and shared by every
//! worker. It only holds handles to the domain services; it never builds them (that is
//! `startup`'s job) and it imports nothing from `api` or `startup`.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::{enrolment::Enrolments, messaging::DevOutbox, tokens::TokenService},
    clock::SharedClock,
    config::Settings,
    custody::Custody,
    pki::Pki,
    signing::Signing,
    telemetry::Readiness,
};

/// What every handler can reach.
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The time source.
    pub clock: SharedClock,
    /// Settings in force.
    pub settings: Arc<Settings>,
    /// Key custody (KMS, activations).
    pub custody: Arc<Custody>,
    /// The certificate authority.
    pub pki: Arc<Pki>,
    /// Access and refresh tokens.
    pub tokens: Arc<TokenService>,
    /// The issuance procedure.
    pub enrolments: Arc<Enrolments>,
    /// Sign-in by choosing.
    pub sign_ins: Arc<crate::auth::sign_in::SignIns>,
    /// WebAuthn passkeys.
    pub passkeys: Arc<crate::auth::passkeys::Passkeys>,
    /// PIN changes and resets.
    pub pins: Arc<crate::auth::pin::Pins>,
    /// Remote signing for institutions.
    pub signing: Arc<Signing>,
    /// The development outbox, when configured to be served.
    pub dev_outbox: Option<Arc<DevOutbox>>,
    /// The last KMS and database probes (what `/readyz` reads).
    pub readiness: Arc<Readiness>,
}
