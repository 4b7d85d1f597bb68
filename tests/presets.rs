//! Built-in connectors (presets), each configured as its docs page says, against the
//! simulator's profile of that vendor, and on the real-shaped pages of
//! `../shared/testdata/grove-fixtures` where that vendor has some.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice::simulator::{Faults, SimulatorConfig};

use common::kill::{assert_partly_done, Killer};
use common::lake::object_count;
use common::{assert_lake_exact, delivered, output_text, run_sluice, sluice, start_simulator};

/// A config holding `source` (a `[[sources]]` table) with SQLite state and a local lake of
/// small objects, written to `dir/sluice.toml`.
fn write_config(dir: &Path, source: &str) -> PathBuf {
    let text = format!(
        r#"[state]
kind = "sqlite"
path = "state.db"

{source}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "24KB"
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// The Okta preset as docs/connectors/okta.md configures it, with `base_url` pointed at
/// the simulator (the one override a test needs) and retries quick enough for a test.
fn okta_source(base_url: &str) -> String {
    format!(
        r#"[[sources]]
name = "okta"
connector = "okta"
domain = "acme.okta.com"
token = "${{env:OKTA_TOKEN}}"
sinks = ["lake"]
base_url = "{base_url}"
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_preset_is_exact_through_faults_and_kill_9() {
    const EVENTS: u64 = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("presets-okta", &dir.path().join("runs"));
    let mut sim_config = SimulatorConfig::okta(EVENTS);
    sim_config.latency = Duration::from_millis(10);
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        rate_truncate: 0.03,
        seed: Some(killer.seed()),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    let config_path = write_config(dir.path(), &okta_source(&sim.base_url()));
    let config = config_path.to_str().unwrap();
    let envs = [("OKTA_TOKEN", "sim-token")];

    let start = || {
        let mut command = sluice();
        command
            .args(["run", "--once", "--config", config])
            .envs(envs);
        command
    };
    let lake = dir.path().join("lake");
    let published = || std::future::ready(object_count(&lake, "okta"));
    killer
        .until_landed(start, 6, 30, 20..250, published, 0..300)
        .await;
    assert_partly_done(
        delivered(config, &envs).await,
        common::lake::peek_local(&lake, "okta", &sim_config).events(),
        EVENTS as usize,
    );

    let finish = start().output().await.expect("sluice runs");
    assert_eq!(
        finish.status.code(),
        Some(0),
        "final run: {}",
        output_text(&finish)
    );
    assert_lake_exact(&lake, "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_preset_missing_a_setting_names_it_and_its_docs_page() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"okta\"\ntoken = \"t\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("sluice.toml:5:1: sources[0].domain"),
        "file:line and key: {text}"
    );
    assert!(text.contains("needs `domain`"), "{text}");
    assert!(text.contains("docs/connectors/okta.md"), "{text}");
}

#[tokio::test]
async fn an_unknown_setting_or_connector_suggests_the_closest_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"okta\"\ndomian = \"a.okta.com\"\ntoken = \"t\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("sources[0].domian"), "{text}");
    assert!(text.contains("did you mean `domain`"), "{text}");

    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"otka\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no built-in connector `otka`"), "{text}");
    assert!(text.contains("did you mean \"okta\""), "{text}");
}

#[tokio::test]
async fn connectors_list_show_and_init_describe_every_preset() {
    let list = run_sluice(&["connectors", "list"]).await;
    let text = output_text(&list);
    assert!(list.status.success(), "{text}");
    assert!(
        text.contains("okta") && text.contains("Okta System Log"),
        "{text}"
    );
    assert!(text.contains("docs/connectors/okta.md"), "{text}");

    let show = run_sluice(&["connectors", "show", "okta"]).await;
    assert!(show.status.success());
    let spec: toml::Table = String::from_utf8_lossy(&show.stdout)
        .parse()
        .expect("show prints the preset's TOML");
    assert_eq!(spec["spec"]["path"].as_str(), Some("/api/v1/logs"));

    // The starter config, with its REQUIRED setting filled in, loads as written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    let init = run_sluice(&[
        "init",
        "--connector",
        "okta",
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    assert!(init.status.success(), "{}", output_text(&init));
    let again = run_sluice(&[
        "init",
        "--connector",
        "okta",
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing config is never overwritten"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("domain = \"acme.okta.com\""), "{text}");
    assert!(text.contains("token = \"${env:OKTA_TOKEN}\""), "{text}");
    let status = sluice()
        .args(["status", "--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "the starter config loads: {}",
        output_text(&status)
    );
}

/// The grove fixture directory of `vendor`, or `None` (with a recorded skip) when the shared
/// test data is absent.
fn fixtures(vendor: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/grove-fixtures")
        .join(vendor);
    if dir.is_dir() {
        Some(dir)
    } else {
        common::skip::skip(
            "grove-fixtures",
            &format!("{} is absent", dir.display()),
            "place the shared test data beside the project (../shared/testdata)",
        );
        None
    }
}

#[tokio::test]
async fn okta_preset_reads_real_shaped_pages() {
    let Some(dir) = fixtures("okta/system_log") else {
        return;
    };
    let page: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("001.json")).unwrap()).unwrap();
    let records = page.as_array().expect("Okta serves an array").clone();
    // One page, no next link: the whole window. Its events are years old, so the test
    // reaches back far enough.
    let server = common::fixture_server::serve(vec![(page.to_string(), None)]).await;
    let work = tempfile::tempdir().unwrap();
    let source = format!(
        "{}window = {{ lookback = \"20000d\", max_window = \"20000d\" }}\n",
        okta_source(&server.base_url)
    );
    let config = write_config(work.path(), &source);
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("OKTA_TOKEN", "fixture-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stored = common::lake::envelopes(&work.path().join("lake"), "okta");
    assert_eq!(stored.len(), records.len());
    for (event, record) in stored.iter().zip(&records) {
        assert_eq!(event["data"], *record, "the record is stored as served");
        assert_eq!(event["event_id"], record["uuid"]);
    }
    let requests = server.requests().await;
    assert!(requests[0].contains("/api/v1/logs?"), "{requests:?}");
    assert!(requests[0].contains("sortOrder=ASCENDING") && requests[0].contains("limit=1000"));
    assert!(
        server
            .authorizations()
            .await
            .iter()
            .all(|a| a == "SSWS fixture-token"),
        "the token goes as Okta's SSWS scheme"
    );
}
