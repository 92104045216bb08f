//! Domain types and rules: one newtype or rule set per file, parsed at the edge so an invalid
//! value cannot exist past it. Nothing here does I/O or knows about HTTP.

pub mod cert_kind;
pub mod cert_status;
pub mod delivery_status;
pub mod der_input;
pub mod digest;
pub mod display_text;
pub mod enrolment_step;
pub mod idempotency;
pub mod institution_status;
pub mod key_algorithm;
pub mod medium_kind;
pub mod owner;
pub mod person;
pub mod pin;
pub mod revocation_reason;
pub mod sector;
pub mod slot;
pub mod terms;
pub mod usage;
