//! The Kandji preset, configured as docs/connectors/kandji.md shows, against the simulator's
//! profile: a Bearer API token, `start_date`/`end_date` in RFC 3339, pages of up to 500
//! oldest first through the absolute URL in `next`, microsecond `occurred_at`. Grove has no
//! Kandji pages.

use sluice::simulator::SimulatorConfig;

use super::{every_event_in, exact_through_faults_and_kill_9, preset_source, TEST_BUDGET};

/// The preset for the tenant's API URL (the test server), the token from the environment.
pub(super) fn kandji_source(api_url: &str) -> String {
    let settings = "token = \"${env:KANDJI_TOKEN}\"";
    preset_source("kandji", settings, "api_url", api_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kandji_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::kandji(10_000);
    // Pages of at most 50 for a preset asking for 500: `next` goes on, and the window takes
    // two hundred pages, enough for faults and kills to land.
    sim_config.max_page_size = 50;
    let source = |url: &str| kandji_source(url) + "window = { lookback = \"7h\" }\n";
    exact_through_faults_and_kill_9(
        "kandji",
        sim_config,
        source,
        [("KANDJI_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_api_token_is_refused_with_kandji_error() {
    let sim_config = SimulatorConfig::kandji(1_200);
    let lakes = every_event_in("kandji", &sim_config);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        kandji_source,
        "KANDJI_TOKEN",
        &["401", "Invalid token."],
        lakes,
    )
    .await;
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
}
