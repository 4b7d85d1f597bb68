//! Verify, retention and published heads on an S3 lake (the servers of `tests/it/lake_s3.rs`:
//! s3s-fs or moto, skipped as there when neither is installed): a signed lake with heads in
//! the bucket verifies intact, retention deletes and verify still passes, an object
//! overwritten behind sluice's back is reported; on an Object Lock lake (moto), retention
//! skips and reports the objects the lock still holds.

use crate::common;

#[cfg(feature = "s3")]
mod s3 {
    use std::collections::BTreeSet;
    use std::path::Path;

    use chrono::{DateTime, Utc};
    use futures_util::StreamExt;
    use object_store::path::Path as StorePath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
    use sluice::simulator::SimulatorConfig;

    use super::common::s3::{sluice_with_keys, start_moto, start_server, S3Server, BUCKET};
    use super::common::{output_text, start_simulator, TestConfig};

    const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

    fn write_config(
        dir: &Path,
        base_url: &str,
        server: &S3Server,
        bucket: &str,
        source_extra: &str,
        sink_extra: &str,
    ) -> String {
        let mut test_config = TestConfig::new(base_url);
        test_config.extra_source = source_extra;
        let source = test_config.source_table();
        let text = format!(
            r#"
[state]
kind = "sqlite"
path = "state.db"
{source}
[[sinks]]
name = "lake"
kind = "lake"
url = "s3://{bucket}/audit"
endpoint = "{endpoint}"
allow_http = true
roll_size = "16KB"
{sink_extra}
"#,
            endpoint = server.endpoint
        );
        let path = dir.join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    async fn sluice(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
        let out = sluice_with_keys(args)
            .env("LEDGER_KEY", SEED)
            .output()
            .await
            .unwrap();
        let text = output_text(&out);
        let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code(), json, text)
    }

    async fn run_until_caught_up(config: &str) {
        for _ in 0..20 {
            let (code, _, text) = sluice(&["run", "--once", "--config", config]).await;
            match code {
                Some(0) => return,
                Some(3) => continue,
                _ => panic!("sluice run failed: {text}"),
            }
        }
        panic!("sluice did not catch up in 20 runs");
    }

    /// Every object key of the lake's ledger with its newest event time, from the records.
    async fn ledger_objects(
        client: &dyn ObjectStore,
        prefix: &str,
    ) -> Vec<(String, DateTime<Utc>)> {
        let dir = StorePath::from(format!("{prefix}/_manifest/source=okta"));
        let metas: Vec<_> = client.list(Some(&dir)).collect().await;
        let mut found = Vec::new();
        for meta in metas {
            let meta = meta.unwrap();
            let bytes = client
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for object in record["objects"].as_array().unwrap() {
                found.push((
                    object["key"].as_str().unwrap().to_string(),
                    object["last_event_time"].as_str().unwrap().parse().unwrap(),
                ));
            }
        }
        found.sort();
        found
    }

