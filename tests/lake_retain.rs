//! Retention (`retain = "..."`, `sluice lake retain [--apply]`, `[serve] retain_every`):
//! exactly the objects older than the cutoff are listed, then deleted; every deletion is a
//! ledger record, so `sluice lake verify` still passes and counts them as deleted; `--apply`
//! without `retain` is refused naming the key; the daemon applies it on its interval.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sluice::simulator::SimulatorConfig;

use common::daemon::Daemon;
use common::{output_text, run_sluice, run_until_caught_up, start_simulator, TestConfig};

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
