//! The Snyk presets against the simulator's Snyk profile (REST audit log search: `version`
//! required, `from` inclusive and `to` exclusive, the next page as the `links.next` path,
//! `token` API tokens, JSON:API errors, items without ids). Grove has no Snyk pages.

use std::collections::HashSet;

use sluice::simulator::snyk::{search_ids, Level, GROUP_ID, ORG_ID};
use sluice::simulator::SimulatorConfig;

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
    let every: HashSet<String> = search_ids(&sim_config, Level::Group).into_iter().collect();
    assert_eq!(every.len(), 1_500, "the Group search serves every item");
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        snyk_group_source,
        "SNYK_TOKEN",
        &["HTTP 401", "authentication token"],
        vec![("snyk_group".to_string(), every)],
    )
    .await;
    // 1,500 items in pages of 100, over the seven one-day windows of the lookback.
    assert!(stats.requests < 40, "{stats:?}");
}
