//! `kill -9` loops: seeded (and replayable), with every run that ends on its own checked.

use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The seed of a test's random choices (kill delays, fault decisions): `SLUICE_TEST_SEED`
/// when set, to replay a failure, else a fresh one. Logged either way; the log is shown
/// when the test fails.
pub fn test_seed(test: &str) -> u64 {
    let seed = match std::env::var("SLUICE_TEST_SEED") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .unwrap_or_else(|_| panic!("SLUICE_TEST_SEED={text} is not a number")),
        _ => rand::random(),
    };
    eprintln!("{test}: seed {seed} (replay with SLUICE_TEST_SEED={seed})");
    seed
}

/// Starts runs and `kill -9`s them at random moments.
pub struct Killer {
    rng: StdRng,
    seed: u64,
    logs: PathBuf,
    /// Kills that landed on a running process.
    pub landed: usize,
    /// Runs started.
    pub attempts: usize,
    /// Runs that ended on their own (with exit code 0 or 3) before their kill.
    pub ended: usize,
}

impl Killer {
    /// A killer for `test` seeded by [`test_seed`]; run output goes to files in `logs`.
    pub fn new(test: &str, logs: &Path) -> Killer {
        let seed = test_seed(test);
        std::fs::create_dir_all(logs).expect("the log directory can be made");
        Killer {
            rng: StdRng::seed_from_u64(seed),
            seed,
            logs: logs.to_path_buf(),
            landed: 0,
            attempts: 0,
            ended: 0,
        }
    }

    /// The seed, to derive the simulator's fault seed from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Starts `command` and, after a delay drawn from `delay_ms`, kills it with SIGKILL if it
    /// still runs. A run that ended on its own must have exited 0 or 3; anything else fails
    /// the test with the run's output. Returns whether the kill landed.
    pub async fn attempt(
        &mut self,
        command: tokio::process::Command,
        delay_ms: Range<u64>,
    ) -> bool {
        let (mut child, log) = self.spawn(command);
        let delay = self.rng.random_range(delay_ms);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let waited = format!("{delay} ms");
        self.finish(&mut child, &log, &waited).await
    }

    /// Starts `command`, waits until `progress` (e.g. the lake's published objects) grows, then
    /// for a delay drawn from `delay_ms`, and kills it with SIGKILL if it still runs: a kill
    /// that lands on a run that has committed and is working on, whatever the machine's
    /// speed. Runs that end on their own are checked as [`Killer::attempt`] does.
    pub async fn attempt_after_progress<F, Fut>(
        &mut self,
        command: tokio::process::Command,
        progress: F,
        delay_ms: Range<u64>,
    ) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = usize>,
    {
        let before = progress().await;
        let (mut child, log) = self.spawn(command);
        let started = Instant::now();
        loop {
            if child.try_wait().expect("child status").is_some() {
                break;
            }
            if progress().await > before {
                let delay = self.rng.random_range(delay_ms.clone());
                tokio::time::sleep(Duration::from_millis(delay)).await;
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "run {} made no progress in {PATIENCE:?}",
                self.attempts
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let waited = format!("{:?} (after progress)", started.elapsed());
        self.finish(&mut child, &log, &waited).await
    }

    fn spawn(&mut self, mut command: tokio::process::Command) -> (tokio::process::Child, PathBuf) {
        self.attempts += 1;
        let log_path = self.logs.join(format!("run-{}.log", self.attempts));
        let log = std::fs::File::create(&log_path).expect("the run log can be made");
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("the log file clones")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("sluice binary starts");
        (child, log_path)
    }

    /// Kills `child` unless it has ended, and checks how a run that ended on its own exited.
    async fn finish(
        &mut self,
        child: &mut tokio::process::Child,
        log: &Path,
        waited: &str,
    ) -> bool {
        let landed = match child.try_wait().expect("child status") {
            None => {
                child.start_kill().expect("SIGKILL"); // kill_on_drop's signal: SIGKILL
                true
            }
            Some(_) => false,
        };
        let status = child.wait().await.expect("child ends");
        if landed {
            self.landed += 1;
        } else {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            assert!(
                matches!(status.code(), Some(0) | Some(3)),
                "run {} (seed {}) ended on its own with {status} after {waited}:\n{output}",
                self.attempts,
                self.seed
            );
            self.ended += 1;
        }
        let _ = std::fs::remove_file(log);
        landed
    }

    /// Runs made by `start` until `kills` kills have landed, alternating two kinds of kill:
    /// at a random moment `early_ms` after the start (while the run starts, finishes an
    /// interrupted commit, fetches), and `after_ms` after `progress` grew (while it commits and
    /// works on). Fails when that takes more than `max_attempts` runs: the job keeps finishing
    /// first.
    pub async fn until_landed<F, Fut>(
        &mut self,
        start: impl Fn() -> tokio::process::Command,
        kills: usize,
        max_attempts: usize,
        early_ms: Range<u64>,
        progress: F,
        after_ms: Range<u64>,
    ) where
        F: Fn() -> Fut,
        Fut: Future<Output = usize>,
    {
        while self.landed < kills {
            assert!(
                self.attempts < max_attempts,
                "only {} of {kills} kills landed in {} runs (seed {}); make the job bigger",
                self.landed,
                self.attempts,
                self.seed
            );
            if self.attempts.is_multiple_of(2) {
                self.attempt(start(), early_ms.clone()).await;
            } else {
                self.attempt_after_progress(start(), &progress, after_ms.clone())
                    .await;
            }
        }
        eprintln!(
            "{} kills landed in {} runs; {} runs ended on their own",
            self.landed, self.attempts, self.ended
        );
    }
}

/// How long one run may go without progress before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// Asserts the kills landed on real work: before the final run, commits had delivered
/// some events (`delivered`, from the checkpoints) and the lake held some (`stored`), but not
/// all `total`: the final run still had work to do.
pub fn assert_partly_done(delivered: u64, stored: usize, total: usize) {
    assert!(
        delivered > 0,
        "no commit happened during the kill loop: the final run did all the work"
    );
    assert!(
        stored > 0 && (stored as u64) >= delivered,
        "the lake holds {stored} events, the checkpoints count {delivered}"
    );
    assert!(
        stored < total,
        "the lake was complete ({stored} of {total}) before the final run: the kills did not land on unfinished work"
    );
}
