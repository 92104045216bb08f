//! An OCSP request (POST body or GET path) to the committed test hierarchy's responder.
#![no_main]

use std::sync::LazyLock;

use der::Decode;
use fincert::pki::ocsp::IssuerHashes;

static ISSUING: LazyLock<x509_cert::Certificate> = LazyLock::new(|| {
    x509_cert::Certificate::from_der(include_bytes!("../fixtures/issuing.der"))
        .expect("fixtures/issuing.der is a certificate")
});
static RESPONDER: LazyLock<x509_cert::Certificate> = LazyLock::new(|| {
    x509_cert::Certificate::from_der(include_bytes!("../fixtures/ocsp.der"))
        .expect("fixtures/ocsp.der is a certificate")
});
static HASHES: LazyLock<IssuerHashes> =
    LazyLock::new(|| IssuerHashes::of(&ISSUING).expect("issuer hashes"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now =
        chrono::DateTime::from_timestamp(include!("../fixtures/now.txt"), 0).unwrap_or_default();
    if let Err(broken) = fincert::fuzzing::ocsp_request(data, &HASHES, &RESPONDER, now) {
        panic!("{broken}");
    }
});
