//! The LaunchDarkly preset, configured as docs/connectors/launchdarkly.md shows, against the
//! simulator's profile: the access token as the whole `Authorization` header, `after` and
//! `before` in epoch milliseconds (both exclusive), pages of at most 20 newest first through
//! `_links.next.href`, and 429s whose `X-Ratelimit-Reset` is in epoch milliseconds. Grove has
//! no LaunchDarkly pages.

use sluice::simulator::SimulatorConfig;

use super::{every_event_in, exact_through_faults_and_kill_9, preset_source, TEST_BUDGET};

/// The preset with its `api_url` pointed at the test server, the access token from the
/// environment.
pub(super) fn launchdarkly_source(api_url: &str) -> String {
    let settings = "token = \"${env:LAUNCHDARKLY_TOKEN}\"";
    preset_source("launchdarkly", settings, "api_url", api_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launchdarkly_preset_is_exact_through_faults_and_kill_9() {
    // Pages of 20: the window takes two hundred pages, enough for faults and kills to land.
    // Each injected 429 says when to come back in epoch milliseconds; read as seconds, that
    // would be a wait of millennia and the run would fail.
    let sim_config = SimulatorConfig::launchdarkly(4_000);
    let source = |url: &str| launchdarkly_source(url) + "window = { lookback = \"7h\" }\n";
    exact_through_faults_and_kill_9(
        "launchdarkly",
        sim_config,
        source,
        [("LAUNCHDARKLY_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_access_token_is_refused_with_launchdarkly_error() {
    let sim_config = SimulatorConfig::launchdarkly(300);
    let lakes = every_event_in("launchdarkly", &sim_config);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        launchdarkly_source,
        "LAUNCHDARKLY_TOKEN",
        &["401", "Invalid access token"],
        lakes,
    )
    .await;
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
}
