//! The test matrix: one async test body run on every database engine (`both_engines!`), or on
//! every engine × KMS backend (`custody_matrix!`). The macros are exported at the crate root,
//! so test modules name them `crate::both_engines` and `crate::custody_matrix`.

/// Runs an async test body once per engine: `both_engines!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(engine: Engine)`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(fincert::config::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(fincert::config::Engine::Postgres).await
            }
        }
    )*};
}

/// Runs an async test body on every engine × KMS backend: `custody_matrix!(name)` makes
/// `name::{sqlite_local, postgres_local, sqlite_aws, postgres_aws, sqlite_pkcs11,
/// postgres_pkcs11}` from `async fn name(engine: Engine, backend: Backend)`. The PKCS#11 ones
/// run their body (`*_pkcs11_body`, ignored by the harness) in a child process on a SoftHSM
/// token of its own (see `softhsm.rs`).
#[macro_export]
macro_rules! custody_matrix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use fincert::config::Engine;
            use $crate::helpers::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_local() { super::$name(Engine::Sqlite, Backend::Local).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_local() { super::$name(Engine::Postgres, Backend::Local).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_aws() { super::$name(Engine::Sqlite, Backend::Aws).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_aws() { super::$name(Engine::Postgres, Backend::Aws).await }
            #[test]
            fn sqlite_pkcs11() {
                $crate::helpers::run_in_child(concat!(module_path!(), "::sqlite_pkcs11_body").split_once("::").unwrap().1)
            }
            #[test]
            fn postgres_pkcs11() {
                $crate::helpers::run_in_child(concat!(module_path!(), "::postgres_pkcs11_body").split_once("::").unwrap().1)
            }
            #[ignore = "the body of `sqlite_pkcs11`, which runs it in a process of its own"]
            #[test]
            fn sqlite_pkcs11_body() { $crate::helpers::run_then_finalize(super::$name(Engine::Sqlite, Backend::Pkcs11)) }
            #[ignore = "the body of `postgres_pkcs11`, which runs it in a process of its own"]
            #[test]
            fn postgres_pkcs11_body() { $crate::helpers::run_then_finalize(super::$name(Engine::Postgres, Backend::Pkcs11)) }
        }
    )*};
}
