//! Retention (`retain = "..."`, `sluice lake retain [--apply]`, `[serve] retain_every`):
//! exactly the objects older than the cutoff are listed, then deleted; every deletion is a
//! ledger record, so `sluice lake verify` still passes and counts them as deleted; `--apply`
//! without `retain` is refused naming the key; the daemon applies it on its interval; and
//! `--apply` killed with `kill -9` again and again, mid-delete included, is finished by the
//! next run: exactly the expired objects end up gone, and verify passes.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sluice::simulator::SimulatorConfig;

use common::daemon::Daemon;
use common::kill::test_seed;
use common::{output_text, run_sluice, run_until_caught_up, sluice, start_simulator, TestConfig};

/// Every ledger entry of the source's own chains: (object key, last event time).
fn ledger_objects(lake: &Path) -> Vec<(String, DateTime<Utc>)> {
    let mut found = Vec::new();
    let dir = lake.join("_manifest/source=okta");
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for object in record["objects"].as_array().unwrap() {
            let last = object["last_event_time"].as_str().unwrap().parse().unwrap();
            found.push((object["key"].as_str().unwrap().to_string(), last));
        }
    }
    found.sort();
    found
}

/// `retain` putting the cutoff between the older and the newer half of the objects.
fn retain_splitting(objects: &[(String, DateTime<Utc>)]) -> String {
    let times: BTreeSet<DateTime<Utc>> = objects.iter().map(|(_, t)| *t).collect();
    let times: Vec<DateTime<Utc>> = times.into_iter().collect();
    assert!(times.len() >= 4, "{objects:?}");
    let mid = times.len() / 2;
    let cutoff = times[mid - 1] + (times[mid] - times[mid - 1]) / 2;
    format!("{}s", (Utc::now() - cutoff).num_seconds().max(1))
}

fn write_config(dir: &Path, base_url: &str, extra: &str, serve: &str) -> PathBuf {
    let mut test_config = TestConfig::new(base_url);
    test_config.roll_size = "16KB";
    test_config.extra_source = extra;
    let path = test_config.write(dir, "");
    if !serve.is_empty() {
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{serve}\n{text}")).unwrap();
    }
    path
}

