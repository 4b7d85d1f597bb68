//! Checkpoint decoding: any bytes as a stored checkpoint or commit intent. See sluice::fuzzing::checkpoint.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::checkpoint(data));
