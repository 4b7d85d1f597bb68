//! The `gs://` lake against the in-process GCS emulator of `tests/it/common/gcs.rs` (Google's
//! XML API as `object_store`'s client uses it, preconditions included): the real binary
//! delivers the simulator into a bucket exactly once, large objects go up in parts, and a
//! published object is never replaced, not even by a writer racing between sluice's lookup
//! and its create-only copy.
//!
//! The emulator runs in the test process, so nothing is skipped.

use crate::common;

#[cfg(not(feature = "gcs"))]
#[test]
fn gcs_tests_need_the_gcs_feature() {
    common::skip::skip(
        "the `gcs` feature",
        "the GCS lake tests are not built",
        "cargo test --all-features",
    );
}

#[cfg(feature = "gcs")]
mod gcs {
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use object_store::path::Path as StorePath;
    use object_store::ObjectStoreExt;
    use sluice::config::LakeConfig;
    use sluice::simulator::SimulatorConfig;
    use sluice::sink::lake::{read_lake_at, LakeSink};
    use sluice::sink::Sink;
    use sluice::transform::{Envelope, EnvelopeTime};

    use super::common::gcs::{shared, Gcs, BUCKET};
    use super::common::lake::{assert_a_published_object_is_never_replaced, check_store};
    use super::common::{run_until_caught_up, start_simulator, TestConfig};

    /// The lake sink config for `gs://lake/<prefix>` on the emulator.
    fn lake(prefix: &str, extra: &str) -> LakeConfig {
        toml::from_str(&format!(
            "name = \"lake\"\nurl = \"gs://{BUCKET}/{prefix}\"\nallow_http = true\n{extra}"
        ))
        .expect("a valid lake config")
    }

