//! The Duo preset against the simulator's Duo profile, which verifies every request's
//! signature, pages the v2 logs by `next_offset` and answers the v1 administrator log with the
//! 1000 earliest entries from `mintime` (there are no grove fixtures for Duo).

use std::collections::HashSet;

use sluice::simulator::duo::{stream_ids, Stream, INTEGRATION_KEY};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};

/// The three logs of the Duo preset, configured as docs/connectors/duo.md shows.
pub(super) fn duo_source(base_url: &str) -> String {
    let settings = format!(
        "api_hostname = \"api-XXXXXXXX.duosecurity.com\"\nintegration_key = \"{INTEGRATION_KEY}\"\nsecret_key = \"${{env:DUO_SECRET_KEY}}\""
    );
    super::preset_source("duo", &settings, "base_url", base_url) + super::TEST_BUDGET
}

/// Each log's lake and the ids it must hold.
pub(super) fn lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    [
        ("duo-authentication", Stream::Authentication),
        ("duo-administrator", Stream::Administrator),
        ("duo-telephony", Stream::Telephony),
    ]
    .into_iter()
    .map(|(name, stream)| {
        let ids = stream_ids(sim_config, stream).into_iter().collect();
        (name.to_string(), ids)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duo_preset_is_exact_per_log_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::duo(7_500);
    // Small v2 pages, so a run makes enough requests for faults and kills to land. The
    // administrator log keeps Duo's fixed 1000: its 2,500 entries need full answers narrowed.
    sim_config.max_page_size = 100;
    let lakes = lakes(&sim_config);
    super::exact_per_source_through_faults_and_kill_9(
        "duo",
        sim_config,
        duo_source,
        [("DUO_SECRET_KEY", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test]
async fn duo_preset_reads_every_log_in_one_run_and_a_wrong_secret_is_refused() {
    let sim_config = SimulatorConfig::duo(4_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = super::write_config(dir.path(), &duo_source(&sim.base_url()));
    let config = config.to_str().unwrap();

    let wrong = sluice()
        .args(["run", "--once", "--config", config])
        .env("DUO_SECRET_KEY", "not-the-secret")
        .output()
        .await
        .unwrap();
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("40103"),
        "Duo's refusal is shown: {text}"
    );

    let out = sluice()
        .args(["run", "--once", "--config", config])
        .env("DUO_SECRET_KEY", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let lake = dir.path().join("lake");
    for (source, expected) in lakes(&sim_config) {
        super::common::lake::check_local(&lake, &source, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{source}`"));
    }
    let stats = sim.stats();
    assert_eq!(stats.bad_requests, 0, "every request as Duo documents it");
    // 1,500 administrator entries in answers of at most 1000: narrowed, not halved forever.
    assert!(stats.requests < 80, "{stats:?}");
    sim.shutdown().await;
}
