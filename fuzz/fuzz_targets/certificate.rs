//! A foreign certificate registered by its public certificate, validated against the committed
//! test hierarchy (fixtures/foreign-root.der → fixtures/foreign-ca.der).
#![no_main]

use std::sync::LazyLock;

use fincert::pki::foreign::TrustAnchors;

static ANCHORS: LazyLock<TrustAnchors> = LazyLock::new(|| {
    TrustAnchors::from_der(vec![
        include_bytes!("../fixtures/foreign-root.der").to_vec(),
    ])
});
static INTERMEDIATES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![include_bytes!("../fixtures/foreign-ca.der").to_vec()]);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now = fincert_fuzz_now();
    if let Err(broken) = fincert::fuzzing::certificate(data, &INTERMEDIATES, &ANCHORS, now) {
        panic!("{broken}");
    }
});

/// Inside the fixtures' validity (they were made on 2026-12-02 for 5 years).
fn fincert_fuzz_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(include!("../fixtures/now.txt"), 0).unwrap_or_default()
}
