//! Time parsing and writing in every format. See sluice::fuzzing::time.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::time(data));
