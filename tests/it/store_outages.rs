//! State-store outages outside PostgreSQL: the real runtime (`sluice::runtime::run_once`, as
//! `sluice run --once` calls it) over a real SQLite store and a real object store (`file://`),
//! opened as a run opens them (`sluice::state::open_layered`) with a layer underneath that
//! fails chosen calls (`support/outages.rs`): cut before they reach the store, or made with
//! their reply lost. Each run must finish without error, with an exact lake, every commit
//! number committed once, every lost commit reply recognised by reading the store back, and
//! log lines saying that it waited.
//!
//! SQLite is a local file whose errors do not pass by waiting, so only its checkpoint commits
//! wait (the runtime's `commit_checkpoint`); the object store waits out every call that is
//! safe to repeat as well (`state::retry::Retrying`).

use crate::common;

#[path = "support/outages.rs"]
mod outages;

use std::path::Path;
use std::sync::{Arc, Mutex};

use sluice::simulator::SimulatorConfig;

use common::{assert_lake_exact, start_simulator, TestConfig};
use outages::{Call, Fault, Outages, Record};

/// Checkpoint commits: two calls in a row cut, one made, one made with its reply lost (then
/// its retry), over and over. Every commit waits at least once.
fn commit_outages(call: Call, n: u64) -> Option<Fault> {
    match (call, n % 5) {
        (Call::Commit, 1 | 2) => Some(Fault::Down),
        (Call::Commit, 4) => Some(Fault::LostReply),
        _ => None,
    }
}

/// [`commit_outages`], and outages of every other call a run makes: the first load, lease
/// claim (its reply lost: the claim was made), release, run record and history read cut or
/// lost, and every third intent recorded with its reply lost, the next one cut.
fn every_call_outages(call: Call, n: u64) -> Option<Fault> {
    match (call, n) {
        (Call::Commit, _) => commit_outages(call, n),
        (Call::Load | Call::ReleaseLease | Call::RecordRun | Call::RecentRuns, 1) => {
            Some(Fault::Down)
        }
        (Call::AcquireLease, 1) => Some(Fault::LostReply),
        (Call::Prepare, n) if n % 3 == 1 => Some(Fault::LostReply),
        (Call::Prepare, n) if n % 3 == 2 => Some(Fault::Down),
        _ => None,
    }
}

const EVENTS: u64 = 3_000;

/// Runs the simulator's events into a local lake with `state` as the `[state]` table and the
/// store failing as `plan` says; asserts what the module docs say and returns what the store
/// saw and the log.
async fn run_through_outages(state: &str, plan: outages::Plan) -> (Record, String) {
    // The test's runtime has one thread: the runtime's tasks all log here.
    let (captured, _guard) = common::logs::capture(tracing::Level::INFO);

    let sim_config = SimulatorConfig::okta(EVENTS);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &sim.base_url(), state);
    let config = sluice::config::load(&config_path).expect("the test config loads");
    let record = Arc::new(Mutex::new(Record::default()));
    let kept = record.clone();
    let store = sluice::state::open_layered(&config.state, move |inner| {
        Box::new(Outages::new(inner, plan, kept))
    })
    .await
    .expect("the store opens");

    let reports =
        sluice::runtime::run_once(&config, &store, tokio_util::sync::CancellationToken::new())
            .await;
    let log = captured.text();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.error, None, "the run failed:\n{log}");
    assert!(!report.more_pending, "one run catches up:\n{log}");
    assert_eq!(report.events, EVENTS, "{report:?}");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);

    // Read back before the record is taken: these calls count too.
    let stored = store.load("okta").await.expect("the store reads back");
    let runs = store
        .recent_runs("okta", 5)
        .await
        .expect("the history reads back");
    let record = std::mem::take(&mut *record.lock().unwrap_or_else(|e| e.into_inner()));
    // Every commit number once, in order, and the stored checkpoint is the last of them.
    let seqs: Vec<u64> = record
        .landed
        .iter()
        .filter(|(key, _)| key == "okta")
        .map(|(_, seq)| *seq)
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "commit numbers as the store made them");
    assert!(seqs.len() >= 4, "several commits: {seqs:?}");
    assert_eq!(stored.checkpoint.seq, seqs.len() as u64);
    assert_eq!(stored.checkpoint.delivered, EVENTS);
    assert!(stored.intent.is_none(), "no commit left half done");
    // The run was recorded (after its outage, where the plan has one).
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].events, runs[0].error.as_deref()), (EVENTS, None));

    // The outages happened, and each commit whose reply was lost was found in the store by
    // its retry (refused as a conflict at that very commit number), never made again.
    let lost = record.injected(Call::Commit, Fault::LostReply);
    assert!(
        record.injected(Call::Commit, Fault::Down) >= 2 && lost >= 1,
        "{record:?}"
    );
    assert_eq!(
        record.conflicts.len() as u64,
        lost,
        "each lost reply's retry found its commit: {record:?}"
    );
    assert!(
        record.conflicts.iter().all(|seq| seqs.contains(seq)),
        "{record:?}"
    );
    let waits = log
        .lines()
        .filter(|line| line.contains("state store unreachable; commits wait for it"))
        .count() as u64;
    assert_eq!(
        waits,
        record.injected(Call::Commit, Fault::Down) + lost,
        "one line per commit that waited:\n{log}"
    );
    sim.shutdown().await;
    (record, log)
}

