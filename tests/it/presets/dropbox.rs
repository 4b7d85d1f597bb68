//! The Dropbox preset, configured as docs/connectors/dropbox.md shows (the app's refresh
//! token, or an access token), against the simulator's Dropbox profile: its token endpoint
//! checks the app and the refresh token, the team log checks the access token, takes the
//! time range in whole seconds and continues at `/continue` with only the cursor. Then
//! grove's real-shaped pages and token answer, read through the preset.

use std::collections::HashSet;

use sluice::simulator::dropbox::{APP_KEY, APP_SECRET};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{preset_source, write_config, TEST_BUDGET};

/// The preset with the app's key and secret and its refresh token (from the environment),
/// the API server pointed at the test server.
pub(super) fn dropbox_source(api_url: &str) -> String {
    let settings = format!(
        "app_key = \"{APP_KEY}\"\napp_secret = \"{APP_SECRET}\"\nrefresh_token = \"${{env:DROPBOX_REFRESH_TOKEN}}\""
    );
    preset_source("dropbox", &settings, "api_url", api_url) + TEST_BUDGET
}

/// The preset with a plain access token.
fn dropbox_access_token_source(api_url: &str) -> String {
    let settings = "access_token = \"${env:DROPBOX_ACCESS_TOKEN}\"";
    preset_source("dropbox", settings, "api_url", api_url) + TEST_BUDGET
}

/// The lake of the `dropbox` source, holding every event.
pub(super) fn lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    let ids = sluice::simulator::event_ids(sim_config)
        .into_iter()
        .collect();
    vec![("dropbox".to_string(), ids)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::dropbox(6_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 100;
    let lakes = lakes(&sim_config);
    let (stats, _) = super::exact_per_source_through_faults_and_kill_9(
        "dropbox",
        sim_config,
        dropbox_source,
        [("DROPBOX_REFRESH_TOKEN", "sim-token")],
        lakes,
    )
    .await;
    assert_eq!(
        stats.unauthorized, 0,
        "every token was bought and accepted: {stats:?}"
    );
}

#[tokio::test]
async fn dropbox_preset_reads_with_an_access_token_and_wrong_credentials_are_refused() {
    let sim_config = SimulatorConfig::dropbox(2_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |source: String, env: (&'static str, &'static str)| {
        let config = write_config(dir.path(), &source);
        async move {
            sluice()
                .args(["run", "--once", "--config", config.to_str().unwrap()])
                .env(env.0, env.1)
                .output()
                .await
                .unwrap()
        }
    };
    let wrong = run(
        dropbox_access_token_source(&sim.base_url()),
        ("DROPBOX_ACCESS_TOKEN", "not-a-token"),
    )
    .await;
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(
        text.contains("HTTP 401") && text.contains("invalid_access_token"),
        "Dropbox's refusal is shown: {text}"
    );
    let revoked = run(
        dropbox_source(&sim.base_url()),
        ("DROPBOX_REFRESH_TOKEN", "revoked"),
    )
    .await;
    let text = output_text(&revoked);
    assert_eq!(revoked.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid_grant"),
        "the token endpoint's refusal: {text}"
    );

    let out = run(
        dropbox_access_token_source(&sim.base_url()),
        ("DROPBOX_ACCESS_TOKEN", "sim-token"),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let lake = dir.path().join("lake");
    for (source, expected) in lakes(&sim_config) {
        super::common::lake::check_local(&lake, &source, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{source}`"));
    }
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as Dropbox documents it: {stats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn dropbox_preset_reads_real_shaped_pages() {
    // Grove's Dropbox data: a token answer holding only `access_token` (no type, no
    // lifetime), and three one-event pages of team events, each `has_more: false` with its own
    // cursor. Their quirks: events have no id (the content id stands in); 001 and 002 hold
    // the very same event, which is one event read twice; times are whole seconds with `Z`.
    // Here 001 is made to say `has_more: true`, so the preset continues, with only the
    // cursor and at `/continue`, and reads 003.
    let Some(root) = super::fixtures("dropbox") else {
        return;
    };
    let read_json = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(root.join(path)).unwrap()).unwrap()
    };
    let token = read_json("client/001.json");
    let mut first = read_json("team_events/001.json");
    first["has_more"] = serde_json::Value::Bool(true);
    let last = read_json("team_events/003.json");
    let pages = vec![token.to_string(), first.to_string(), last.to_string()];
    let read = super::read_pages(
        pages,
        dropbox_source,
        "",
        ("DROPBOX_REFRESH_TOKEN", "fixture-refresh"),
        "dropbox",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let records: Vec<serde_json::Value> = [&first, &last]
        .iter()
        .flat_map(|page| page["events"].as_array().unwrap().clone())
        .collect();
    assert_eq!(read.stored.len(), records.len(), "{}", read.text);
    for (event, record) in read.stored.iter().zip(&records) {
        assert_eq!(event["data"], *record, "the record is stored as served");
        let time = chrono::DateTime::parse_from_rfc3339(record["timestamp"].as_str().unwrap())
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
    assert_ne!(read.stored[0]["event_id"], read.stored[1]["event_id"]);

    let requests = &read.requests;
    assert_eq!(requests[0], "/oauth2/token", "{requests:?}");
    assert!(read.bodies[0].contains("grant_type=refresh_token"));
    assert!(read.bodies[0].contains("refresh_token=fixture-refresh"));
    assert_eq!(requests[1], "/2/team_log/get_events");
    let body = super::body(&read, 1);
    assert_eq!(body["limit"], 1000);
    let start = body["time"]["start_time"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "whole seconds, as Dropbox writes times: {start}"
    );
    assert_eq!(requests[2], "/2/team_log/get_events/continue");
    assert_eq!(
        super::body(&read, 2),
        serde_json::json!({ "cursor": first["cursor"] }),
        "then only the cursor of the page before"
    );
    // The fixture's token ("...") is what every listing request carries.
    assert!(read.authorizations[1..].iter().all(|a| a == "Bearer ..."));
}
