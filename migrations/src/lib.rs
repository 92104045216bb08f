//! Forward-only schema migrations for fincert, one file per change, named for what it changes.
//!
//! The same migrations run on SQLite (embedded default) and PostgreSQL (production); anything
//! engine-specific (triggers) is written out for both engines inside the migration that needs it.
//! Never edit a migration that has landed: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_audit_log;
mod m20261123_000002_terms;
mod m20261123_000003_idempotency;
mod m20261123_000004_custody;
mod m20261123_000005_pki;
mod m20261123_000006_renewal_notices;
mod m20261123_000007_foreign_certificates;
mod m20261123_000008_pin_attempts;
mod m20261123_000009_tokens;
mod m20261123_000010_rate_limits;
mod m20261123_000011_enrolment;
mod m20261123_000012_security_media;
mod m20261123_000013_passkeys;
mod m20261123_000014_motp_device;
mod m20261123_000015_signing;
mod m20261123_000016_csc_sads;
mod m20261201_000017_cluster_activations;
mod m20261202_000018_authority_revocation;
mod m20261202_000019_ocsp_responses;
mod m20261202_000020_sign_ins;
mod m20261202_000021_history_index;
mod m20261202_000022_webhook_validation_info;
mod m20261202_000023_audit_checkpoints;
mod m20261202_000024_final_renewal_notice;
mod m20261202_000025_csc_history_index;
mod m20261203_000026_auto_renewal;
mod m20261203_000027_csc_oauth;
mod m20261204_000028_terms_translations;
mod m20261206_000029_audit_partitions;
mod m20261207_000030_mac_backends;
mod m20261207_000031_sad_signature_forms;
mod m20261207_000032_csc_async_results;
mod m20261207_000033_passkey_prf;
mod m20261207_000034_csc_service_scope;

/// The ordered list of every migration fincert knows.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_audit_log::Migration),
            Box::new(m20261123_000002_terms::Migration),
            Box::new(m20261123_000003_idempotency::Migration),
            Box::new(m20261123_000004_custody::Migration),
            Box::new(m20261123_000005_pki::Migration),
            Box::new(m20261123_000006_renewal_notices::Migration),
            Box::new(m20261123_000007_foreign_certificates::Migration),
            Box::new(m20261123_000008_pin_attempts::Migration),
            Box::new(m20261123_000009_tokens::Migration),
            Box::new(m20261123_000010_rate_limits::Migration),
            Box::new(m20261123_000011_enrolment::Migration),
            Box::new(m20261123_000012_security_media::Migration),
            Box::new(m20261123_000013_passkeys::Migration),
            Box::new(m20261123_000014_motp_device::Migration),
            Box::new(m20261123_000015_signing::Migration),
            Box::new(m20261123_000016_csc_sads::Migration),
            Box::new(m20261201_000017_cluster_activations::Migration),
            Box::new(m20261202_000018_authority_revocation::Migration),
            Box::new(m20261202_000019_ocsp_responses::Migration),
            Box::new(m20261202_000020_sign_ins::Migration),
            Box::new(m20261202_000021_history_index::Migration),
            Box::new(m20261202_000022_webhook_validation_info::Migration),
            Box::new(m20261202_000023_audit_checkpoints::Migration),
            Box::new(m20261202_000024_final_renewal_notice::Migration),
            Box::new(m20261202_000025_csc_history_index::Migration),
            Box::new(m20261203_000026_auto_renewal::Migration),
            Box::new(m20261203_000027_csc_oauth::Migration),
            Box::new(m20261204_000028_terms_translations::Migration),
            Box::new(m20261206_000029_audit_partitions::Migration),
            Box::new(m20261207_000030_mac_backends::Migration),
            Box::new(m20261207_000031_sad_signature_forms::Migration),
            Box::new(m20261207_000032_csc_async_results::Migration),
            Box::new(m20261207_000033_passkey_prf::Migration),
            Box::new(m20261207_000034_csc_service_scope::Migration),
        ]
    }
}