async fn retain_json(config: &str, apply: bool) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec!["lake", "retain", "--json", "--config", config];
    if apply {
        args.push("--apply");
    }
    let out = run_sluice(&args).await;
    let text = output_text(&out);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), value, text)
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_lists_then_deletes_exactly_the_expired_objects_and_verify_still_passes() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &base_url, "", "");
    let config = config.to_str().unwrap().to_string();
    run_until_caught_up(&config, 20, &[]).await;
    let lake = dir.path().join("lake");
    let objects = ledger_objects(&lake);

    // Without `retain`, --apply is refused, naming the source and the key.
    let out = run_sluice(&[
        "lake", "retain", "--apply", "--source", "okta", "--config", &config,
    ])
    .await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`okta`") && text.contains("retain ="),
        "{text}"
    );

    let retain = format!("retain = \"{}\"", retain_splitting(&objects));
    write_config(dir.path(), &base_url, &retain, "");

    // Listing deletes nothing, and lists exactly the objects older than the cutoff.
    let (code, listed, text) = retain_json(&config, false).await;
    assert_eq!(code, Some(0), "{text}");
    let cutoff: DateTime<Utc> = listed[0]["cutoff"].as_str().unwrap().parse().unwrap();
    let expected: BTreeSet<String> = objects
        .iter()
        .filter(|(_, last)| *last < cutoff)
        .map(|(key, _)| key.clone())
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < objects.len(),
        "{text}"
    );
    assert_eq!(keys(&listed[0]["expired"]), expected, "{text}");
    assert_eq!(listed[0]["applied"], false);
    assert!(expected.iter().all(|key| lake.join(key).exists()));
    let human = run_sluice(&["lake", "retain", "--config", &config]).await;
    assert!(
        output_text(&human).contains("--apply"),
        "{}",
        output_text(&human)
    );

    // --apply deletes them, and only them.
    let (code, applied, text) = retain_json(&config, true).await;
    assert_eq!(code, Some(0), "{text}");
    let deleted = keys(&applied[0]["expired"]);
    assert!(deleted.is_superset(&expected), "{text}");
    for (key, last) in &objects {
        let gone = !lake.join(key).exists();
        assert_eq!(
            gone,
            deleted.contains(key),
            "{key} (last event {last}): {text}"
        );
    }
    let records: Vec<_> = std::fs::read_dir(lake.join("_manifest/source=okta@retention"))
        .unwrap()
        .collect();
    assert_eq!(records.len(), 1, "one retention record");

    // Verify passes, and counts the deletions as expected.
    let reports = common::assert_lake_verifies(&config).await;
    assert_eq!(reports[0]["deleted"], deleted.len(), "{reports}");
    assert_eq!(reports[0]["objects"], objects.len() - deleted.len());

    // A second --apply finds nothing more; verify still passes.
    let (code, again, text) = retain_json(&config, true).await;
    assert_eq!(code, Some(0), "{text}");
    let again_deleted = keys(&again[0]["expired"]);
    assert!(again_deleted.iter().all(|k| !deleted.contains(k)), "{text}");
    common::assert_lake_verifies(&config).await;

    // The retention record removed: the deleted objects are missing again, and the chain's
    // head no longer matches the state store's.
    let record = std::fs::read_dir(lake.join("_manifest/source=okta@retention"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(record).unwrap();
    let out = run_sluice(&["lake", "verify", "--json", "--config", &config]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("\"missing\"") && text.contains("head_mismatch"),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_applies_retention_on_its_interval() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &base_url, "", "");
    run_until_caught_up(config.to_str().unwrap(), 20, &[]).await;
    let lake = dir.path().join("lake");
    let objects = ledger_objects(&lake);
    let retain = format!("retain = \"{}\"", retain_splitting(&objects));
    let config = write_config(
        dir.path(),
        &base_url,
        &retain,
        "[serve]\nretain_every = \"300ms\"\nschedule = { every = \"1h\" }\n",
    );

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    let line = daemon
        .wait_for_log(|l| l.contains("retention applied") && !l.contains("deleted=0"))
        .await;
    daemon.stop().await;
    assert!(line.contains("source=okta"), "{line}");
    let gone = objects
        .iter()
        .filter(|(k, _)| !lake.join(k).exists())
        .count();
    assert!(
        gone > 0 && gone < objects.len(),
        "{gone} of {}: {line}",
        objects.len()
    );
    common::assert_lake_verifies(config.to_str().unwrap()).await;
    sim.shutdown().await;
}

/// Retention kill steps: each one expires about a tenth of the lake more.
const KILL_STEPS: usize = 9;

/// The keys the retention records in the lake list as deleted.
fn recorded_deleted(lake: &Path) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(lake.join("_manifest/source=okta@retention")) else {
        return keys;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for deleted in record["deleted"].as_array().unwrap() {
                keys.insert(deleted["key"].as_str().unwrap().to_string());
            }
        }
    }
    keys
}

