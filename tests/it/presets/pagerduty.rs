//! The PagerDuty preset against the simulator's PagerDuty profile (newest first, `next_cursor`
//! until null, `Token token=` keys, the v2 `Accept` header required), and on grove's recorded
//! audit-record pages.

use sluice::simulator::SimulatorConfig;

/// The PagerDuty preset, configured as docs/connectors/pagerduty.md shows.
pub(super) fn pagerduty_source(base_url: &str) -> String {
    let settings = "token = \"${env:PAGERDUTY_TOKEN}\"";
    super::preset_source("pagerduty", settings, "base_url", base_url) + super::TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_preset_is_exact_through_faults_and_kill_9() {
    super::exact_through_faults_and_kill_9(
        "pagerduty",
        SimulatorConfig::pagerduty(8_000),
        pagerduty_source,
        [("PAGERDUTY_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn pagerduty_preset_reads_every_record_and_a_wrong_key_is_refused() {
    let sim_config = SimulatorConfig::pagerduty(1_500);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        pagerduty_source,
        "PAGERDUTY_TOKEN",
        &["HTTP 401", "2006"],
        super::every_event_in("pagerduty", &sim_config),
    )
    .await;
    // 1,500 records in pages of 100, over the windows of the lookback.
    assert!(stats.requests < 60, "{stats:?}");
}

fn read_page(dir: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn pagerduty_preset_reads_real_shaped_pages() {
    // Grove's first two audit-record pages (limit 3): the first links the second by a
    // `next_cursor` of the form `<epoch ms>-<record id>`, the second ends the listing with
    // `next_cursor: null`. Quirk: the second page's `root_resource.type` holds a person's
    // name instead of a reference type; the record is stored as served.
    let Some(dir) = super::fixtures("pagerduty/audit_records") else {
        return;
    };
    let pages = [read_page(&dir, "001.json"), read_page(&dir, "002.json")];
    let cursor = pages[0]["next_cursor"].as_str().unwrap().to_string();
    let records: Vec<serde_json::Value> = pages
        .iter()
        .flat_map(|p| p["records"].as_array().unwrap().clone())
        .collect();
    assert_eq!(records.len(), 5);
    let read = super::read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        pagerduty_source,
        "",
        ("PAGERDUTY_TOKEN", "fixture-key"),
        "pagerduty",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let stored = read.stored;
    assert_eq!(stored.len(), records.len());
    for record in &records {
        let event = stored
            .iter()
            .find(|e| e["event_id"] == record["id"])
            .unwrap_or_else(|| panic!("{} is stored", record["id"]));
        assert_eq!(event["data"], *record, "the record is stored as served");
        assert_eq!(event["event_time"], record["execution_time"]);
    }
    let requests = read.requests;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let first = &requests[0];
    assert!(first.starts_with("/audit/records?"), "{first}");
    for part in ["since=", "until=", "limit=100"] {
        assert!(first.contains(part), "{part} in {first}");
    }
    assert!(
        requests[1].contains(&format!("cursor={cursor}")),
        "the second page is asked with the first page's next_cursor: {requests:?}"
    );
    assert!(
        requests[1].contains("since=") && requests[1].contains("until="),
        "the cursor goes with the same range: {requests:?}"
    );
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "Token token=fixture-key"),
        "the key goes as PagerDuty's Token scheme: {:?}",
        read.authorizations
    );
}

#[tokio::test]
async fn pagerduty_preset_reads_a_default_sized_page() {
    // Grove's third page: a single answer with the default `limit` of 25, four records
    // newest first and `next_cursor: null`. (Its ids repeat the first page's with other
    // times, so it is read in a run of its own.)
    let Some(dir) = super::fixtures("pagerduty/audit_records") else {
        return;
    };
    let page = read_page(&dir, "003.json");
    let records = page["records"].as_array().unwrap().clone();
    let read = super::read_pages(
        vec![page.to_string()],
        pagerduty_source,
        "",
        ("PAGERDUTY_TOKEN", "fixture-key"),
        "pagerduty",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    assert_eq!(read.requests.len(), 1, "{:?}", read.requests);
    let mut stored = read.stored;
    assert_eq!(stored.len(), records.len());
    stored.sort_by(|a, b| b["event_time"].as_str().cmp(&a["event_time"].as_str()));
    for (event, record) in stored.iter().zip(&records) {
        assert_eq!(event["data"], *record);
        assert_eq!(event["event_id"], record["id"]);
        assert_eq!(event["event_time"], record["execution_time"]);
    }
}
