//! Black-box tests of fincert: one test binary (links once on 2 cores), one module per area (a
//! folder where an area has several stories). Every storage test runs on SQLite and on
//! PostgreSQL (`both_engines!`). What tests start from — the app, raw HTTP helpers, fixtures,
//! moto, openssl, extra nodes — is in `helpers/`.

// Test and benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for
// the library and the binary. Tests also read the real clock (to compare the service's
// timestamps with it) and spell out table types.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::disallowed_methods,
    clippy::type_complexity
)]

mod helpers;

mod audit;
mod audit_archive;
mod auth;
mod auto_renewal;
mod checkpoints;
mod cli;
mod cluster;
mod corrupt_rows;
mod csc;
mod csc_oauth;
mod csc_sign_doc;
mod custody;
mod device_portal;
mod enrolment;
mod errors;
mod foreign;
mod health;
mod history;
mod hsm;
mod idempotency;
mod infra;
mod kms;
mod lifecycle;
mod no_oracle;
mod observability;
mod openapi;
mod partners;
mod passkeys;
mod pin;
mod pki;
mod portal;
mod rate_limits;
mod schemathesis;
mod sessions;
mod sign_in;
mod signing;
mod terms;
