//! Every pagination kind's next-page finder on arbitrary responses. See sluice::fuzzing::pagination.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::pagination(data));
