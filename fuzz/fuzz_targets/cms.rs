//! The CMS SignedData built around a signer certificate (and RSASSA-PSS parameters read).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now =
        chrono::DateTime::from_timestamp(include!("../fixtures/now.txt"), 0).unwrap_or_default();
    if let Err(broken) = fincert::fuzzing::cms(data, now) {
        panic!("{broken}");
    }
});
