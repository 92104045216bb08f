//! An NPKI `signPri.key`, opened with the password the seeds were made with.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let password = include_str!("../fixtures/password.txt").as_bytes();
    if let Err(broken) = fincert::fuzzing::npki_key(data, password) {
        panic!("{broken}");
    }
});
