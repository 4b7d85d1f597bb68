//! The simulator's fault modes and timeline. See sluice::fuzzing::simulator.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::simulator(data));
