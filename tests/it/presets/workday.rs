//! The Workday preset, configured as docs/connectors/workday.md shows (an API client for
//! integrations and its refresh token), against the simulator's Workday profile: its token
//! endpoint checks the client and the refresh token, the activity log checks the access
//! token, requires `from` and `to` and pages by `offset` up to 1000 entries. Then grove's
//! real-shaped pages and token answer, read through the preset.

use std::collections::HashSet;

use sluice::simulator::workday::{CLIENT_ID, CLIENT_SECRET, TENANT};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{preset_source, write_config, TEST_BUDGET};

/// The preset with the API client and its refresh token (from the environment), the API
/// host pointed at the test server.
pub(super) fn workday_source(api_url: &str) -> String {
    let settings = format!(
        "tenant = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nrefresh_token = \"${{env:WORKDAY_REFRESH_TOKEN}}\""
    );
    preset_source("workday", &settings, "api_url", api_url) + TEST_BUDGET
}

/// The lake of the `workday` source, holding every entry.
pub(super) fn lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    let ids = sluice::simulator::event_ids(sim_config)
        .into_iter()
        .collect();
    vec![("workday".to_string(), ids)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workday_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::workday(6_000);
    // Small pages, so a run makes enough requests for faults and kills to land. Offset
    // paging ends a window on a short page, so the preset asks for pages of that size too.
    sim_config.max_page_size = 100;
    let lakes = lakes(&sim_config);
    let (stats, _) = super::exact_per_source_through_faults_and_kill_9(
        "workday",
        sim_config,
        |url| workday_source(url) + "page_size = 100\n",
        [("WORKDAY_REFRESH_TOKEN", "sim-token")],
        lakes,
    )
    .await;
    assert_eq!(
        stats.unauthorized, 0,
        "every token was bought and accepted: {stats:?}"
    );
    assert_eq!(
        stats.bad_requests, 0,
        "every request as Workday documents it: {stats:?}"
    );
}

#[tokio::test]
async fn workday_preset_reads_every_entry_and_a_wrong_refresh_token_is_refused() {
    let sim_config = SimulatorConfig::workday(2_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &workday_source(&sim.base_url()));
    let run = |token: &'static str| {
        let config = config.clone();
        async move {
            sluice()
                .args(["run", "--once", "--config", config.to_str().unwrap()])
                .env("WORKDAY_REFRESH_TOKEN", token)
                .output()
                .await
                .unwrap()
        }
    };
    let revoked = run("revoked").await;
    let text = output_text(&revoked);
    assert_eq!(revoked.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid_grant"),
        "the token endpoint's refusal: {text}"
    );

    let out = run("sim-token").await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let lake = dir.path().join("lake");
    for (source, expected) in lakes(&sim_config) {
        super::common::lake::check_local(&lake, &source, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{source}`"));
    }
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as Workday documents it: {stats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn workday_preset_reads_real_shaped_pages() {
    // Grove's Workday data: a token answer (`refresh_token`, `token_type`, `access_token`,
    // no lifetime), a page of 100 entries (`total` 1563) that are all the very same entry,
    // an empty collection, and a page of 13 entries of one session. Their quirks: entries
    // have no id (the content id stands in), so 002's hundred equal entries are one event;
    // `target` appears on some entries only; times have milliseconds and `Z`. With pages of
    // 100, 002 is a full page, so the preset asks for the next offset and reads 004, a short
    // page that ends the window.
    let Some(root) = super::fixtures("workday/activity_logging") else {
        return;
    };
    let read_json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(root.join(name)).unwrap()).unwrap()
    };
    let token = read_json("001.json");
    let full = read_json("002.json");
    let last = read_json("004.json");
    let pages = vec![token.to_string(), full.to_string(), last.to_string()];
    let read = super::read_pages(
        pages,
        workday_source,
        "page_size = 100\n",
        ("WORKDAY_REFRESH_TOKEN", "fixture-refresh"),
        "workday",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let mut records: Vec<serde_json::Value> = vec![full["data"][0].clone()];
    records.extend(last["data"].as_array().unwrap().iter().cloned());
    assert_eq!(read.stored.len(), records.len(), "{}", read.text);
    for (event, record) in read.stored.iter().zip(&records) {
        assert_eq!(event["data"], *record, "the entry is stored as served");
        let time = chrono::DateTime::parse_from_rfc3339(record["requestTime"].as_str().unwrap())
            .unwrap()
            .to_utc();
        assert_eq!(
            event["event_time"],
            time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        assert_eq!(
            event["event_id"].as_str().map(str::len),
            Some(32),
            "a content id"
        );
    }
    let ids: HashSet<_> = read.stored.iter().map(|e| e["event_id"].clone()).collect();
    assert_eq!(ids.len(), records.len());

    let requests = &read.requests;
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0], format!("/ccx/oauth2/{TENANT}/token"));
    assert!(read.bodies[0].contains("grant_type=refresh_token"));
    assert!(read.bodies[0].contains("refresh_token=fixture-refresh"));
    let query = |n: usize| -> Vec<(String, String)> {
        let (path, query) = requests[n].split_once('?').unwrap();
        assert_eq!(
            path,
            format!("/ccx/api/privacy/v1/{TENANT}/activityLogging")
        );
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let value = |q: &[(String, String)], key: &str| {
        q.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key} missing from {q:?}"))
    };
    let (first, second) = (query(1), query(2));
    assert_eq!(value(&first, "offset"), "0");
    assert_eq!(value(&second, "offset"), "100");
    for q in [&first, &second] {
        assert_eq!(value(q, "limit"), "100");
        assert_eq!(value(q, "instancesReturned"), "1");
        for key in ["from", "to"] {
            let time = value(q, key);
            assert!(
                chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
                "whole seconds, as the reference writes them: {time}"
            );
        }
    }
    assert_eq!(value(&first, "from"), value(&second, "from"));
    // The fixture's access token is what every listing request carries.
    assert!(read.authorizations[1..]
        .iter()
        .all(|a| a == "Bearer aaaaaaaaaaaaaa"));
}
