//! Record extraction: records, event times and ids out of arbitrary bodies. See sluice::fuzzing::records.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::records(data));
