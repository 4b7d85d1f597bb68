//! The Vicarius vRx preset against the simulator's Vicarius profile (incident events paged by
//! `from`/`size` offsets, oldest first, filtered by an RSQL `q` on epoch nanoseconds, the
//! `Vicarius-Token` header). Grove has no Vicarius pages.

use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};

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
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = super::write_config(dir.path(), &vicarius_source(&sim.base_url()));
    let config = config.to_str().unwrap();

    let wrong = sluice()
        .args(["run", "--once", "--config", config])
        .env("VICARIUS_TOKEN", "not-the-key")
        .output()
        .await
        .unwrap();
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("UNAUTHORIZED"),
        "the API's refusal is shown: {text}"
    );

    let out = sluice()
        .args(["run", "--once", "--config", config])
        .env("VICARIUS_TOKEN", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let every = sluice::simulator::event_ids(&sim_config)
        .into_iter()
        .collect();
    super::common::lake::check_local(&dir.path().join("lake"), "vicarius", &sim_config)
        .assert_holds_exactly(&every, "lake of `vicarius`");
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as the scripts send it"
    );
    // One request per window of the 7-day lookback, even an empty one: windows of 30 minutes
    // that start 5 minutes back advance 25 minutes each (about 400); 1,500 events in pages
    // of 500 add a few.
    assert!(stats.requests < 7 * 24 * 60 / 25 + 20, "{stats:?}");
    sim.shutdown().await;
}
