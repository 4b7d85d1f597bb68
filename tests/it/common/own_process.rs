//! A test body that changes what its process has for everyone runs in a process of its own.
//!
//! Every test of `tests/it/` shares one process, so a test that sets an environment variable
//! other code reads (credentials `object_store` or a secret manager client picks up, `HOME`)
//! or installs the panic hook would change the tests running beside it, and their child
//! processes, which inherit the environment. Such a test starts this test binary again with
//! itself as the only test ([`run_alone`]); in that child ([`is_child`]) it runs its body.

use std::process::Output;

/// Set in the child to the test it is to run.
const CHILD_VAR: &str = "SLUICE_TEST_OWN_PROCESS";

/// Whether this process is the child [`run_alone`] started for `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD_VAR).is_ok_and(|running| running == test)
}

/// Runs `test` (its path in this binary, like `redaction::a_test`) alone in a new process of
/// this test binary, with `envs` added to the environment, and returns that process's
/// output. Panics if the name selects no test: a renamed test must not pass by running
/// nothing.
pub fn run_alone(test: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("a test binary knows its own path");
    let out = std::process::Command::new(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        // A skip in the child is recorded with the run's other skips.
        .env(super::skip::RUN_VAR, super::skip::run_key())
        .envs(envs.iter().copied())
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("running 1 test"),
        "`{test}` names no test of {}:\n{stdout}",
        exe.display()
    );
    out
}
