//! The Asana preset, configured as docs/connectors/asana.md shows (a service account token
//! from the environment), against the simulator's Asana profile: it checks the token, takes the
//! window as `start_at` (inclusive) and `end_at` (exclusive), lists oldest first and follows
//! `next_page.offset`, which Asana sends on every page once events match, until a page
//! without events. Also pages shaped as Asana's reference shows them. Grove has no Asana
//! pages.

use sluice::simulator::asana::WORKSPACE_GID;
use sluice::simulator::SimulatorConfig;

use super::{exact_through_faults_and_kill_9, preset_source, read_pages, TEST_BUDGET};

/// The Asana preset with `base_url` pointed at the test server, the token from the
/// environment.
pub(super) fn asana_source(base_url: &str) -> String {
    let settings = format!("workspace_gid = \"{WORKSPACE_GID}\"\ntoken = \"${{env:ASANA_TOKEN}}\"");
    preset_source("asana", &settings, "base_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asana_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "asana",
        SimulatorConfig::asana(6_000),
        asana_source,
        [("ASANA_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn every_request_is_valid_and_a_wrong_token_is_refused_with_asanas_error() {
    let sim_config = SimulatorConfig::asana(1_000);
    super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        asana_source,
        "ASANA_TOKEN",
        &["401", "Not Authorized"],
        super::every_event_in("asana", &sim_config),
    )
    .await;
}

/// An event as Asana's reference shows one.
fn event(gid: &str, created_at: &str) -> serde_json::Value {
    serde_json::json!({
        "gid": gid, "created_at": created_at, "event_type": "task_deleted", "event_category": "deletion",
        "actor": {"actor_type": "user", "gid": "1111", "email": "gregsanchez@example.com", "name": "Greg Sanchez"},
        "resource": {"resource_type": "task", "resource_subtype": "milestone", "gid": "1111", "name": "Example Task", "email": "gregsanchez@example.com"},
        "details": {},
        "context": {"context_type": "web", "api_authentication_method": "cookie", "client_ip_address": "1.1.1.1", "user_agent": "Mozilla/5.0", "oauth_app_name": "string"}
    })
}

#[tokio::test]
async fn asana_preset_follows_the_offset_until_a_page_without_events() {
    // As the reference describes: oldest first, and `next_page` on every page, the empty one
    // that ends the current events included.
    let next = |offset: &str| serde_json::json!({"offset": offset, "path": format!("/workspaces/{WORKSPACE_GID}/audit_log_events?offset={offset}"), "uri": format!("https://app.asana.com/api/1.0/workspaces/{WORKSPACE_GID}/audit_log_events?offset={offset}")});
    let pages = [
        serde_json::json!({"data": [event("12345", "2026-12-05T11:32:44.000Z"), event("12346", "2026-12-05T11:32:45.120Z")], "next_page": next("eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ9")}),
        serde_json::json!({"data": [event("12347", "2026-12-06T08:00:00.001Z")], "next_page": next("eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ8")}),
        serde_json::json!({"data": [], "next_page": next("eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ8")}),
    ];
    let read = read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        asana_source,
        "",
        ("ASANA_TOKEN", "fixture-token"),
        "asana",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let mut ids: Vec<&str> = read
        .stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["12345", "12346", "12347"], "{}", read.text);
    assert_eq!(
        read.requests.len(),
        3,
        "an empty page ends, whatever offset it carries: {:?}",
        read.requests
    );
    let query = |n: usize| -> Vec<(String, String)> {
        let (path, query) = read.requests[n].split_once('?').unwrap();
        assert_eq!(
            path,
            format!("/api/1.0/workspaces/{WORKSPACE_GID}/audit_log_events")
        );
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    for n in 0..3 {
        let q = query(n);
        let value = |key: &str| {
            q.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{key} in {q:?}"))
        };
        let start = chrono::DateTime::parse_from_rfc3339(&value("start_at")).unwrap();
        let end = chrono::DateTime::parse_from_rfc3339(&value("end_at")).unwrap();
        assert!(start < end, "{q:?}");
        assert_eq!(value("limit"), "100", "{q:?}");
    }
    assert!(!query(0).iter().any(|(k, _)| k == "offset"));
    assert!(query(1).contains(&(
        "offset".into(),
        "eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ9".into()
    )));
    assert!(query(2).contains(&(
        "offset".into(),
        "eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ8".into()
    )));
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "Bearer fixture-token"),
        "{:?}",
        read.authorizations
    );
}
