//! What every API test starts from, in one place (as Zero To Production's `tests/api/helpers.rs`
//! and kanidm's test harness do it): the app on a fresh database, one pair of raw HTTP helpers,
//! fixtures for the people and institutions the tests talk about, the KMS stand-in (moto),
//! independent verification with openssl, extra cluster nodes, and the CLI.
//!
//! Test modules `use crate::helpers::*`. Fixtures check only that their own set-up went through;
//! what a test is about, the test asserts itself.
//!
//! | file           | holds                                                                    |
//! |----------------|--------------------------------------------------------------------------|
//! | `matrix.rs`    | `both_engines!` and `custody_matrix!` (SQLite × PostgreSQL × KMS backend)  |
//! | `db.rs`        | `TestDb`: a fresh SQLite file or PostgreSQL database per test              |
//! | `app.rs`       | `TestApp` and the `spawn_app*` functions                                   |
//! | `http.rs`      | raw `call`/`post`/`get`, `assert_problem`                                  |
//! | `fixtures.rs`  | `holder()`, `institution()`, `consent()`, `cloud_cert()`, `sign_in()`, PIN |
//! | `enrolment.rs` | the development customer, identity, terms and OTP media of the procedure   |
//! | `moto.rs`      | moto as AWS KMS, `Backend`, `PrivateMoto`, `spawn_custody_app`             |
//! | `openssl.rs`   | signatures and CMS checked by the openssl command line                     |
//! | `node.rs`      | a second node in this process (`spawn_node`) or as a process (`ProcessNode`) |
//! | `cli.rs`       | the `fincert` binary and `run_cli`                                         |

#![allow(dead_code, unused_imports)]

mod app;
mod cli;
mod db;
mod enrolment;
mod fixtures;
mod http;
mod matrix;
mod moto;
mod node;
mod openssl;

pub use app::*;
pub use cli::*;
pub use db::*;
pub use enrolment::*;
pub use fixtures::*;
pub use http::*;
pub use moto::*;
pub use node::*;
pub use openssl::*;
