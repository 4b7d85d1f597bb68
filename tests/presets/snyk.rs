//! The Snyk presets against the simulator's Snyk profile (REST audit log search: `version`
//! required, `from` inclusive and `to` exclusive, the next page as the `links.next` path,
//! `token` API tokens, JSON:API errors, items without ids). Grove has no Snyk pages.

use std::collections::HashSet;

use sluice::simulator::snyk::{search_ids, Level, GROUP_ID, ORG_ID};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};

/// The `snyk` preset (an Organization), configured as docs/connectors/snyk.md shows.
pub(super) fn snyk_source(api_url: &str) -> String {
    let settings = format!("org_id = \"{ORG_ID}\"\ntoken = \"${{env:SNYK_TOKEN}}\"");
    super::preset_source("snyk", &settings, "api_url", api_url) + super::TEST_BUDGET
}

/// The `snyk_group` preset (a Group), configured as docs/connectors/snyk.md shows.
pub(super) fn snyk_group_source(api_url: &str) -> String {
    let settings = format!("group_id = \"{GROUP_ID}\"\ntoken = \"${{env:SNYK_TOKEN}}\"");
    super::preset_source("snyk_group", &settings, "api_url", api_url) + super::TEST_BUDGET
}

/// The lake of the `snyk` source: the Organization's items.
pub(super) fn org_lake(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    let ids = search_ids(sim_config, Level::Org).into_iter().collect();
    vec![("snyk".to_string(), ids)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snyk_preset_is_exact_through_faults_and_kill_9() {
    let sim_config = SimulatorConfig::snyk(8_000);
    let lakes = org_lake(&sim_config);
    super::exact_per_source_through_faults_and_kill_9(
        "snyk",
        sim_config,
        snyk_source,
        [("SNYK_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test]
async fn snyk_group_preset_reads_every_item_and_a_wrong_token_is_refused() {
    let sim_config = SimulatorConfig::snyk(1_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = super::write_config(dir.path(), &snyk_group_source(&sim.base_url()));
    let config = config.to_str().unwrap();

    let wrong = sluice()
        .args(["run", "--once", "--config", config])
        .env("SNYK_TOKEN", "not-the-token")
        .output()
        .await
        .unwrap();
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("authentication token"),
        "Snyk's refusal is shown: {text}"
    );

    let out = sluice()
        .args(["run", "--once", "--config", config])
        .env("SNYK_TOKEN", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let every: HashSet<String> = search_ids(&sim_config, Level::Group).into_iter().collect();
    assert_eq!(every.len(), 1_500, "the Group search serves every item");
    super::common::lake::check_local(&dir.path().join("lake"), "snyk_group", &sim_config)
        .assert_holds_exactly(&every, "lake of `snyk_group`");
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as Snyk documents it (a version, RFC 3339 times, a size of at most \
         100, no unknown parameter, each cursor with its own query)"
    );
    // 1,500 items in pages of 100, over the seven one-day windows of the lookback.
    assert!(stats.requests < 40, "{stats:?}");
    sim.shutdown().await;
}
