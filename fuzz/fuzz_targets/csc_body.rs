//! A CSC request body, read by every method of both API versions.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fincert::fuzzing::csc_body(data);
});
