//! A state store lost, replaced or restored from an old backup never makes a run replace a
//! published lake object or deliver an event twice: a source whose state is empty while
//! its lake holds objects refuses to start, `sluice state recover --from-lake` rebuilds its
//! checkpoint, and a publish that would land on an object with other content fails. Also:
//! two first runs on a fresh SQLite file never fail with a config error.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use sluice::simulator::SimulatorConfig;

use common::{assert_lake_exact, lake, output_text, run_sluice, start_simulator, TestConfig};

/// Every file under `dir` (recursively, staging and lock files left out) and the SHA-256 of
/// its bytes.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            let key = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if key.starts_with("_staging") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                found.insert(key, format!("{digest:x}"));
            }
        }
    }
    found
}

/// Every published object of `before` is still there with the same bytes in `after`.
fn assert_unchanged(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    for (key, digest) in before {
        assert_eq!(
            after.get(key),
            Some(digest),
            "published object {key} was changed or removed"
        );
    }
}

fn remove_state(dir: &Path) {
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

/// A config of a page-capped source (7 pages of 100 a run), so each run delivers part.
fn capped_config(dir: &Path, base_url: &str) -> String {
    let mut cfg = TestConfig::new(base_url);
    cfg.limit = 100;
    cfg.roll_size = "16KB";
    let path = cfg.write(dir, "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("timeout = \"5s\" }", "timeout = \"5s\", max_pages = 7 }");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

async fn run(config: &str) -> std::process::Output {
    run_sluice(&["run", "--once", "--config", config]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_store_is_refused_then_recovered_from_the_lake_without_duplicates() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = capped_config(dir.path(), &sim.base_url());
    let lake_dir = dir.path().join("lake");

    // Two capped runs deliver part of the events.
    for _ in 0..2 {
        let out = run(&config).await;
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    let delivered = lake::peek_local(&lake_dir, "okta", &sim_config).events();
    assert!(
        delivered > 0 && delivered < 2_000,
        "partly delivered: {delivered}"
    );
    let before = hashes(&lake_dir);

    // The state store is lost: the next run refuses, naming the source, the lake prefix
    // and the command that recovers, and changes nothing.
    remove_state(dir.path());
    let out = run(&config).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("source `okta`")
            && shown.contains(&format!("{}/source=okta/", lake_dir.display()))
            && shown.contains("sluice state recover --from-lake --source okta"),
        "{shown}"
    );
    assert_eq!(hashes(&lake_dir), before, "a refused run changes nothing");

    // Recovery rebuilds the checkpoint from the lake's newest events.
    let out = run_sluice(&[
        "state",
        "recover",
        "--from-lake",
        "--source",
        "okta",
        "--config",
        &config,
    ])
    .await;
    let shown = output_text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("recovered source `okta`"), "{shown}");
    // A second recovery finds a checkpoint and refuses without --force.
    let again = run_sluice(&[
        "state",
        "recover",
        "--from-lake",
        "--source",
        "okta",
        "--config",
        &config,
    ])
    .await;
    assert_eq!(again.status.code(), Some(1), "{}", output_text(&again));
    assert!(output_text(&again).contains("--force"));

    // Runs go on from there: the lake ends exact, and no published object changed.
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 30, "never caught up");
        let out = run(&config).await;
        match out.status.code() {
            Some(3) => continue,
            Some(0) => break,
            other => panic!("exit {other:?}: {}", output_text(&out)),
        }
    }
    assert_lake_exact(&lake_dir, "okta", &sim_config);
    assert_unchanged(&before, &hashes(&lake_dir));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_restored_from_an_older_backup_never_replaces_an_object() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = capped_config(dir.path(), &sim.base_url());
    let lake_dir = dir.path().join("lake");

    let out = run(&config).await;
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    // A backup of the state (the SQLite file is consistent between runs: no WAL left).
    let backup = dir.path().join("backup.db");
    std::fs::copy(dir.path().join("state.db"), &backup).unwrap();
    let out = run(&config).await;
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let before = hashes(&lake_dir);

    // Restored: the next batch is named as one already published, with other bytes.
    remove_state(dir.path());
    std::fs::copy(&backup, dir.path().join("state.db")).unwrap();
    let out = run(&config).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("never replaces a published object")
            && shown.contains("--from-lake --source okta --force"),
        "{shown}"
    );
    assert_unchanged(&before, &hashes(&lake_dir));

    let out = run_sluice(&[
        "state",
        "recover",
        "--from-lake",
        "--source",
        "okta",
        "--force",
        "--config",
        &config,
    ])
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 30, "never caught up");
        let out = run(&config).await;
        match out.status.code() {
            Some(3) => continue,
            Some(0) => break,
            other => panic!("exit {other:?}: {}", output_text(&out)),
        }
    }
    assert_lake_exact(&lake_dir, "okta", &sim_config);
    assert_unchanged(&before, &hashes(&lake_dir));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_runs_on_a_fresh_sqlite_file_never_fail_with_a_config_error() {
    let sim_config = SimulatorConfig::okta(200);
    let sim = start_simulator(sim_config.clone()).await;
    for trial in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let config = TestConfig::new(&sim.base_url()).write(dir.path(), "");
        let config = config.to_str().unwrap();
        let (a, b) = tokio::join!(run(config), run(config));
        for out in [&a, &b] {
            assert_eq!(
                out.status.code(),
                Some(0),
                "trial {trial}: {}",
                output_text(out)
            );
        }
        let skipped = [&a, &b]
            .iter()
            .filter(|out| output_text(out).contains("source skipped"))
            .count();
        assert!(skipped <= 1, "trial {trial}: at most one run skips");
        assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    }
    sim.shutdown().await;
}
