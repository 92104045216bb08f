//! fincert: a cloud keystore and remote-signing service for Korean financial certificates.
//!
//! Private keys live server-side, sealed under a KMS; owners unlock them with a 6-digit PIN or a
//! passkey to have the service sign for them. The crate is one binary (`fincert`, see [`cli`])
//! over a library whose folders name its rooms:
//!
//! - [`api`]: HTTP handlers, thin; [`startup`] wires them into an actix-web app around the
//!   [`state`] they share.
//! - [`domain`]: newtypes and rules, no I/O.
//! - [`auth`]: security media (OTP, security card); enrolment, WebAuthn and tokens to come.
//! - [`custody`]: KMS backends, sealed keys, PIN/passkey slots, activations.
//! - [`pki`]: the CA, certificate profiles and lifecycle, CRL and OCSP.
//! - [`audit`]: the hash-chained audit log; [`store`]: every query.
//! - [`config`], [`clock`], [`telemetry`], [`request_id`], [`error`]: the edges every room shares.

// `unsafe_code` is forbidden and unwrap/expect/panic/todo are denied by `[workspace.lints]`
// (Cargo.toml); unit tests may use them. They may also read the real clock (`Utc::now` is
// confined to `clock` in the service: the lib/bins clippy enforces it), return figment's large
// `Jail` error (its API), hold the log-capture mutex across awaits (it serialises unit tests
// that each run their own runtime) and spell out table types.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::disallowed_methods,
        clippy::result_large_err,
        clippy::await_holding_lock,
        clippy::type_complexity
    )
)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod checkpoints;
pub mod cli;
pub mod clock;
pub mod config;
pub mod custody;
pub mod domain;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod heavy;
pub mod metrics;
pub mod outbound;
pub mod pki;
pub mod portal;
pub mod request_id;
pub mod signing;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transport;
