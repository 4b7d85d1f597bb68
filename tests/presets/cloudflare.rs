//! The Cloudflare preset against the simulator's Cloudflare profile (Audit Logs v2: `since`
//! and `before` both exclusive, `direction=asc`, `result_info.cursor` until it is left out,
//! Bearer API tokens, the v4 error envelope). Grove has no Cloudflare pages.

use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};

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
        SimulatorConfig::cloudflare(8_000),
        cloudflare_source,
        [("CLOUDFLARE_API_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn cloudflare_preset_reads_every_log_and_a_wrong_token_is_refused() {
    let sim_config = SimulatorConfig::cloudflare(2_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = super::write_config(dir.path(), &cloudflare_source(&sim.base_url()));
    let config = config.to_str().unwrap();

    let wrong = sluice()
        .args(["run", "--once", "--config", config])
        .env("CLOUDFLARE_API_TOKEN", "not-the-token")
        .output()
        .await
        .unwrap();
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("Authentication error"),
        "Cloudflare's refusal is shown: {text}"
    );

    let out = sluice()
        .args(["run", "--once", "--config", config])
        .env("CLOUDFLARE_API_TOKEN", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let every = sluice::simulator::event_ids(&sim_config)
        .into_iter()
        .collect();
    super::common::lake::check_local(&dir.path().join("lake"), "cloudflare", &sim_config)
        .assert_holds_exactly(&every, "lake of `cloudflare`");
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as Cloudflare documents it (both times, a known direction and limit, \
         each cursor with its own query)"
    );
    // 2,500 logs in pages of 1,000, over the seven one-day windows of the lookback.
    assert!(stats.requests < 20, "{stats:?}");
    sim.shutdown().await;
}
