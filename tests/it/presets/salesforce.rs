//! The Salesforce preset, configured as docs/connectors/salesforce.md shows, against the
//! simulator's profile: the Client Credentials Flow, a SOQL query of SetupAuditTrail on
//! whole-second `CreatedDate` windows, batches followed through `nextRecordsUrl`, and the
//! org's request limit answered as `403 REQUEST_LIMIT_EXCEEDED`.

use sluice::simulator::salesforce::CLIENT_ID;
use sluice::simulator::SimulatorConfig;

use super::{
    every_event_in, exact_through_faults_and_kill_9, preset_source,
    refuses_a_wrong_credential_then_reads_exactly, TEST_BUDGET,
};

/// The preset for an org whose My Domain is the test server, the consumer secret from the
/// environment.
pub(super) fn salesforce_source(base_url: &str) -> String {
    let settings = format!(
        "client_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:SALESFORCE_CLIENT_SECRET}}\""
    );
    preset_source("salesforce", &settings, "my_domain_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::salesforce(10_000);
    // Batches of at most 200 (a quarter of them halved) for a preset asking for 2,000: the
    // window takes about sixty batches through `nextRecordsUrl`, enough for faults
    // (including 403 REQUEST_LIMIT_EXCEEDED) and kills to land.
    sim_config.max_page_size = 200;
    let source = |url: &str| salesforce_source(url) + "window = { lookback = \"7h\" }\n";
    exact_through_faults_and_kill_9(
        "salesforce",
        sim_config,
        source,
        [("SALESFORCE_CLIENT_SECRET", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_consumer_secret_is_refused_with_salesforces_error_then_every_query_is_accepted() {
    let sim_config = SimulatorConfig::salesforce(3_000);
    let lakes = every_event_in("salesforce", &sim_config);
    let stats = refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        salesforce_source,
        "SALESFORCE_CLIENT_SECRET",
        &["invalid_client"],
        lakes,
    )
    .await;
    // The refused token request, then one token for the whole run; no query the simulator
    // finds malformed (SOQL, literals in whole seconds, batchSize 200 to 2,000).
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
    assert_eq!(stats.tokens_issued, 1, "{stats:?}");
}

/// The event log files preset for the same org and app: each listed EventLogFile's CSV rows
/// are the events.
pub(super) fn salesforce_event_log_source(base_url: &str) -> String {
    let settings = format!(
        "client_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:SALESFORCE_CLIENT_SECRET}}\""
    );
    preset_source("salesforce_event_log", &settings, "my_domain_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_event_log_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::salesforce_event_log(10_000);
    // A generation of files every ten minutes (about 180 files of some 55 rows each) listed
    // five to a batch, windows of an hour: runs spend their time fetching files, so most
    // kills land in the middle of a batch's files, and cut bodies (a CSV cut at a row's end
    // still parses) must be caught by LogFileLength.
    sim_config.log_file_interval = std::time::Duration::from_secs(600);
    sim_config.max_page_size = 5;
    let source = |url: &str| {
        salesforce_event_log_source(url) + "window = { lookback = \"10h\", max_window = \"1h\" }\n"
    };
    exact_through_faults_and_kill_9(
        "salesforce_event_log",
        sim_config,
        source,
        [("SALESFORCE_CLIENT_SECRET", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_consumer_secret_is_refused_then_every_event_log_row_is_read_once() {
    let sim_config = SimulatorConfig::salesforce_event_log(3_000);
    let lakes = every_event_in("salesforce_event_log", &sim_config);
    let stats = refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        salesforce_event_log_source,
        "SALESFORCE_CLIENT_SECRET",
        &["invalid_client"],
        lakes,
    )
    .await;
    // One token for the whole run, every file fetched once: each row served once.
    assert_eq!(stats.tokens_issued, 1, "{stats:?}");
    assert_eq!(stats.events_served, 3_000, "{stats:?}");
}
