//! The HCP Terraform (Terraform Cloud) preset, configured as docs/connectors/tfc.md shows,
//! against the simulator's profile: an organization token, `since` with no upper bound, page
//! numbers counted from the newest event (so events created while Sluice pages push older
//! ones onto later pages), and Grove's recorded pages of the audit trail.

use std::time::Duration;

use chrono::{SubsecRound, TimeDelta, Utc};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{
    every_event_in, exact_through_faults_and_kill_9, fixtures, preset_source, read_pages,
    write_config, TEST_BUDGET,
};

/// The preset with the organization token from the environment.
pub(super) fn tfc_source(base_url: &str) -> String {
    let settings = "token = \"${env:TFC_TOKEN}\"";
    preset_source("tfc", settings, "api_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tfc_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::tfc(6_000);
    // The API serves pages of 100 although the preset asks for 1000: the answer's
    // `next_page`, not a page's length, ends a window. Hour-long windows make each window
    // page through the newer events first (the API has no upper bound), so runs make enough
    // requests for faults and kills to land.
    sim_config.max_page_size = 100;
    let source =
        |url: &str| tfc_source(url) + "window = { lookback = \"7h\", max_window = \"1h\" }\n";
    exact_through_faults_and_kill_9("tfc", sim_config, source, [("TFC_TOKEN", "sim-token")]).await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_hcp_terraforms_error() {
    let sim_config = SimulatorConfig::tfc(2_500);
    let lakes = every_event_in("tfc", &sim_config);
    let stats = super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        tfc_source,
        "TFC_TOKEN",
        &["401", "unauthorized"],
        lakes,
    )
    .await;
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
}

/// Runs happen while events are being created, 100 a second, and every page request takes
/// 20 ms: between two pages of ten, about two new events arrive on top, so each page starts
/// with the previous page's last events. They must be taken for what they are (repeats, never
/// a loop) and each event delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_created_while_pages_are_counted_are_delivered_once() {
    let mut sim_config = SimulatorConfig::tfc(1_200);
    let anchor = (Utc::now() + TimeDelta::seconds(8)).trunc_subsecs(3);
    sim_config.anchor = anchor;
    // 50 events a second, 50 a page: events are created while every page is counted, but a
    // whole page's worth only if one request stalls a second, which a loaded machine can do
    // to 10-record pages at 100 a second (the guard lets a record of the previous page
    // repeat, not one of two pages back).
    sim_config.span = Duration::from_secs(24);
    sim_config.latency = Duration::from_millis(20);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let source = tfc_source(&sim.base_url())
        + "page_size = 50\nwindow = { settle_delay = \"1s\", overlap = \"0s\", lookback = \"1h\" }\n";
    let config_path = write_config(dir.path(), &source);
    let config = config_path.to_str().unwrap();
    let settled = anchor + TimeDelta::seconds(2);
    let mut runs = 0;
    loop {
        let last = Utc::now() > settled;
        let run = sluice()
            .args(["run", "--once", "--config", config])
            .env("TFC_TOKEN", "sim-token")
            .output()
            .await
            .unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "run {runs}: {}",
            output_text(&run)
        );
        runs += 1;
        if last {
            break;
        }
        assert!(runs < 200, "the runs never caught up");
    }
    let expected = sluice::simulator::event_ids(&sim_config)
        .into_iter()
        .collect();
    super::common::lake::check_local(&dir.path().join("lake"), "tfc", &sim_config)
        .assert_holds_exactly(&expected, "every event once");
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn tfc_preset_reads_real_shaped_pages() {
    let Some(dir) = fixtures("tfc/audit_trails") else {
        return;
    };
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let env = ("TFC_TOKEN", "fixture-token");
    // 001 then 002: one listing of two pages (`next_page` 2, then null), newest first. Page 1
    // holds one event although 1000 were asked for: the answer's `next_page` goes on.
    let read = read_pages(
        vec![page("001.json"), page("002.json")],
        tfc_source,
        "",
        env,
        "tfc",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let served: Vec<serde_json::Value> = ["001.json", "002.json"]
        .iter()
        .flat_map(|name| {
            let body: serde_json::Value = serde_json::from_str(&page(name)).unwrap();
            body["data"].as_array().unwrap().clone()
        })
        .collect();
    assert_eq!(read.stored.len(), 3, "{}", read.text);
    for (event, record) in read.stored.iter().zip(&served) {
        assert_eq!(event["data"], *record, "stored as served");
        assert_eq!(event["event_id"], record["id"]);
        assert_eq!(event["event_time"], record["timestamp"]);
    }
    assert_eq!(read.requests.len(), 2, "{:?}", read.requests);
    for (n, request) in read.requests.iter().enumerate() {
        let (path, query) = request.split_once('?').unwrap();
        assert_eq!(path, "/api/v2/organization/audit-trail");
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let value = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(value("page[number]"), (n + 1).to_string(), "{request}");
        assert_eq!(value("page[size]"), "1000", "{request}");
        // `since` as the reference writes it: YYYY-MM-DDTHH:MM:SS.SSSZ.
        let since = value("since");
        assert_eq!(since.len(), 24, "{since}");
        chrono::DateTime::parse_from_rfc3339(&since).expect("an ISO 8601 since");
    }
    assert!(read
        .authorizations
        .iter()
        .all(|a| a == "Bearer fixture-token"));

    // 003: the reference's sample event five times over, one id: one event.
    let read = read_pages(vec![page("003.json")], tfc_source, "", env, "tfc").await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    assert_eq!(read.stored.len(), 1, "{}", read.text);
    assert_eq!(
        read.stored[0]["event_id"],
        "ae66e491-db59-457c-8445-9c908ee726ae"
    );
}