    fn verdict(reports: &serde_json::Value) -> (u64, u64, Vec<String>) {
        let report = &reports[0];
        let kinds = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_string())
            .collect();
        (
            report["objects"].as_u64().unwrap(),
            report["deleted"].as_u64().unwrap(),
            kinds,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_signed_s3_lake_verifies_keeps_verifying_after_retention_and_shows_tampering() {
        let Some(server) = start_server().await else {
            return;
        };
        let sim_config = SimulatorConfig::okta(3_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let ledger = format!(
            "ledger = {{ signing_key = \"${{env:LEDGER_KEY}}\", heads = \"s3://{BUCKET}/heads\" }}"
        );
        let config = write_config(dir.path(), &sim.base_url(), &server, BUCKET, "", &ledger);
        run_until_caught_up(&config).await;
        let client = server.client();
        let objects = ledger_objects(&*client, "audit").await;
        assert!(objects.len() >= 4, "{objects:?}");
        let heads: Vec<_> = client
            .list(Some(&StorePath::from("heads/_heads")))
            .collect()
            .await;
        assert!(!heads.is_empty(), "a head was published to the bucket");

        let verify = ["lake", "verify", "--json", "--config", config.as_str()];
        let (code, reports, text) = sluice(&verify).await;
        assert_eq!(code, Some(0), "{text}");
        assert_eq!(
            verdict(&reports),
            (objects.len() as u64, 0, vec![]),
            "{text}"
        );

        // Retention over the older half.
        let times: BTreeSet<DateTime<Utc>> = objects.iter().map(|(_, t)| *t).collect();
        let times: Vec<_> = times.into_iter().collect();
        let mid = times.len() / 2;
        let cutoff = times[mid - 1] + (times[mid] - times[mid - 1]) / 2;
        let retain = format!(
            "retain = \"{}s\"",
            (Utc::now() - cutoff).num_seconds().max(1)
        );
        write_config(
            dir.path(),
            &sim.base_url(),
            &server,
            BUCKET,
            &retain,
            &ledger,
        );
        let (code, applied, text) =
            sluice(&["lake", "retain", "--apply", "--json", "--config", &config]).await;
        assert_eq!(code, Some(0), "{text}");
        let deleted: BTreeSet<String> = applied[0]["expired"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert!(
            !deleted.is_empty() && deleted.len() < objects.len(),
            "{text}"
        );
        for (key, _) in &objects {
            let there = client
                .head(&StorePath::from(format!("audit/{key}")))
                .await
                .is_ok();
            assert_eq!(there, !deleted.contains(key), "{key}");
        }
        let (code, reports, text) = sluice(&verify).await;
        assert_eq!(code, Some(0), "{text}");
        let left = (objects.len() - deleted.len()) as u64;
        assert_eq!(
            verdict(&reports),
            (left, deleted.len() as u64, vec![]),
            "{text}"
        );

        // An object overwritten behind sluice's back.
        let kept = objects
            .iter()
            .find(|(key, _)| !deleted.contains(key))
            .unwrap();
        client
            .put(
                &StorePath::from(format!("audit/{}", kept.0)),
                PutPayload::from_static(b"not the events"),
            )
            .await
            .unwrap();
        let (code, reports, text) = sluice(&verify).await;
        assert_eq!(code, Some(1), "{text}");
        assert_eq!(verdict(&reports).2, vec!["modified".to_string()], "{text}");
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retention_skips_and_reports_objects_object_lock_still_holds() {
        let Some(server) = start_moto().await else {
            return;
        };
        let bucket = "locked-retention";
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", server.endpoint))
            .header("x-amz-bucket-object-lock-enabled", "true")
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        let sim_config = SimulatorConfig::okta(2_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let lock = "object_lock = { mode = \"governance\", retain_for = \"30d\" }";
        // Every event is older than a second: all of it is expired, none of it deletable.
        let config = write_config(
            dir.path(),
            &sim.base_url(),
            &server,
            bucket,
            "retain = \"1s\"",
            lock,
        );
        run_until_caught_up(&config).await;
        let objects = ledger_objects(&*server.client_of(bucket), "audit").await;
        assert!(objects.len() >= 2, "{objects:?}");

        let (code, applied, text) =
            sluice(&["lake", "retain", "--apply", "--json", "--config", &config]).await;
        assert_eq!(code, Some(0), "{text}");
        assert_eq!(applied[0]["expired"], serde_json::json!([]), "{text}");
        let locked: BTreeSet<String> = applied[0]["locked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["key"].as_str().unwrap().to_string())
            .collect();
        let all: BTreeSet<String> = objects.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(locked, all, "{text}");
        let human = sluice_with_keys(&["lake", "retain", "--config", &config])
            .output()
            .await
            .unwrap();
        assert!(
            output_text(&human).contains("under Object Lock retention until"),
            "{}",
            output_text(&human)
        );
        let (code, _, text) = sluice(&["lake", "verify", "--json", "--config", &config]).await;
        assert_eq!(code, Some(0), "{text}");
        sim.shutdown().await;
    }
}
