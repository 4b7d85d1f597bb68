//! The lake sink against a real S3-compatible server on loopback.
//!
//! The server is `s3s-fs` (which checks every request's SigV4 signature) when it is on PATH,
//! else moto's server (`python3 -m moto.server`); `SLUICE_TEST_S3_SERVER=moto|s3s-fs` picks
//! one. With neither installed the tests say so and pass, unless `SLUICE_TEST_S3` is set (as
//! `.ci/run` does), where a missing server is a failure.

use crate::common;

#[cfg(not(feature = "s3"))]
#[test]
fn s3_tests_need_the_s3_feature() {
    assert!(
        std::env::var_os("SLUICE_TEST_S3").is_none(),
        "SLUICE_TEST_S3 is set but this build has no `s3` feature (hint: cargo test --all-features)"
    );
    common::skip::skip(
        "the `s3` feature",
        "the S3 lake tests are not built",
        "cargo test --all-features",
    );
}

#[cfg(feature = "s3")]
mod s3 {
    use std::collections::HashSet;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use futures_util::StreamExt;
    use object_store::path::Path as StorePath;
    use object_store::ObjectStore;
    use rand::Rng;
    use sluice::config::LakeConfig;
    use sluice::simulator::{Faults, SimulatorConfig};
    use sluice::sink::lake::{read_lake_at, LakeSink};
    use sluice::sink::Sink;
    use sluice::transform::{Envelope, EnvelopeTime};

    use super::common::kill::{assert_partly_done, Killer};
    use super::common::lake::{
        assert_a_published_object_is_never_replaced, check_store, peek_store, store_object_count,
    };
    use super::common::{delivered, output_text, sluice, start_simulator, TestConfig};

    use super::common::s3::{
        start_moto, start_server, S3Server, ACCESS_KEY, BUCKET, REGION, SECRET_KEY,
    };

    impl S3Server {
        /// The lake sink config for `s3://lake/<prefix>` on this server, explicit keys.
        fn lake(&self, prefix: &str, extra: &str) -> LakeConfig {
            let text = format!(
                r#"
name = "lake"
url = "s3://{BUCKET}/{prefix}"
endpoint = "{endpoint}"
allow_http = true
region = "{REGION}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
{extra}
"#,
                endpoint = self.endpoint
            );
            toml::from_str(&text).expect("a valid lake config")
        }
    }

