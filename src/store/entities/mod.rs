//! sea-orm entities, one file per table, mirroring `migrations/`. Only `store` uses them.

pub mod audit_archive;
pub mod audit_event;
pub mod audit_head;
pub mod authority;
pub mod auto_renewal_setting;
pub mod certificate;
pub mod crl;
pub mod custody_key;
pub mod custody_key_slot;
pub mod fee_charge;
pub mod foreign_certificate;
pub mod idempotency_record;
pub mod pin_attempt;
pub mod rate_limit;
pub mod refresh_token;
pub mod renewal_notice;
pub mod terms_document;
pub mod terms_translation;
pub mod token_key;
