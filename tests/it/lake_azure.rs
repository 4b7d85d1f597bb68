//! The `az://` lake against Azurite, Microsoft's Azure Storage emulator (npm `azurite`), on
//! loopback: the real binary delivers the simulator into a container exactly once, and a
//! second run changes nothing.
//!
//! Without `azurite-blob` on PATH the test says so and passes, unless `SLUICE_TEST_AZURE` is
//! set (as `.ci/run` does), where that is a failure.

use crate::common;

#[cfg(not(feature = "azure"))]
#[test]
fn azure_tests_need_the_azure_feature() {
    assert!(
        std::env::var_os("SLUICE_TEST_AZURE").is_none(),
        "SLUICE_TEST_AZURE is set but this build has no `azure` feature (hint: cargo test --all-features)"
    );
    common::skip::skip(
        "the `azure` feature",
        "the Azure lake tests are not built",
        "cargo test --all-features",
    );
}

#[cfg(feature = "azure")]
mod azure {
    use std::net::{Ipv4Addr, SocketAddr, TcpListener};
    use std::path::Path;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use sluice::config::LakeConfig;
    use sluice::simulator::SimulatorConfig;
    use sluice::sink::lake::{read_lake_at, LakeSink};
    use sluice::sink::Sink;
    use sluice::transform::{Envelope, EnvelopeTime};

    use super::common::lake::check_store;
    use super::common::{run_until_caught_up, start_simulator, TestConfig};

    /// Azurite's fixed development account and key (public, documented by Microsoft).
    const ACCOUNT: &str = "devstoreaccount1";
    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    const CONTAINER: &str = "lake";

    struct Azurite {
        _child: tokio::process::Child,
        /// The account's blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`.
        endpoint: String,
        _root: tempfile::TempDir,
    }

    fn free_port() -> u16 {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("loopback has a free port");
        listener
            .local_addr()
            .expect("bound socket has an address")
            .port()
    }

