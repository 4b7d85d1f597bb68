//! Every integration test of the product, in one test binary (`cargo test --test it`).
//!
//! One binary instead of one per file: `tests/common/` is compiled once and the crate with its
//! dependencies is linked once, which saves CI most of the test build, and libtest runs the
//! tests of every group side by side instead of one group after another. A group runs alone
//! with its module path as the filter: `cargo test --all-features --test it kill9::`.
//!
//! The tests share one process, so a test must not change what the process has for everyone
//! (environment variables others read, the current directory, the panic hook, a global
//! tracing subscriber or metrics recorder): such a test runs its body in a child process of
//! its own ([`common::own_process`]). `tests/zz_skip_summary.rs` stays a binary of its own,
//! run after this one.
//!
//! A new group is a file `tests/it/<group>.rs` and one `mod` line below.

mod common;

mod alerts;
mod backfill;
mod bench;
mod canary;
mod chaos;
mod cli;
mod connectors;
mod docs;
mod elasticsearch;
mod engine;
mod enrich;
mod exit_codes;
mod fanout;
mod hec;
mod hostile;
mod kill9;
mod lake_azure;
mod lake_duckdb;
mod lake_failures;
mod lake_gcs;
mod lake_ocsf;
mod lake_replay;
mod lake_retain;
mod lake_s3;
mod lake_s3_integrity;
mod lake_signing;
mod lake_verify;
mod lost_state;
mod ocsf;
mod presets;
mod redaction;
mod scale_out;
mod secret_managers;
mod serve;
mod serve_limits;
mod state_object;
mod state_stores;
mod status_page;
mod store_outages;
mod transforms;
#[cfg(feature = "vrl")]
mod vrl;
