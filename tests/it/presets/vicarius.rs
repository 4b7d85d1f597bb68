//! The Vicarius vRx preset against the simulator's Vicarius profile (incident events paged by
//! `from`/`size` offsets, oldest first, filtered by an RSQL `q` on epoch nanoseconds, the
//! `Vicarius-Token` header). Grove has no Vicarius pages.

use sluice::simulator::SimulatorConfig;

/// The Vicarius preset, configured as docs/connectors/vicarius.md shows.
pub(super) fn vicarius_source(base_url: &str) -> String {
    let settings = "dashboard = \"acme.vicarius.cloud\"\ntoken = \"${env:VICARIUS_TOKEN}\"";
    super::preset_source("vicarius", settings, "base_url", base_url) + super::TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vicarius_preset_is_exact_through_faults_and_kill_9() {
    super::exact_through_faults_and_kill_9(
        "vicarius",
        SimulatorConfig::vicarius(8_000),
        vicarius_source,
        [("VICARIUS_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn vicarius_preset_reads_every_event_and_a_wrong_key_is_refused() {
    // 1,500 events in one hour: windows of 30 minutes need several pages of 500.
    let sim_config = SimulatorConfig {
        span: std::time::Duration::from_secs(3_600),
        ..SimulatorConfig::vicarius(1_500)
    };
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        vicarius_source,
        "VICARIUS_TOKEN",
        &["HTTP 401", "UNAUTHORIZED"],
        super::every_event_in("vicarius", &sim_config),
    )
    .await;
    // One request per window of the 7-day lookback, even an empty one: windows of 30 minutes
    // that start 5 minutes back advance 25 minutes each (about 400); 1,500 events in pages
    // of 500 add a few.
    assert!(stats.requests < 7 * 24 * 60 / 25 + 20, "{stats:?}");
}