    /// Every object under `prefix` but the manifest ledger's records, published or staged
    /// (`tests/it/lake_verify.rs` checks those), with its size, sorted.
    async fn list(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<(String, u64)> {
        let prefix = StorePath::from(prefix);
        let mut found: Vec<(String, u64)> = store
            .list(Some(&prefix))
            .map(|meta| {
                let meta = meta.expect("listing works");
                (meta.location.to_string(), meta.size)
            })
            .filter(|(key, _)| std::future::ready(!super::common::lake::is_ledger(key)))
            .collect()
            .await;
        found.sort();
        found
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_list_and_publish_by_copy() {
        let Some(server) = start_server().await else {
            return;
        };
        let config = server.lake("raw/", "");
        let client = server.client();
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        sink.write(&[
            event("a", 1_700_000_000, serde_json::json!({"n": 1})),
            event("b", 1_700_003_600, serde_json::json!({"n": 2})),
        ])
        .await
        .unwrap();
        let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
        // Prepared: durable in staging, nothing in the published layout.
        let staged = list(&client, "raw").await;
        assert_eq!(staged.len(), 2, "{} {staged:?}", server.kind);
        assert!(
            staged
                .iter()
                .all(|(k, _)| k.starts_with("raw/_staging/source=okta/")),
            "{staged:?}"
        );
        assert!(read_lake_at(&config, "okta")
            .await
            .unwrap()
            .event_ids
            .is_empty());

        let published = sink.publish(&payload).await.unwrap();
        assert_eq!(published.objects, 2);
        let keys: Vec<String> = list(&client, "raw")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            vec![
                "raw/source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz",
                "raw/source=okta/dt=2023-11-14/hr=23/0000000001-abcd.ndjson.gz",
            ]
        );
        // Publishing again (a crash after the copies) changes nothing.
        assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
        let contents = read_lake_at(&config, "okta").await.unwrap();
        assert_eq!(contents.event_ids, vec!["a", "b"]);
        assert_eq!(contents.bytes, published.bytes);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_object_goes_up_as_a_multipart_upload() {
        let Some(server) = start_server().await else {
            return;
        };
        // Parts of 5 MiB (S3's minimum), objects rolled far above that.
        let config = server.lake("big", "part_size = \"5MiB\"\nroll_size = \"64MiB\"");
        let client = server.client();
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        let mut rng = rand::rng();
        let mut ids = Vec::new();
        // About 12 MB compressed in one hour partition.
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
            assert!(!sink.wants_commit(), "roll_size is far away");
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
        assert!(bytes > 8 * 1024 * 1024, "{bytes}");
        let staged = list(&client, "big/_staging").await;
        assert_eq!(staged.len(), 1);
        assert_eq!(staged[0].1, bytes, "the completed upload holds every byte");

        sink.publish(&payload).await.unwrap();
        let contents = read_lake_at(&config, "okta").await.unwrap();
        assert_eq!(contents.objects, 1);
        assert_eq!(contents.bytes, bytes);
        assert_eq!(contents.event_ids, ids);
        assert!(list(&client, "big/_staging").await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_published_object_is_never_replaced() {
        let Some(server) = start_server().await else {
            return;
        };
        let config = server.lake("replay", "compression = \"zstd\"");
        let client = server.client();
        let key = assert_a_published_object_is_never_replaced(&config, &client, "replay/").await;
        let keys = list(&client, "replay").await;
        assert_eq!(keys.len(), 1, "one object, nothing staged: {keys:?}");
        assert_eq!(keys[0].0, key.to_string());
        assert_eq!(
            read_lake_at(&config, "okta").await.unwrap().event_ids,
            vec!["a", "b"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn discard_removes_staged_objects_of_a_crashed_run() {
        let Some(server) = start_server().await else {
            return;
        };
        let config = server.lake("", "");
        let client = server.client();
        let mut crashed = LakeSink::new(&config, "okta").unwrap();
        crashed
            .write(&[event("a", 0, serde_json::json!({}))])
            .await
            .unwrap();
        crashed.prepare("0000000001-aaaa").await.unwrap().unwrap();
        drop(crashed); // no intent was recorded
        assert_eq!(list(&client, "_staging").await.len(), 1);
        let mut next = LakeSink::new(&config, "okta").unwrap();
        next.discard_staged().await.unwrap();
        assert!(list(&client, "").await.is_empty());
    }

    /// The config of a run of the real binary: the simulated Okta into `s3://lake/<prefix>`,
    /// credentials and region from the environment (the default credential chain).
    fn write_run_config(
        dir: &Path,
        base_url: &str,
        server: &S3Server,
        prefix: &str,
        roll_size: &str,
    ) -> String {
        let extra = format!("roll_size = \"{roll_size}\"");
        write_config_in(dir, base_url, &server.endpoint, BUCKET, prefix, &extra)
    }

    /// [`write_run_config`] for any bucket, with `extra` lines in the sink's table.
    fn write_config_in(
        dir: &Path,
        base_url: &str,
        endpoint: &str,
        bucket: &str,
        prefix: &str,
        extra: &str,
    ) -> String {
        let source = TestConfig::new(base_url).source_table();
        let text = format!(
            r#"
[state]
kind = "sqlite"
path = "state.db"
{source}
[[sinks]]
name = "lake"
kind = "lake"
url = "s3://{bucket}/{prefix}"
endpoint = "{endpoint}"
allow_http = true
{extra}
"#
        );
        let path = dir.join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn run_command(config: &str) -> tokio::process::Command {
        super::common::s3::sluice_with_keys(&["run", "--once", "--config", config])
    }

    async fn run_until_caught_up(config: &str) {
        for _ in 0..20 {
            let out = run_command(config).output().await.unwrap();
            match out.status.code() {
                Some(0) => return,
                Some(3) => continue,
                _ => panic!("sluice run failed: {}", output_text(&out)),
            }
        }
        panic!("sluice did not catch up in 20 runs");
    }

    /// Reads the lake back through a separate client and checks it holds exactly the
    /// simulator's events (with their data and times), that nothing is left in staging (by
    /// listing the bucket), and that every object under the prefix is one of the source's.
    async fn assert_s3_lake_exact(server: &S3Server, prefix: &str, sim: &SimulatorConfig) {
        let client = server.client();
        let report = check_store(&*client, prefix, "okta", sim).await;
        report.assert_exact(
            sim,
            &format!("s3://{BUCKET}/{prefix} differs from the simulator"),
        );
        let all = list(&client, prefix).await;
        for (key, _) in &all {
            assert!(
                key.starts_with(&format!("{prefix}/source=okta/dt="))
                    && key.ends_with(".ndjson.gz"),
                "unexpected object {key}"
            );
        }
        assert_eq!(all.len(), report.keys.len(), "every object was read");
        // Sluice's own reader agrees.
        let contents = read_lake_at(&server.lake(prefix, ""), "okta")
            .await
            .unwrap();
        assert_eq!(contents.event_ids.len(), report.lines);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_delivers_the_simulator_into_s3_exactly() {
        let Some(server) = start_server().await else {
            return;
        };
        let sim_config = SimulatorConfig::okta(4_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_run_config(dir.path(), &sim.base_url(), &server, "e2e", "48KB");
        run_until_caught_up(&config).await;
        assert_s3_lake_exact(&server, "e2e", &sim_config).await;
        // Another run finds nothing new and changes nothing.
        run_until_caught_up(&config).await;
        assert_s3_lake_exact(&server, "e2e", &sim_config).await;
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_lake_is_exact_after_repeated_kill_9() {
        // Big and slow enough that runs are still working when the kills land (pages are
        // parsed twice as fast as when these numbers were 12,000 events at 5 ms).
        const EVENTS: u64 = 20_000;
        let Some(server) = start_server().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut killer = Killer::new("s3 kill -9", &dir.path().join("runs"));
        let mut sim_config = SimulatorConfig::okta(EVENTS);
        sim_config.latency = Duration::from_millis(10);
        sim_config.faults = Faults {
            rate_429: 0.02,
            rate_5xx: 0.02,
            seed: Some(killer.seed()),
            ..Faults::default()
        };
        let sim = start_simulator(sim_config.clone()).await;
        // Small objects: many commits per run, so kills land in every phase of a commit.
        let config = write_run_config(dir.path(), &sim.base_url(), &server, "kill9", "16KB");
        // Every other kill lands 50-400 ms after the start, the others 0-300 ms after the run
        // published an object (its first commit to the test server takes about a second).
        let client = server.client();
        let published = || store_object_count(&*client, "kill9", "okta");
        killer
            .until_landed(|| run_command(&config), 10, 40, 50..400, published, 0..300)
            .await;
        let stored = peek_store(&*server.client(), "kill9", "okta", &sim_config).await;
        assert_partly_done(
            delivered(&config, &[]).await,
            stored.events(),
            EVENTS as usize,
        );
        let finish = run_command(&config).output().await.unwrap();
        assert_eq!(
            finish.status.code(),
            Some(0),
            "final run: {}",
            output_text(&finish)
        );
        assert_s3_lake_exact(&server, "kill9", &sim_config).await;
        sim.shutdown().await;
    }

    /// Creates a bucket on moto (which takes unsigned requests) with `headers`.
    async fn create_moto_bucket(server: &S3Server, bucket: &str, headers: &[(&str, &str)]) {
        let mut request = reqwest::Client::new().put(format!("{}/{bucket}", server.endpoint));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let created = request.send().await.expect("moto answers");
        assert!(
            created.status().is_success(),
            "CreateBucket {bucket}: {}",
            created.status()
        );
    }

    /// One object version and its Object Lock retention, as boto3 reports it.
    #[derive(Debug, serde::Deserialize)]
    struct Retention {
        key: String,
        #[allow(dead_code)] // printed in failures
        version: String,
        latest: bool,
        mode: Option<String>,
        until_ms: Option<i64>,
    }

    /// Every object version under `prefix` of `bucket` with its retention, read through boto3
    /// (`tests/it/support/s3_retention.py`).
    async fn retentions(server: &S3Server, bucket: &str, prefix: &str) -> Vec<Retention> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/s3_retention.py");
        let out = tokio::process::Command::new("python3")
            .arg(script)
            .args([server.endpoint.as_str(), bucket, prefix])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .output()
            .await
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "boto3 could not read the retention: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Vec<Retention> =
            serde_json::from_slice(&out.stdout).expect("the script prints JSON");
        // The ledger's records are published (with retention) like objects; these tests
        // count the lake's objects.
        all.into_iter()
            .filter(|v| !super::common::lake::is_ledger(&v.key))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn object_lock_retains_every_published_object_and_no_staged_one() {
        let Some(server) = start_moto().await else {
            return;
        };
        let bucket = "locked-lake";
        create_moto_bucket(
            &server,
            bucket,
            &[("x-amz-bucket-object-lock-enabled", "true")],
        )
        .await;
        let sim_config = SimulatorConfig::okta(3_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let extra =
            "roll_size = \"48KB\"\nobject_lock = { mode = \"compliance\", retain_for = \"30d\" }";
        let config = write_config_in(
            dir.path(),
            &sim.base_url(),
            &server.endpoint,
            bucket,
            "audit",
            extra,
        );
        let before = Utc::now();
        run_until_caught_up(&config).await;
        let after = Utc::now();
        let retain_for = chrono::Duration::days(30);

        let contents = check_store(&*server.client_of(bucket), "audit", "okta", &sim_config).await;
        contents.assert_exact(&sim_config, "the locked lake differs from the simulator");
        assert!(contents.keys.len() > 1, "{} objects", contents.keys.len());

        let versions = retentions(&server, bucket, "audit/").await;
        let published: HashSet<String> =
            contents.keys.iter().map(|k| format!("audit/{k}")).collect();
        let latest: HashSet<String> = versions
            .iter()
            .filter(|v| v.latest && !v.key.starts_with("audit/_staging/"))
            .map(|v| v.key.clone())
            .collect();
        assert_eq!(latest, published, "boto3 lists the published objects");
        let (earliest, latest_until) = (
            (before + retain_for).timestamp_millis() - 1_000,
            (after + retain_for).timestamp_millis() + 1_000,
        );
        for version in &versions {
            if version.key.starts_with("audit/_staging/") {
                // Staged objects go up without retention: the versions their deletes leave
                // in a versioned bucket can be expired by a lifecycle rule.
                assert_eq!(version.mode, None, "staged {version:?} is retained");
                continue;
            }
            assert_eq!(version.mode.as_deref(), Some("COMPLIANCE"), "{version:?}");
            let until = version.until_ms.unwrap_or_default();
            assert!(
                (earliest..=latest_until).contains(&until),
                "{version:?}: expected retention until 30 days after {before}..{after}"
            );
        }
        assert!(
            versions
                .iter()
                .any(|v| v.key.starts_with("audit/_staging/")),
            "a versioned bucket keeps the staged versions: {versions:?}"
        );
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn object_lock_applies_to_objects_uploaded_in_parts() {
        let Some(server) = start_moto().await else {
            return;
        };
        let bucket = "locked-big";
        create_moto_bucket(
            &server,
            bucket,
            &[("x-amz-bucket-object-lock-enabled", "true")],
        )
        .await;
        let mut config = server.lake(
            "big",
            "part_size = \"5MiB\"\nroll_size = \"64MiB\"\nobject_lock = { mode = \"governance\", retain_for = \"1d\" }",
        );
        config.url = Some(url::Url::parse(&format!("s3://{bucket}/big")).unwrap());
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        let mut rng = rand::rng();
        // About 12 MB compressed in one partition: a multipart upload with SHA-256 checksums.
        for page in 0..20 {
            let events: Vec<Envelope> = (0..8)
                .map(|i| {
                    let noise: String = (0..100_000)
                        .map(|_| char::from(b'0' + rng.random_range(0..64u8)))
                        .collect();
                    event(
                        &format!("e{page:02}-{i}"),
                        1_700_000_000 + page,
                        serde_json::json!({ "noise": noise }),
                    )
                })
                .collect();
            sink.write(&events).await.unwrap();
        }
        let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
        assert!(payload[0]["parts"].as_u64().unwrap_or(0) >= 2, "{payload}");
        let before = Utc::now();
        sink.publish(&payload).await.unwrap();
        // Publishing again (a run finishing an interrupted commit) finds the staged object
        // gone and the key published: nothing is copied twice.
        sink.publish(&payload).await.unwrap();
        let versions = retentions(&server, bucket, "big/").await;
        let published: Vec<&Retention> = versions
            .iter()
            .filter(|v| !v.key.starts_with("big/_staging/"))
            .collect();
        assert_eq!(published.len(), 1, "{versions:?}");
        assert_eq!(published[0].mode.as_deref(), Some("GOVERNANCE"));
        let until = published[0].until_ms.unwrap_or_default();
        let expected = (before + chrono::Duration::days(1)).timestamp_millis();
        assert!(
            (expected - 1_000..expected + 60_000).contains(&until),
            "retained until {until}, expected about {expected}"
        );
        assert!(versions
            .iter()
            .filter(|v| v.key.starts_with("big/_staging/"))
            .all(|v| v.mode.is_none()));
    }

    /// A proxy in front of an S3 server that, while `deny` is set, refuses every write (PUT,
    /// POST, DELETE) with S3's own `403 AccessDenied`, as a bucket policy or an IAM deny
    /// would, and forwards everything else. (moto's IAM enforcement cannot stand in: moto
    /// 5.2 rejects the signature of any list request whose prefix holds a `/`.)
    struct DenyingProxy {
        endpoint: String,
        deny: Arc<std::sync::atomic::AtomicBool>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for DenyingProxy {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn denying_proxy(upstream: &str) -> DenyingProxy {
        use axum::body::Body;
        use axum::extract::{Request, State};
        use axum::response::Response;
        use std::sync::atomic::{AtomicBool, Ordering};

        #[derive(Clone)]
        struct Proxy {
            upstream: String,
            deny: Arc<AtomicBool>,
            client: reqwest::Client,
        }

        async fn handle(State(proxy): State<Proxy>, request: Request) -> Response {
            let method = request.method().clone();
            let writes = [http::Method::PUT, http::Method::POST, http::Method::DELETE];
            if proxy.deny.load(Ordering::SeqCst) && writes.contains(&method) {
                return Response::builder()
                    .status(403)
                    .header("content-type", "application/xml")
                    .body(Body::from(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                    ))
                    .unwrap();
            }
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let mut forward = proxy
                .client
                .request(method, format!("{}{path}", proxy.upstream));
            for (name, value) in request.headers() {
                if name != http::header::HOST {
                    forward = forward.header(name, value);
                }
            }
            let body = axum::body::to_bytes(request.into_body(), 512 * 1024 * 1024)
                .await
                .unwrap();
            let answer = forward.body(body).send().await.unwrap();
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response
                .body(Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }

        let deny = Arc::new(AtomicBool::new(true));
        let proxy = Proxy {
            upstream: upstream.to_string(),
            deny: Arc::clone(&deny),
            client: reqwest::Client::new(),
        };
        let app = axum::Router::new().fallback(handle).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        DenyingProxy {
            endpoint,
            deny,
            task,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_s3_write_fails_the_run_and_a_rerun_delivers_exactly_once() {
        let Some(server) = start_moto().await else {
            return;
        };
        let proxy = denying_proxy(&server.endpoint).await;
        let sim_config = SimulatorConfig::okta(2_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        // The sink writes through the proxy; the checks read moto directly.
        let config = write_config_in(
            dir.path(),
            &sim.base_url(),
            &proxy.endpoint,
            BUCKET,
            "denied",
            "roll_size = \"48KB\"",
        );

        let out = run_command(&config).output().await.unwrap();
        let shown = output_text(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the refused run should fail with exit code 1:\n{shown}"
        );
        eprintln!("the refused run said:\n{shown}");
        for needed in [
            "sink `lake`",
            "s3://lake/denied",
            "denied/_staging/source=okta/",
            "AccessDenied",
            "hint:",
        ] {
            assert!(shown.contains(needed), "`{needed}` is not said:\n{shown}");
        }
        assert!(!shown.contains(SECRET_KEY), "the secret leaked:\n{shown}");
        let status = sluice()
            .args(["status", "--json", "--config", &config])
            .output()
            .await
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert!(
            status[0]["high_water"].is_null(),
            "the checkpoint moved past a page that was not committed: {status}"
        );

        // Writes are allowed again: the next runs deliver everything, once.
        proxy.deny.store(false, std::sync::atomic::Ordering::SeqCst);
        run_until_caught_up(&config).await;
        assert_s3_lake_exact(&server, "denied", &sim_config).await;
        sim.shutdown().await;
    }
}
