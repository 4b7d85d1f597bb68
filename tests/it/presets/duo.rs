//! The Duo preset against the simulator's Duo profile, which verifies every request's
//! signature, pages the v2 logs by `next_offset` and answers the v1 administrator log with the
//! 1000 earliest entries from `mintime` (there are no grove fixtures for Duo).

use std::collections::HashSet;

use sluice::simulator::duo::{stream_ids, Stream, INTEGRATION_KEY};
use sluice::simulator::SimulatorConfig;

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
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        duo_source,
        "DUO_SECRET_KEY",
        &["HTTP 401", "40103"],
        lakes(&sim_config),
    )
    .await;
    // 1,500 administrator entries in answers of at most 1000: narrowed, not halved forever.
    assert!(stats.requests < 80, "{stats:?}");
}