/// How a run is killed: as soon as its retention record is in the lake (its deletes about
/// to start), as soon as the first object of its step is gone (mid-delete), or at a random
/// moment of the whole run.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    Recorded,
    Deleting,
    Random,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_killed_again_and_again_still_deletes_exactly_the_expired_objects() {
    use rand::{Rng, SeedableRng};
    let sim_config = SimulatorConfig::okta(10_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    // Small pages, each its own commit and object: many objects, so deletes take long
    // enough for kills to land among them.
    let with_retain = |retain: &str| {
        let mut test_config = TestConfig::new(&base_url);
        test_config.limit = 10;
        test_config.roll_size = "4KB";
        test_config.extra_source = retain;
        test_config.write(dir.path(), "")
    };
    let config_path = with_retain("");
    let config = config_path.to_str().unwrap().to_string();
    run_until_caught_up(&config, 20, &[]).await;
    sim.shutdown().await;
    let lake = dir.path().join("lake");
    let objects = ledger_objects(&lake);
    assert!(objects.len() > 500, "{} objects", objects.len());
    let mut times: Vec<DateTime<Utc>> = objects.iter().map(|(_, t)| *t).collect();
    times.sort();

    let seed = test_seed("retention_kill9");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let logs = dir.path().join("runs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut retain = String::new();
    // Runs killed while a recorded deletion was unfinished: some objects its record lists
    // were still in the lake.
    let mut interrupted = 0;
    let mut landed = 0;
    for step in 1..=KILL_STEPS {
        // A cutoff further into the lake at each step, so each run has objects to delete
        // (and first finishes what the killed run before it left).
        let cutoff = times[times.len() * step / (KILL_STEPS + 2)];
        retain = format!(
            "retain = \"{}s\"",
            (Utc::now() - cutoff).num_seconds().max(1)
        );
        with_retain(&retain);
        let present: Vec<&String> = objects
            .iter()
            .filter(|(key, last)| *last < cutoff && lake.join(key).exists())
            .map(|(key, _)| key)
            .collect();
        let first = present.first().map(|key| lake.join(key));
        let records_before = recorded_deleted(&lake).len();
        let kill_at = match step % 3 {
            0 => KillAt::Recorded,
            1 => KillAt::Deleting,
            _ => KillAt::Random,
        };
        let random_ms = rng.random_range(0..150u64);
        let log = std::fs::File::create(logs.join(format!("run-{step}.log"))).unwrap();
        let mut child = sluice()
            .args([
                "lake", "retain", "--apply", "--source", "okta", "--config", &config,
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let ended = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            let now = match kill_at {
                KillAt::Recorded => recorded_deleted(&lake).len() > records_before,
                KillAt::Deleting => first.as_ref().is_some_and(|f| !f.exists()),
                KillAt::Random => started.elapsed().as_millis() as u64 >= random_ms,
            };
            if now {
                break None;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "step {step} (seed {seed}): retention made no progress"
            );
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        match ended {
            None => {
                child.start_kill().unwrap();
                child.wait().await.unwrap();
                landed += 1;
                let recorded = recorded_deleted(&lake);
                if recorded.iter().any(|key| lake.join(key).exists()) {
                    interrupted += 1;
                }
            }
            Some(status) => {
                let output = std::fs::read_to_string(logs.join(format!("run-{step}.log"))).unwrap();
                assert!(
                    status.success(),
                    "step {step} (seed {seed}) ended with {status}:\n{output}"
                );
            }
        }
        eprintln!(
            "step {step}: {kill_at:?}, {} expired objects present",
            present.len()
        );
    }
    eprintln!("{landed} kills landed, {interrupted} mid-deletion");
    assert!(
        interrupted >= 2,
        "only {interrupted} of {landed} kills landed between a deletion's record and its last delete (seed {seed}); make the lake bigger"
    );

    // The last run, to its end: it finishes what the last kill left, and deletes exactly
    // what is older than its cutoff.
    with_retain(&retain);
    let (code, applied, text) = retain_json(&config, true).await;
    assert_eq!(code, Some(0), "{text}");
    let cutoff: DateTime<Utc> = applied[0]["cutoff"].as_str().unwrap().parse().unwrap();
    let expired: BTreeSet<&String> = objects
        .iter()
        .filter(|(_, last)| *last < cutoff)
        .map(|(key, _)| key)
        .collect();
    assert!(!expired.is_empty() && expired.len() < objects.len());
    for (key, last) in &objects {
        assert_eq!(
            !lake.join(key).exists(),
            expired.contains(key),
            "{key} (last event {last}, cutoff {cutoff}; seed {seed})"
        );
    }
    assert_eq!(
        recorded_deleted(&lake),
        expired.iter().map(|k| k.to_string()).collect(),
        "the retention records list exactly the deleted objects"
    );
    let reports = common::assert_lake_verifies(&config).await;
    assert_eq!(reports[0]["deleted"], expired.len(), "{reports}");
    assert_eq!(reports[0]["objects"], objects.len() - expired.len());
}
