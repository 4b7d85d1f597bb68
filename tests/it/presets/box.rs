//! The Box preset, configured as docs/connectors/box.md shows (a Client Credentials Grant app
//! acting as the enterprise's Service Account), against the simulator's Box profile: its
//! token endpoint checks the client and the `box_subject_*` fields; the events API checks the
//! token, serves `admin_logs` oldest first in pages that may come short, and ends a listing
//! with an empty page. Grove has no Box pages; answers shaped as Box's reference shows them
//! check what goes over the wire.

use sluice::simulator::r#box::{CLIENT_ID, ENTERPRISE_ID};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{
    exact_through_faults_and_kill_9, preset_source, read_pages, write_config, TEST_BUDGET,
};

/// The Box preset, the token endpoint and the API both at `base_url`, the client secret from
/// the environment.
pub(super) fn box_source(base_url: &str) -> String {
    let settings = format!(
        "enterprise_id = \"{ENTERPRISE_ID}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:BOX_CLIENT_SECRET}}\""
    );
    preset_source("box", &settings, "api_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::r#box(6_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 100;
    exact_through_faults_and_kill_9(
        "box",
        sim_config,
        box_source,
        [("BOX_CLIENT_SECRET", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn every_request_is_one_box_accepts() {
    let sim = start_simulator(SimulatorConfig::r#box(2_000)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &box_source(&sim.base_url()));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("BOX_CLIENT_SECRET", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 1, "{stats:?}");
    assert_eq!(stats.unauthorized, 0, "{stats:?}");
    assert_eq!(stats.bad_requests, 0, "{stats:?}");
    // Each window re-reads the 15 minutes before it (the overlap): at least every event once.
    assert!(stats.events_served >= 2_000, "{stats:?}");
    super::common::lake::check_local(&dir.path().join("lake"), "box", sim.config())
        .assert_holds_exactly(
            &sluice::simulator::event_ids(sim.config())
                .into_iter()
                .collect(),
            "the lake holds every event",
        );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_run_with_boxs_error() {
    let sim = start_simulator(SimulatorConfig::r#box(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &box_source(&sim.base_url()));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("BOX_CLIENT_SECRET", "not-the-secret")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid_client"),
        "Box's error is shown: {text}"
    );
    assert!(
        text.contains("/oauth2/token"),
        "the endpoint is named: {text}"
    );
    assert_eq!(sim.stats().tokens_issued, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn box_preset_sends_what_the_reference_describes() {
    // Answers as Box's reference shows them: the token, a page of two events (fewer than the
    // limit, with a position to go on from), then the empty page that ends the listing,
    // whose position is the one just sent.
    let event = |id: &str, at: &str| {
        serde_json::json!({
            "type": "event", "event_id": id, "event_type": "LOGIN", "created_at": at,
            "created_by": {"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com"},
            "ip_address": "203.0.113.7", "session_id": null, "source": null, "additional_details": null
        })
    };
    let entries = vec![
        event(
            "f82c3ba0-3e41-47e8-a760-8363cc6a0390",
            "2026-12-06T10:53:43-08:00",
        ),
        event(
            "b9a8e2c1-0d4f-4a1b-9c2e-5f6a7b8c9d0e",
            "2026-12-06T11:02:10-08:00",
        ),
    ];
    let pages = vec![
        r#"{"access_token": "T9aufA5vYEKBMWLJB2Zc2SUbsoXqzQxm", "expires_in": 3600, "restricted_to": [], "token_type": "bearer"}"#.to_string(),
        serde_json::json!({"chunk_size": 2, "next_stream_position": "1152922976252290886", "entries": entries}).to_string(),
        r#"{"chunk_size": 0, "next_stream_position": "1152922976252290886", "entries": []}"#.to_string(),
    ];
    let read = read_pages(
        pages,
        box_source,
        "",
        ("BOX_CLIENT_SECRET", "fixture-secret"),
        "box",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    assert_eq!(read.stored.len(), 2, "{}", read.text);
    for (stored, served) in read.stored.iter().zip(&entries) {
        assert_eq!(stored["data"], *served);
        assert_eq!(stored["event_id"], served["event_id"]);
    }
    assert_eq!(read.stored[0]["event_time"], "2026-12-06T18:53:43.000Z");
    let requests = &read.requests;
    assert_eq!(
        requests.len(),
        3,
        "the empty page ends the window: {requests:?}"
    );
    assert_eq!(requests[0], "/oauth2/token");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(read.bodies[0].as_bytes())
        .into_owned()
        .collect();
    for (key, value) in [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "fixture-secret"),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", ENTERPRISE_ID),
    ] {
        assert!(
            form.contains(&(key.to_string(), value.to_string())),
            "{key} in the token request: {form:?}"
        );
    }
    assert_eq!(
        read.authorizations[0], "",
        "the client goes in the form body"
    );
    let query = |n: usize| -> Vec<(String, String)> {
        let (path, query) = requests[n].split_once('?').unwrap();
        assert_eq!(path, "/2.0/events");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    let first = query(1);
    let value = |q: &[(String, String)], key: &str| {
        q.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    assert_eq!(value(&first, "stream_type").as_deref(), Some("admin_logs"));
    assert_eq!(value(&first, "limit").as_deref(), Some("500"));
    assert_eq!(value(&first, "stream_position"), None);
    for key in ["created_after", "created_before"] {
        let time = value(&first, key).unwrap();
        assert!(
            time.ends_with("-00:00") && time.len() == 25,
            "{key} in whole seconds, UTC as Box spells it: {time}"
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(&time).is_ok(),
            "{time}"
        );
    }
    let second = query(2);
    assert_eq!(
        value(&second, "stream_position").as_deref(),
        Some("1152922976252290886")
    );
    assert_eq!(
        value(&second, "created_after"),
        value(&first, "created_after")
    );
    assert!(read.authorizations[1..]
        .iter()
        .all(|a| a == "Bearer T9aufA5vYEKBMWLJB2Zc2SUbsoXqzQxm"));
}