    fn event(id: &str, secs: i64, data: serde_json::Value) -> Envelope {
        Envelope {
            event_time: EnvelopeTime(Utc.timestamp_opt(secs, 0).unwrap()),
            parse_time: EnvelopeTime(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
            source: Arc::from("okta"),
            event_id: id.to_string(),
            data: data.into(),
            ocsf: Default::default(),
        }
    }

    /// Every object name under `prefix`, sorted.
    async fn list(gcs: &Gcs, prefix: &str) -> Vec<String> {
        use futures_util::StreamExt;
        let prefix = StorePath::from(prefix);
        let mut names: Vec<String> = gcs
            .client()
            .list(Some(&prefix))
            .map(|meta| meta.expect("the emulator lists").location.to_string())
            // The manifest ledger's records (`tests/it/lake_verify.rs` checks those).
            .filter(|key| std::future::ready(!super::common::lake::is_ledger(key)))
            .collect()
            .await;
        names.sort();
        names
    }

    /// The `[state]` table of a run: SQLite next to the config.
    const SQLITE_STATE: &str = "kind = \"sqlite\"\npath = \"state.db\"";

    fn write_config(dir: &Path, base_url: &str, prefix: &str, state: &str) -> String {
        let source = TestConfig::new(base_url).source_table();
        let text = format!(
            r#"
[state]
{state}
{source}
[[sinks]]
name = "lake"
kind = "lake"
url = "gs://{BUCKET}/{prefix}"
allow_http = true
roll_size = "48KB"
"#
        );
        let path = dir.join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Reads the bucket back through a client of the test's own: exactly the simulator's
    /// events with their data and times, nothing left in staging, no stray object.
    async fn assert_exact(gcs: &Gcs, prefix: &str, sim: &SimulatorConfig) {
        let report = check_store(&*gcs.client(), prefix, "okta", sim).await;
        report.assert_exact(
            sim,
            &format!("gs://{BUCKET}/{prefix} differs from the simulator"),
        );
        let all = list(gcs, prefix).await;
        assert_eq!(
            all.len(),
            report.keys.len(),
            "objects besides the source's: {all:?}"
        );
        assert!(
            report.keys.len() > super::common::gcs::PAGE_SIZE,
            "{} objects: the listing should span pages",
            report.keys.len()
        );
        // Sluice's own reader agrees.
        gcs.set_env();
        let contents = read_lake_at(&lake(prefix, ""), "okta").await.unwrap();
        assert_eq!(contents.event_ids.len(), report.lines);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_delivers_the_simulator_into_gcs_exactly() {
        let gcs = shared();
        let sim_config = SimulatorConfig::okta(3_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &sim.base_url(), "e2e", SQLITE_STATE);
        let env = gcs.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_until_caught_up(&config, 20, &env).await;
        assert_exact(gcs, "e2e", &sim_config).await;
        // Another run finds nothing new and changes nothing.
        run_until_caught_up(&config, 20, &env).await;
        assert_exact(gcs, "e2e", &sim_config).await;
        sim.shutdown().await;
    }

    /// The Cloud Run shape of docs/deployment.md: the state in the lake's bucket too
    /// (`kind = "object"`, create-only and generation-matched writes), no local disk kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_keeps_its_state_in_gcs_beside_the_lake() {
        let gcs = shared();
        let sim_config = SimulatorConfig::okta(2_000);
        let sim = start_simulator(sim_config.clone()).await;
        let state =
            format!("kind = \"object\"\nurl = \"gs://{BUCKET}/state-beside/\"\nallow_http = true");
        let env = gcs.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for _ in 0..2 {
            // A fresh directory each time: nothing survives on disk between the runs.
            let dir = tempfile::tempdir().unwrap();
            let config = write_config(dir.path(), &sim.base_url(), "beside", &state);
            run_until_caught_up(&config, 20, &env).await;
            assert_exact(gcs, "beside", &sim_config).await;
        }
        let state_objects = list(gcs, "state-beside").await;
        assert!(
            state_objects
                .iter()
                .any(|k| k == "state-beside/checkpoints/okta.json"),
            "{state_objects:?}"
        );
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_object_goes_up_in_parts_and_is_published_whole() {
        use rand::Rng;
        let gcs = shared();
        gcs.set_env();
        let config = lake("big", "part_size = \"5MiB\"\nroll_size = \"64MiB\"");
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        let mut rng = rand::rng();
        let mut ids = Vec::new();
        // About 12 MB compressed in one hour partition: at least two 5 MiB parts.
        for page in 0..20 {
            let events: Vec<Envelope> = (0..8)
                .map(|i| {
                    // 64 symbols: gzip cannot get much below 6 bits a character.
                    let noise: String = (0..100_000)
                        .map(|_| char::from(b'0' + rng.random_range(0..64u8)))
                        .collect();
                    let id = format!("e{page:02}-{i}");
                    ids.push(id.clone());
                    event(
                        &id,
                        1_700_000_000 + page,
                        serde_json::json!({ "noise": noise }),
                    )
                })
                .collect();
            sink.write(&events).await.unwrap();
        }
        let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
        // The objects, without the commit's ledger record.
        let prepared: Vec<&serde_json::Value> = payload
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["ledger"] != true)
            .collect();
        assert_eq!(prepared.len(), 1);
        let parts = prepared[0]["parts"].as_u64().unwrap_or(0);
        let bytes = prepared[0]["bytes"].as_u64().unwrap();
        assert!(parts >= 2, "expected a multipart upload: {payload}");
        sink.publish(&payload).await.unwrap();
        let contents = read_lake_at(&config, "okta").await.unwrap();
        assert_eq!(contents.objects, 1);
        assert_eq!(
            contents.bytes, bytes,
            "the published object holds every byte"
        );
        assert_eq!(contents.event_ids, ids);
        assert!(list(gcs, "big/_staging").await.is_empty());
    }

    /// The same batch twice is accepted (a publish finished again); other bytes under a
    /// published name are refused and the object keeps its bytes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_published_object_is_never_replaced() {
        let gcs = shared();
        gcs.set_env();
        let config = lake("replay", "compression = \"zstd\"");
        let client = gcs.client();
        let key = assert_a_published_object_is_never_replaced(&config, &client, "replay/").await;
        assert_eq!(list(gcs, "replay").await, vec![key.to_string()]);
        assert_eq!(
            read_lake_at(&config, "okta").await.unwrap().event_ids,
            vec!["a", "b"]
        );
    }

    /// Another writer creates the batch's key after sluice looked it up and before its copy:
    /// only the copy's own precondition (`x-goog-if-generation-match: 0`) stands between
    /// that object and being replaced. The publish must fail and the other object stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_object_created_between_the_lookup_and_the_copy_is_not_replaced() {
        let gcs = shared();
        gcs.set_env();
        let config = lake("race", "");
        let client = gcs.client();
        let key = "race/source=okta/dt=2023-11-14/hr=22/0000000007-cafe.ndjson.gz";
        let theirs = b"another writer's object".as_slice();
        gcs.create_after_missed_head(key, theirs);
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        sink.write(&[event("a", 1_700_000_000, serde_json::json!({"n": 1}))])
            .await
            .unwrap();
        let payload = sink.prepare("0000000007-cafe").await.unwrap().unwrap();
        let result = sink.publish(&payload).await;
        let stored = client
            .get(&StorePath::from(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            &stored[..],
            theirs,
            "the other writer's object was replaced"
        );
        let err = result
            .expect_err("a publish over another object must fail")
            .to_string();
        assert!(err.contains("never replaces a published object"), "{err}");
        // The batch stays staged for the operator: nothing was lost.
        assert_eq!(list(gcs, "race/_staging").await.len(), 1);
    }

    /// The emulator answers `object_store`'s client as GCS does, for what the lake and the
    /// object state store rely on: a create-only put over an object is refused (412, seen as
    /// `AlreadyExists`), an update names the generation it replaces, ranges and listings
    /// (with a delimiter, across pages) come back whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_emulator_keeps_gcs_preconditions() {
        use futures_util::StreamExt;
        use object_store::{PutMode, PutOptions, UpdateVersion};
        let client = shared().client();
        let path = StorePath::from("self/state/one");
        let create = || PutOptions::from(PutMode::Create);
        let first = client.put_opts(&path, "v1".into(), create()).await.unwrap();
        let again = client.put_opts(&path, "v2".into(), create()).await;
        assert!(
            matches!(again, Err(object_store::Error::AlreadyExists { .. })),
            "{again:?}"
        );
        let stale = UpdateVersion {
            e_tag: None,
            version: Some("1".into()),
        };
        let refused = client
            .put_opts(&path, "v2".into(), PutMode::Update(stale).into())
            .await;
        assert!(
            matches!(refused, Err(object_store::Error::Precondition { .. })),
            "{refused:?}"
        );
        let current = UpdateVersion {
            e_tag: first.e_tag.clone(),
            version: first.version.clone(),
        };
        client
            .put_opts(&path, "v2".into(), PutMode::Update(current).into())
            .await
            .unwrap();
        let meta = client.head(&path).await.unwrap();
        assert_ne!(
            meta.version, first.version,
            "a write makes a new generation"
        );
        assert_eq!(&client.get_range(&path, 1..2).await.unwrap()[..], b"2");
        for i in 0..10 {
            let name = StorePath::from(format!("self/dir{i}/x"));
            client.put(&name, "x".into()).await.unwrap();
        }
        let listed = client
            .list_with_delimiter(Some(&StorePath::from("self")))
            .await
            .unwrap();
        assert_eq!(listed.common_prefixes.len(), 11, "{listed:?}");
        let all: Vec<_> = client
            .list(Some(&StorePath::from("self")))
            .collect::<Vec<_>>()
            .await;
        assert_eq!(all.len(), 11);
        let missing = client.delete(&StorePath::from("self/none")).await;
        assert!(
            matches!(missing, Err(object_store::Error::NotFound { .. })),
            "{missing:?}"
        );
    }
}
