//! The Zoom preset, configured as docs/connectors/zoom.md shows (a Server-to-Server OAuth
//! app), against the simulator's Zoom profile: its OAuth server checks the app's credentials,
//! the `account_credentials` grant and the account id; the reports check the token and take
//! whole days. And grove's recorded Zoom pages, read through the preset.

use std::collections::HashSet;

use sluice::simulator::zoom::{stream_ids, Stream, ACCOUNT_ID, CLIENT_ID};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{
    exact_per_source_through_faults_and_kill_9, fixtures, preset_source, read_pages, write_config,
    TEST_BUDGET,
};

/// Both reports of the Zoom preset, the OAuth server and the API both at `base_url`, the
/// client secret from the environment.
pub(super) fn zoom_source(base_url: &str) -> String {
    let settings = format!(
        "account_id = \"{ACCOUNT_ID}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:ZOOM_CLIENT_SECRET}}\"\noauth_url = \"{base_url}\""
    );
    preset_source("zoom", &settings, "api_url", base_url) + TEST_BUDGET
}

/// Each report's lake and the ids it must hold.
pub(super) fn lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    [
        ("zoom-operation_logs", Stream::OperationLogs),
        ("zoom-activities", Stream::Activities),
    ]
    .into_iter()
    .map(|(name, stream)| {
        let ids = stream_ids(sim_config, stream).into_iter().collect();
        (name.to_string(), ids)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoom_preset_is_exact_per_report_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::zoom(8_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 100;
    let lakes = lakes(&sim_config);
    let (stats, runs) = exact_per_source_through_faults_and_kill_9(
        "zoom",
        sim_config,
        zoom_source,
        [("ZOOM_CLIENT_SECRET", "sim-token")],
        lakes,
    )
    .await;
    // Every run is a new process, and the two reports share its one token: at most one token
    // a run (a run killed before its first request fetches none). Every request was valid.
    assert!(stats.tokens_issued >= 1, "{stats:?}");
    assert!(
        stats.tokens_issued as usize <= runs,
        "{} tokens for {runs} runs of 2 sources: {stats:?}",
        stats.tokens_issued
    );
    assert_eq!(stats.unauthorized, 0, "{stats:?}");
    assert_eq!(stats.bad_requests, 0, "{stats:?}");
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_run_with_zooms_reason() {
    let sim = start_simulator(SimulatorConfig::zoom(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &zoom_source(&sim.base_url()));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("ZOOM_CLIENT_SECRET", "not-the-secret")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid_client"),
        "Zoom's reason is shown: {text}"
    );
    assert!(
        text.contains("/oauth/token"),
        "the endpoint is named: {text}"
    );
    assert_eq!(sim.stats().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn zoom_preset_reads_real_shaped_pages() {
    // Grove's Zoom answers: the token (`expires_in` 3599, `token_type` "bearer"), then per
    // report a first page naming `next_page_token` "next_token" and a last page whose token is
    // "". Their quirk: records have no id and some repeat exactly (operation 001 holds 30
    // records of which 25 differ, activities 001 30 of which 29 differ): keyed on their
    // content, a repeat is one event, so the lake holds each distinct record once.
    let Some(root) = fixtures("zoom") else {
        return;
    };
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(root.join(path)).unwrap()).unwrap()
    };
    for (dir, stream, key) in [
        ("operation", "operation_logs", "operation_logs"),
        ("activities", "activities", "activity_logs"),
    ] {
        let pages = [
            read("client/001.json"),
            read(&format!("{dir}/001.json")),
            read(&format!("{dir}/002.json")),
        ];
        let records: Vec<serde_json::Value> = pages[1..]
            .iter()
            .flat_map(|p| p[key].as_array().unwrap().clone())
            .collect();
        let distinct: HashSet<String> = records.iter().map(|r| r.to_string()).collect();
        let extra = format!("streams = [\"{stream}\"]\n");
        let read = read_pages(
            pages.iter().map(|p| p.to_string()).collect(),
            zoom_source,
            &extra,
            ("ZOOM_CLIENT_SECRET", "fixture-secret"),
            &format!("zoom-{stream}"),
        )
        .await;
        let what = format!("{dir}: {}", read.text);
        assert_eq!(read.code, Some(0), "{what}");
        assert_eq!(read.stored.len(), distinct.len(), "{what}");
        for record in &records {
            let event = read
                .stored
                .iter()
                .find(|e| e["data"] == *record)
                .unwrap_or_else(|| panic!("{record} is stored as served: {what}"));
            let time = chrono::DateTime::parse_from_rfc3339(record["time"].as_str().unwrap())
                .unwrap()
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(event["event_time"], time, "{what}");
        }
        let ids: HashSet<&str> = read
            .stored
            .iter()
            .map(|e| e["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            distinct.len(),
            "one content id per distinct record"
        );
        // The token request, then the two pages: dates, the page size, then the token.
        let requests = &read.requests;
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert_eq!(requests[0], "/oauth/token", "{requests:?}");
        assert_eq!(
            read.bodies[0],
            format!("grant_type=account_credentials&account_id={ACCOUNT_ID}")
        );
        let path = format!(
            "/v2/report/{}?",
            if dir == "operation" {
                "operationlogs"
            } else {
                "activities"
            }
        );
        assert!(requests[1].starts_with(&path), "{requests:?}");
        let dates = regex_like_dates(&requests[1]);
        assert_eq!(dates.len(), 2, "from and to are dates: {requests:?}");
        // `to` is the last whole day that ended the settle delay (an hour) ago: the window's
        // end is the next midnight, and Zoom includes the `to` day.
        let settled = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).date_naive();
        let last_day = settled.pred_opt().unwrap().format("%Y-%m-%d").to_string();
        assert_eq!(dates[1], last_day, "{requests:?}");
        assert!(requests[1].contains("page_size=300"), "{requests:?}");
        assert!(!requests[1].contains("next_page_token"), "{requests:?}");
        assert!(
            requests[2].contains("next_page_token=next_token"),
            "the second page is asked with the first page's token: {requests:?}"
        );
        assert!(read.authorizations[0].starts_with("Basic "));
        assert!(
            read.authorizations[1..]
                .iter()
                .all(|a| a == "Bearer testtoken"),
            "the reports carry the token from the OAuth answer: {:?}",
            read.authorizations
        );
    }
}

/// The values of `from` and `to` in a request target, when both are `yyyy-mm-dd` dates.
fn regex_like_dates(target: &str) -> Vec<String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "from" || k == "to")
        .map(|(_, v)| v.into_owned())
        .filter(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() && v.len() == 10)
        .collect()
}