fn write_config(dir: &Path, base_url: &str, state: &str) -> std::path::PathBuf {
    let mut test = TestConfig::new(base_url);
    // Small objects: a commit every few pages.
    test.roll_size = "48KB";
    let path = test.write(dir, "");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n", state);
    assert!(text.contains(state), "the state table was replaced");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "current_thread")]
async fn sqlite_commits_wait_out_outages_and_lost_replies_are_not_made_twice() {
    let (record, _log) = run_through_outages(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n",
        commit_outages,
    )
    .await;
    // Only commits were failed: nothing else needed waiting for.
    assert_eq!(record.faults.len(), 2, "{record:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn object_store_waits_out_outages_of_every_call_and_lost_replies_are_not_made_twice() {
    let state_dir = tempfile::tempdir().unwrap();
    let state = format!(
        "[state]\nkind = \"object\"\nurl = \"file://{}/\"\n",
        state_dir.path().display()
    );
    let (record, log) = run_through_outages(&state, every_call_outages).await;
    for (call, fault, what) in [
        (Call::Load, Fault::Down, "load"),
        (Call::AcquireLease, Fault::LostReply, "acquire_lease"),
        (Call::Prepare, Fault::LostReply, "prepare"),
        (Call::Prepare, Fault::Down, "prepare"),
        (Call::ReleaseLease, Fault::Down, "release_lease"),
        (Call::RecordRun, Fault::Down, "record_run"),
        (Call::RecentRuns, Fault::Down, "recent_runs"),
    ] {
        assert!(
            record.injected(call, fault) >= 1,
            "{call:?} {fault:?}: {record:?}"
        );
        // Retrying says which call waited, and why.
        let waited = format!("call=\"{what}\"");
        let cause = format!("injected outage: {call:?} {fault:?}");
        assert!(
            log.lines().any(|line| {
                line.contains("state store unreachable; waiting for it")
                    && line.contains(&waited)
                    && line.contains(&cause)
            }),
            "no wait logged for {cause}:\n{log}"
        );
    }
}

/// Takeovers: another worker takes the lease over at the first checkpoint commit of each of
/// [`TAKEOVERS`] runs in a row, more than `circuit_breaker.failures`.
fn takeovers(call: Call, n: u64) -> Option<Fault> {
    (call == Call::Commit && n <= TAKEOVERS).then_some(Fault::Fenced)
}

const TAKEOVERS: u64 = 6;

/// A worker whose lease was taken over (paused past it, in a fleet of daemons) stops without
/// committing: a handover, reported as a skip and never as a failure, so however often it
/// happens the circuit breaker stays closed and the fleet goes on; the next run delivers
/// every event exactly once.
#[tokio::test(flavor = "current_thread")]
async fn a_lease_taken_over_is_a_handover_that_never_opens_the_circuit_breaker() {
    let sim_config = SimulatorConfig::okta(EVENTS);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n";
    let config_path = write_config(dir.path(), &sim.base_url(), sqlite);
    let config = sluice::config::load(&config_path).expect("the test config loads");
    let record = Arc::new(Mutex::new(Record::default()));
    let kept = record.clone();
    let store = sluice::state::open_layered(&config.state, move |inner| {
        Box::new(Outages::new(inner, takeovers, kept))
    })
    .await
    .expect("the store opens");
    let source = &config.sources[0];
    assert!((source.circuit_breaker.failures as u64) < TAKEOVERS);

    for run in 1..=TAKEOVERS {
        let reports =
            sluice::runtime::run_once(&config, &store, tokio_util::sync::CancellationToken::new())
                .await;
        let report = &reports[0];
        assert_eq!(report.error, None, "run {run}: a handover is not a failure");
        assert!(
            report
                .skipped
                .as_deref()
                .is_some_and(|why| why.contains("taken over")),
            "run {run} says it was handed over: {report:?}"
        );
    }
    assert_eq!(
        record.lock().unwrap().injected(Call::Commit, Fault::Fenced),
        TAKEOVERS
    );
    let parked = sluice::runtime::parked(source, store.as_ref())
        .await
        .unwrap();
    assert_eq!(parked, None, "handovers never open the circuit breaker");

    let reports =
        sluice::runtime::run_once(&config, &store, tokio_util::sync::CancellationToken::new())
            .await;
    assert_eq!(reports[0].error, None, "{:?}", reports[0]);
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

/// Every checkpoint commit cut: the store is down for good.
fn commits_down(call: Call, _n: u64) -> Option<Fault> {
    (call == Call::Commit).then_some(Fault::Down)
}

/// A stop request (SIGTERM, Ctrl-C, a deadline) while a commit waits for an unreachable store
/// ends the wait: the run fails as `cancelled` (not after the minutes of retrying that end in
/// `state`), and its record says so. Nothing past the last commit was recorded.
#[tokio::test(flavor = "current_thread")]
async fn a_stop_while_a_commit_waits_for_the_store_ends_the_run_as_cancelled() {
    let (captured, _guard) = common::logs::capture(tracing::Level::INFO);

    let sim = start_simulator(SimulatorConfig::okta(EVENTS)).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(
        dir.path(),
        &sim.base_url(),
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n",
    );
    let config = sluice::config::load(&config_path).expect("the test config loads");
    let record = Arc::new(Mutex::new(Record::default()));
    let store = sluice::state::open_layered(&config.state, move |inner| {
        Box::new(Outages::new(inner, commits_down, record))
    })
    .await
    .expect("the store opens");

    let stop = tokio_util::sync::CancellationToken::new();
    let trigger = stop.clone();
    let watched = captured.clone();
    tokio::spawn(async move {
        while !watched
            .text()
            .contains("state store unreachable; commits wait for it")
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        trigger.cancel();
    });
    let reports = sluice::runtime::run_once(&config, &store, stop).await;
    let log = captured.text();
    let error = reports[0].error.as_ref().expect("the run failed");
    assert_eq!(error.kind().as_str(), "cancelled", "{error}\n{log}");
    assert!(
        error.message().contains("stopped while its commit waited"),
        "{error}"
    );
    let runs = store.recent_runs("okta", 1).await.unwrap();
    assert_eq!(
        runs[0].kind,
        Some(sluice::model::FailureKind::Cancelled),
        "{runs:?}"
    );
    let stored = store.load("okta").await.unwrap();
    assert_eq!(stored.checkpoint.seq, 0, "nothing committed");
    assert!(
        stored.intent.is_some(),
        "the intent is kept for the next run"
    );
    sim.shutdown().await;
}
