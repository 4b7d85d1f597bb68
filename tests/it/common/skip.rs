//! Skipped tests, made visible.
//!
//! A test whose outside service (PostgreSQL, an S3 server, Azurite, DuckDB, `mount`) is
//! missing passes without running; libtest and nextest both hide the output of passing
//! tests, so a plain `eprintln!` would make the skip silent. [`skip`] therefore also appends
//! one line to a file under `target/tmp/sluice-skips/`, keyed by the test run (nextest's
//! `NEXTEST_RUN_ID`, else the pid of the `cargo test` process that started every test
//! binary), and `tests/zz_skip_summary.rs`, which runs last (`cargo test` runs test binaries
//! in name order; `.config/nextest.toml` gives it the lowest priority and every thread),
//! prints one line saying what was skipped and how to run it. With
//! `SLUICE_TEST_REQUIRE_ALL=1` (`.ci/run` sets it) that test fails instead.

use std::io::Write;
use std::path::PathBuf;

/// The directory holding the skip records of every run.
pub fn records_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sluice-skips")
}

/// Names the run for a test process started by another test process
/// ([`super::own_process::run_alone`]), whose parent is not `cargo test`.
pub const RUN_VAR: &str = "SLUICE_TEST_RUN";

/// The key of this test run: the one a parent test process passed down, else nextest's run
/// id, else the pid of the `cargo test` process that started every test binary.
pub fn run_key() -> String {
    [RUN_VAR, "NEXTEST_RUN_ID"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|id| !id.is_empty()))
        .unwrap_or_else(|| format!("cargo-{}", std::os::unix::process::parent_id()))
}

/// The record file of this test run.
pub fn record_file() -> PathBuf {
    records_dir().join(format!("{}.log", run_key()))
}

/// Whether `var` is set to something other than empty or `0`.
pub fn env_flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => name.to_string(),
        _ => std::env::args()
            .next()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Records that the running test is skipped because `service` is missing (`reason`), and
/// `how` says what runs it. The caller then returns without testing anything.
pub fn skip(service: &str, reason: &str, how: &str) {
    let test = test_name();
    eprintln!("skipped: {test}: {reason} (to run it: {how})");
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    let line = format!(
        "{}\t{}\t{}\t{}\n",
        clean(service),
        clean(&test),
        clean(reason),
        clean(how)
    );
    let written = std::fs::create_dir_all(records_dir()).and_then(|()| {
        // One short append per line: concurrent tests' lines do not interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(record_file())?
            .write_all(line.as_bytes())
    });
    if let Err(err) = written {
        // Straight to the terminal: libtest does not capture this.
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test} ({reason}), and could not record it in {}: {err}",
            record_file().display()
        );
    }
}
