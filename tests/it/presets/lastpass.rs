//! The LastPass preset, configured as docs/connectors/lastpass.md shows, against the
//! simulator's profile: the provisioning hash in the JSON body, US/Eastern local times in
//! requests and events, events as the values of an object, newest first through `next`.

use chrono::{DateTime, Utc};
use sluice::simulator::lastpass::CID;
use sluice::simulator::SimulatorConfig;

use super::{
    every_event_in, exact_through_faults_and_kill_9, preset_source,
    refuses_a_wrong_credential_then_reads_exactly, TEST_BUDGET,
};

/// The preset for an account whose API is the test server, the hash from the environment.
pub(super) fn lastpass_source(base_url: &str) -> String {
    let settings = format!("cid = {CID}\nprovhash = \"${{env:LASTPASS_PROVHASH}}\"");
    preset_source("lastpass", &settings, "api_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lastpass_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::lastpass(10_000);
    // Answers of at most 200 (LastPass sends 10,000): a window takes about fifty pages
    // through `next`, enough for faults and kills to land.
    sim_config.max_page_size = 200;
    let source = |url: &str| lastpass_source(url) + "window = { lookback = \"7h\" }\n";
    exact_through_faults_and_kill_9(
        "lastpass",
        sim_config,
        source,
        [("LASTPASS_PROVHASH", "sim-token")],
    )
    .await;
}

/// Six hours of events around New York's fall-back night (2026-11-01: 01:00–01:59 twice),
/// listed in 25-minute windows so window bounds fall inside the repeated hour. A wrong hash
/// is refused with LastPass's error; then every event lands exactly once, its time read from
/// the local `Time` as the earlier instant.
#[tokio::test]
async fn a_wrong_hash_is_refused_then_windows_over_the_fall_back_night_lose_nothing() {
    let anchor: DateTime<Utc> = "2026-11-01T09:00:00Z".parse().unwrap();
    let sim_config = SimulatorConfig {
        anchor,
        max_page_size: 150,
        ..SimulatorConfig::lastpass(3_000)
    };
    // The first window starts an hour before the data, whenever the test runs.
    let minutes = (Utc::now() - anchor).num_minutes() + 7 * 60;
    let source = move |url: &str| {
        lastpass_source(url)
            + &format!("window = {{ lookback = \"{minutes}m\", max_window = \"25m\" }}\n")
    };
    let lakes = every_event_in("lastpass", &sim_config);
    let stats = refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        source,
        "LASTPASS_PROVHASH",
        &["Authorization Error", "FAIL"],
        lakes,
    )
    .await;
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
}
