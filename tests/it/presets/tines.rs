//! The Tines preset, configured as docs/connectors/tines.md shows, against the simulator's
//! profile: a Bearer API key, `after`/`before` in whole seconds, numbered pages newest first
//! with `meta.next_page_number`, and Grove's recorded pages of the audit logs.

use sluice::simulator::SimulatorConfig;

use super::{
    every_event_in, exact_through_faults_and_kill_9, fixtures, preset_source, read_pages,
    TEST_BUDGET,
};

/// The preset for tenant `acme-1234.tines.com` (its `base_url` pointed at the test server),
/// the API key from the environment.
pub(super) fn tines_source(base_url: &str) -> String {
    let settings = "tenant_domain = \"acme-1234.tines.com\"\ntoken = \"${env:TINES_API_KEY}\"";
    preset_source("tines", settings, "base_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tines_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::tines(10_000);
    // Pages of at most 50 for a preset asking for 500: `next_page_number` goes on, and the
    // window takes two hundred pages, enough for faults and kills to land.
    sim_config.max_page_size = 50;
    let source = |url: &str| tines_source(url) + "window = { lookback = \"7h\" }\n";
    exact_through_faults_and_kill_9(
        "tines",
        sim_config,
        source,
        [("TINES_API_KEY", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_with_tines_error() {
    let sim_config = SimulatorConfig::tines(1_200);
    let lakes = every_event_in("tines", &sim_config);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        tines_source,
        "TINES_API_KEY",
        &["401", "Unauthorized"],
        lakes,
    )
    .await;
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
}

#[tokio::test]
async fn tines_preset_reads_real_shaped_pages() {
    let Some(dir) = fixtures("tines/audit_logs") else {
        return;
    };
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let records = |name: &str| {
        let body: serde_json::Value = serde_json::from_str(&page(name)).unwrap();
        body["audit_logs"].as_array().unwrap().clone()
    };
    let env = ("TINES_API_KEY", "fixture-key");
    // 001 then 002: one listing of two pages of one log each (`next_page_number` 2, then
    // null), newest first; the pages hold fewer logs than the 500 asked for.
    let read = read_pages(
        vec![page("001.json"), page("002.json")],
        tines_source,
        "",
        env,
        "tines",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let served: Vec<serde_json::Value> = [records("001.json"), records("002.json")].concat();
    assert_eq!(read.stored.len(), served.len(), "{}", read.text);
    for (event, record) in read.stored.iter().zip(&served) {
        assert_eq!(event["data"], *record, "stored as served");
        assert_eq!(event["event_id"], record["id"].to_string());
        assert_eq!(
            event["event_time"],
            record["created_at"].as_str().unwrap().replace('Z', ".000Z")
        );
    }
    assert_eq!(read.requests.len(), 2, "{:?}", read.requests);
    for (n, request) in read.requests.iter().enumerate() {
        let (path, query) = request.split_once('?').unwrap();
        assert_eq!(path, "/api/v1/audit_logs");
        let params: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(params["page"], (n + 1).to_string(), "{request}");
        assert_eq!(params["per_page"], "500", "{request}");
        // Whole seconds, as Tines writes `created_at`.
        for bound in ["after", "before"] {
            let time = &params[bound];
            assert!(time.ends_with('Z') && time.len() == 20, "{bound}={time}");
        }
        assert!(params["after"] < params["before"], "{request}");
    }
    assert!(read
        .authorizations
        .iter()
        .all(|a| a == "Bearer fixture-key"));

    // 003: one page of two logs, one with `"inputs": null`.
    let read = read_pages(vec![page("003.json")], tines_source, "", env, "tines").await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let ids: Vec<&serde_json::Value> = read.stored.iter().map(|e| &e["event_id"]).collect();
    assert_eq!(ids, ["1484335", "1484317"], "{}", read.text);
}
