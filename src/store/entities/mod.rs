//! sea-orm entities, one file per table, mirroring `migrations/`. Only `store` uses them.

pub mod audit_event;
pub mod audit_head;
pub mod custody_key;
pub mod custody_key_slot;
pub mod idempotency_record;
pub mod terms_document;
