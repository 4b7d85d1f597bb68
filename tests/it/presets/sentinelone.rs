//! The SentinelOne preset against the simulator's SentinelOne profile (activities of the
//! Management API 2.1: `createdAt__gte`/`createdAt__lt` half-open windows, oldest first with
//! `sortBy=createdAt&sortOrder=asc`, `pagination.nextCursor` until null, `ApiToken` auth, the
//! `{"errors": [{code, detail, title}]}` refusals). Grove has no SentinelOne pages.

use sluice::simulator::SimulatorConfig;

/// The SentinelOne preset, configured as docs/connectors/sentinelone.md shows.
pub(super) fn sentinelone_source(console_url: &str) -> String {
    let settings = "token = \"${env:SENTINELONE_API_TOKEN}\"";
    super::preset_source("sentinelone", settings, "console_url", console_url) + super::TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinelone_preset_is_exact_through_faults_and_kill_9() {
    super::exact_through_faults_and_kill_9(
        "sentinelone",
        // Pages of 1,000: 24 of them, so runs are still working when the kills land.
        SimulatorConfig::sentinelone(24_000),
        sentinelone_source,
        [("SENTINELONE_API_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn sentinelone_preset_reads_every_activity_and_a_wrong_token_is_refused() {
    let sim_config = SimulatorConfig::sentinelone(2_500);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        sentinelone_source,
        "SENTINELONE_API_TOKEN",
        &["HTTP 401", "Authentication Failed"],
        super::every_event_in("sentinelone", &sim_config),
    )
    .await;
    // 2,500 activities in pages of 1,000 (never the default 10), over the seven one-day
    // windows of the lookback.
    assert!(stats.requests < 20, "{stats:?}");
    assert_eq!(stats.bad_requests, 0, "{stats:?}");
}
