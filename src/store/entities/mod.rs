//! sea-orm entities, one file per table, mirroring `migrations/`. Only `store` uses them.

pub mod audit_event;
pub mod audit_head;
pub mod idempotency_record;
pub mod terms_document;
