//! Link header parsing: the input's lines as header fields. See sluice::fuzzing::link_header.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::link_header(data));
