//! A device-key CSR as `POST /v1/enrolments/{id}/certificate` reads it (DER or PEM).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = fincert::fuzzing::csr(data) {
        panic!("{broken}");
    }
});
