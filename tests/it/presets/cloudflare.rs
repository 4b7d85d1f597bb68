//! The Cloudflare preset against the simulator's Cloudflare profile (Audit Logs v2: `since`
//! and `before` both exclusive, `direction=asc`, `result_info.cursor` until it is left out,
//! Bearer API tokens, the v4 error envelope). Grove has no Cloudflare pages.

use sluice::simulator::SimulatorConfig;

/// The Cloudflare preset, configured as docs/connectors/cloudflare.md shows.
pub(super) fn cloudflare_source(base_url: &str) -> String {
    let settings = format!(
        "account_id = \"{}\"\ntoken = \"${{env:CLOUDFLARE_API_TOKEN}}\"",
        sluice::simulator::cloudflare::ACCOUNT_ID
    );
    super::preset_source("cloudflare", &settings, "base_url", base_url) + super::TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_preset_is_exact_through_faults_and_kill_9() {
    super::exact_through_faults_and_kill_9(
        "cloudflare",
        // Pages of 1,000: 24 of them, so runs are still working when the kills land (with
        // 8,000 the runs sometimes finished the job first).
        SimulatorConfig::cloudflare(24_000),
        cloudflare_source,
        [("CLOUDFLARE_API_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn cloudflare_preset_reads_every_log_and_a_wrong_token_is_refused() {
    let sim_config = SimulatorConfig::cloudflare(2_500);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        cloudflare_source,
        "CLOUDFLARE_API_TOKEN",
        &["HTTP 401", "Authentication error"],
        super::every_event_in("cloudflare", &sim_config),
    )
    .await;
    // 2,500 logs in pages of 1,000, over the seven one-day windows of the lookback.
    assert!(stats.requests < 20, "{stats:?}");
}