    /// Starts Azurite's blob service with an empty container, or `None` (after saying why)
    /// when it is not installed and the test may skip.
    async fn start_azurite() -> Option<Azurite> {
        let required = super::common::skip::env_flag("SLUICE_TEST_AZURE");
        let installed = std::process::Command::new("azurite-blob")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                !required,
                "SLUICE_TEST_AZURE is set but azurite-blob is not installed (hint: npm install -g azurite)"
            );
            super::common::skip::skip(
                "Azurite",
                "azurite-blob is not installed",
                "npm install -g azurite",
            );
            return None;
        }
        let root = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = tokio::process::Command::new("azurite-blob")
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(root.path())
            // No telemetry: tests send nothing off this machine.
            .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("azurite-blob starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Azurite did not listen on port {port} within 60s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let azurite = Azurite {
            _child: child,
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            _root: root,
        };
        azurite.create_container().await;
        Some(azurite)
    }

    impl Azurite {
        /// `Create Container`, signed with the account key (object_store creates no
        /// containers).
        async fn create_container(&self) {
            let date = chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let version = "2021-08-06";
            // Verb, eleven standard headers (all empty here), the x-ms- headers, the resource.
            let string_to_sign = format!(
                "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{CONTAINER}\nrestype:container"
            );
            let key = base64::engine::general_purpose::STANDARD
                .decode(KEY)
                .expect("the development key is base64");
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
            mac.update(string_to_sign.as_bytes());
            let signature =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            let response = reqwest::Client::new()
                .put(format!("{}/{CONTAINER}?restype=container", self.endpoint))
                .header("x-ms-date", &date)
                .header("x-ms-version", version)
                .header("content-length", "0")
                .header("authorization", format!("SharedKey {ACCOUNT}:{signature}"))
                .send()
                .await
                .expect("Azurite answers");
            let status = response.status();
            assert!(
                status.is_success(),
                "Create Container: {status} {}",
                response.text().await.unwrap_or_default()
            );
        }

        /// A client of the container, to look behind sluice's back.
        fn client(&self) -> object_store::azure::MicrosoftAzure {
            object_store::azure::MicrosoftAzureBuilder::new()
                .with_account(ACCOUNT)
                .with_access_key(KEY)
                .with_container_name(CONTAINER)
                .with_endpoint(self.endpoint.clone())
                .with_allow_http(true)
                .build()
                .expect("the Azurite client builds")
        }

        fn lake(&self, prefix: &str) -> LakeConfig {
            toml::from_str(&format!(
                "name = \"lake\"\nurl = \"az://{CONTAINER}/{prefix}\"\nendpoint = \"{}\"\nallow_http = true",
                self.endpoint
            ))
            .expect("a valid lake config")
        }
    }

    fn write_config(dir: &Path, base_url: &str, azurite: &Azurite, prefix: &str) -> String {
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
url = "az://{CONTAINER}/{prefix}"
endpoint = "{endpoint}"
allow_http = true
roll_size = "48KB"
"#,
            endpoint = azurite.endpoint
        );
        let path = dir.join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// The credentials object_store reads from the environment.
    const ENV: [(&str, &str); 2] = [
        ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", KEY),
    ];

    /// Sinks and readers in this process take the credentials from the environment too. Set
    /// once per process (the values are constants): the tests of other groups run beside
    /// these, so the environment is written as little as possible.
    fn set_env() {
        static SET: std::sync::Once = std::sync::Once::new();
        SET.call_once(|| {
            for (name, value) in ENV {
                std::env::set_var(name, value);
            }
        });
    }

    /// Reads the container back through a client of the test's own: exactly the simulator's
    /// events with their data and times, nothing left in staging, no stray blob.
    async fn assert_exact(azurite: &Azurite, prefix: &str, sim: &SimulatorConfig) {
        let report = check_store(&azurite.client(), prefix, "okta", sim).await;
        report.assert_exact(sim, "the Azure lake differs from the simulator");
        assert!(report.keys.len() > 1, "{} objects", report.keys.len());
        assert!(
            report.keys.iter().all(|k| k.ends_with(".ndjson.gz")),
            "{:?}",
            report.keys
        );
        // Sluice's own reader agrees.
        set_env();
        let contents = read_lake_at(&azurite.lake(prefix), "okta").await.unwrap();
        assert_eq!(contents.event_ids.len(), report.lines);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_delivers_the_simulator_into_azurite_exactly() {
        let Some(azurite) = start_azurite().await else {
            return;
        };
        let sim_config = SimulatorConfig::okta(3_000);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &sim.base_url(), &azurite, "e2e");
        run_until_caught_up(&config, 20, &ENV).await;
        assert_exact(&azurite, "e2e", &sim_config).await;
        // Another run finds nothing new and changes nothing.
        run_until_caught_up(&config, 20, &ENV).await;
        assert_exact(&azurite, "e2e", &sim_config).await;
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_object_goes_up_in_blocks_and_is_published_whole() {
        use rand::Rng;
        let Some(azurite) = start_azurite().await else {
            return;
        };
        set_env();
        let mut config = azurite.lake("big");
        config.part_size = bytesize::ByteSize::mib(5);
        config.roll_size = bytesize::ByteSize::mib(64);
        let mut sink = LakeSink::new(&config, "okta").unwrap();
        let mut rng = rand::rng();
        let mut ids = Vec::new();
        // About 12 MB compressed in one hour partition: at least two 5 MiB blocks.
        for page in 0..20 {
            let events: Vec<Envelope> = (0..8)
                .map(|i| {
                    let noise: String = (0..100_000)
                        .map(|_| char::from(b'0' + rng.random_range(0..64u8)))
                        .collect();
                    let id = format!("e{page:02}-{i}");
                    ids.push(id.clone());
                    let time = chrono::DateTime::from_timestamp(1_700_000_000 + page, 0)
                        .expect("a valid time");
                    Envelope {
                        event_time: EnvelopeTime(time),
                        parse_time: EnvelopeTime(time),
                        source: "okta".into(),
                        event_id: id,
                        data: serde_json::json!({ "noise": noise }).into(),
                        ocsf: Default::default(),
                    }
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
        assert!(parts >= 2, "expected a block upload: {payload}");
        sink.publish(&payload).await.unwrap();
        let contents = read_lake_at(&config, "okta").await.unwrap();
        assert_eq!(contents.objects, 1);
        assert_eq!(contents.bytes, bytes, "the published blob holds every byte");
        assert_eq!(contents.event_ids, ids);
    }
}
