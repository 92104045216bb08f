//! A PKCS#12 upload, opened with the password the seeds were made with.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = fincert::fuzzing::pkcs12(data, include_str!("../fixtures/password.txt")) {
        panic!("{broken}");
    }
});
