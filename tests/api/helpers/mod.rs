//! What every API test starts from, in one place (as Zero To Production's `tests/api/helpers.rs`
//! and kanidm's test harness do it): the app on a fresh database, one pair of raw HTTP helpers,
//! fixtures for the people and institutions the tests talk about, the KMS stand-in (moto),
//! independent verification with openssl and pyHanko, extra cluster nodes and a load balancer,
//! a gate that cuts a server off the network, and the CLI.
//!
//! Test modules `use crate::helpers::*`. Fixtures check only that their own set-up went through;
//! what a test is about, the test asserts itself.
//!
//! | file           | holds                                                                     |
//! |----------------|---------------------------------------------------------------------------|
//! | `matrix.rs`    | `both_engines!`, `custody_matrix!` (SQLite × PostgreSQL × KMS backend)      |
//! | `db.rs`        | `TestDb`: a fresh SQLite file or PostgreSQL database per test               |
//! | `app.rs`       | `TestApp` (with `api`, a typed client) and the `spawn_app*` functions       |
//! | `http.rs`      | raw `call`/`post`/`get` (app, path, who, body), `Bearer`, `assert_problem`  |
//! | `fixtures.rs`  | `PIN`, `cloud_cert`, `user`, `sign_in`, `holder`, `institution`, `consent`  |
//! | `enrolment.rs` | the development customer, identity, terms, OTP media, `start_enrolment`     |
//! | `moto.rs`      | moto as AWS KMS, `Backend`, `PrivateMoto`, `spawn_custody_app`              |
//! | `openssl.rs`   | signatures and CMS checked by the openssl command line                      |
//! | `pyhanko.rs`   | CMS and PDFs judged by pyHanko (`cades_verdict`, `PadesPdf`, …)            |
//! | `node.rs`      | another node in this process (`spawn_node`) or as a process (`ProcessNode`) |
//! | `gate.rs`      | `Gate`: a TCP pass-through that can cut a server off the network and back   |
//! | `haproxy.rs`   | HAProxy in front of process nodes: its config, stats and request log        |
//! | `cli.rs`       | the `fincert` binary and `run_cli`                                          |
//! | `softhsm.rs`   | SoftHSM2 tokens of a test's own, `hsm_tests!` (one process per HSM test)    |

// Not every test uses every helper.
#![allow(dead_code)]

mod app;
mod cli;
mod db;
mod enrolment;
mod fixtures;
mod gate;
mod haproxy;
mod http;
mod matrix;
mod moto;
mod node;
mod openssl;
mod pyhanko;
mod softhsm;

pub use app::*;
pub use cli::*;
pub use db::*;
pub use enrolment::*;
pub use fixtures::*;
pub use gate::*;
pub use haproxy::*;
pub use http::*;
pub use moto::*;
pub use node::*;
pub use openssl::*;
pub use pyhanko::*;
pub use softhsm::*;
