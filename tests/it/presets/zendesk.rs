//! The Zendesk preset, configured as docs/connectors/zendesk.md shows (an admin's API token),
//! against the simulator's Zendesk profile: it checks the credentials, takes the range only
//! as `filter[created_at][]` given twice, pages with `page[size]` and `page[after]`, and lists
//! newest first. Also answers shaped as Zendesk's reference shows them, and grove's Zendesk
//! pages (which are ticket pages, not audit logs).

use sluice::simulator::zendesk::ADMIN_EMAIL;
use sluice::simulator::SimulatorConfig;

use super::{exact_through_faults_and_kill_9, fixtures, preset_source, read_pages, TEST_BUDGET};

/// The Zendesk preset with `base_url` pointed at the test server, the API token from the
/// environment.
pub(super) fn zendesk_source(base_url: &str) -> String {
    let settings = format!(
        "subdomain = \"acme\"\nemail = \"{ADMIN_EMAIL}\"\napi_token = \"${{env:ZENDESK_API_TOKEN}}\""
    );
    preset_source("zendesk", &settings, "base_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "zendesk",
        SimulatorConfig::zendesk(6_000),
        zendesk_source,
        [("ZENDESK_API_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn every_request_is_valid_and_a_wrong_token_is_refused_with_zendesks_error() {
    let sim_config = SimulatorConfig::zendesk(1_000);
    super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        zendesk_source,
        "ZENDESK_API_TOKEN",
        &["Couldn't authenticate you"],
        super::every_event_in("zendesk", &sim_config),
    )
    .await;
}

#[tokio::test]
async fn zendesk_preset_sends_what_the_reference_describes() {
    // Two pages as Zendesk's reference shows them: newest first, the first with more to come.
    let record = |id: u64, at: &str| {
        serde_json::json!({
            "action": "update", "action_label": "Updated", "actor_id": 1234, "actor_name": "Sameer Patel",
            "change_description": "Role changed from Administrator to End User", "created_at": at,
            "id": id, "ip_address": "209.119.38.228", "source_id": 3456, "source_label": "John Doe",
            "source_type": "user", "url": format!("https://company.zendesk.com/api/v2/audit_logs/{id}.json")
        })
    };
    let pages = [
        serde_json::json!({
            "audit_logs": [record(498484, "2026-12-06T11:32:44Z")],
            "meta": {"has_more": true, "after_cursor": "eyJvIjoiLWNyZWF0ZWRfYXQifQ", "before_cursor": "b1"},
            "links": {"next": "https://company.zendesk.com/api/v2/audit_logs?page%5Bafter%5D=eyJvIjoiLWNyZWF0ZWRfYXQifQ", "prev": null}
        }),
        serde_json::json!({
            "audit_logs": [record(498483, "2026-12-05T11:32:44Z")],
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": "b2"},
            "links": {"next": null, "prev": null}
        }),
    ];
    let read = read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        zendesk_source,
        "",
        ("ZENDESK_API_TOKEN", "fixture-token"),
        "zendesk",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let ids: Vec<&str> = read
        .stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{}", read.text);
    assert!(
        ids.contains(&"498484") && ids.contains(&"498483"),
        "{ids:?}"
    );
    assert_eq!(
        read.requests.len(),
        2,
        "has_more false ends: {:?}",
        read.requests
    );
    let query = |n: usize| -> Vec<(String, String)> {
        let (path, query) = read.requests[n].split_once('?').unwrap();
        assert_eq!(path, "/api/v2/audit_logs");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    for n in 0..2 {
        let q = query(n);
        let bounds: Vec<&String> = q
            .iter()
            .filter(|(k, _)| k == "filter[created_at][]")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(bounds.len(), 2, "the range, start then end: {q:?}");
        assert!(bounds[0] < bounds[1], "{bounds:?}");
        assert!(q.contains(&("page[size]".into(), "100".into())), "{q:?}");
        assert!(q.contains(&("sort".into(), "-created_at".into())), "{q:?}");
    }
    assert!(query(1).contains(&("page[after]".into(), "eyJvIjoiLWNyZWF0ZWRfYXQifQ".into())));
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{ADMIN_EMAIL}/token:fixture-token")
        )
    );
    assert!(
        read.authorizations.iter().all(|a| *a == basic),
        "{:?}",
        read.authorizations
    );
}

#[tokio::test]
async fn grove_zendesk_pages_are_not_audit_logs_and_are_refused_not_stored() {
    // Grove's Zendesk fixtures are hand-written ticket pages (the incremental ticket export and
    // search), not audit logs: read through the preset, each is a body without `audit_logs`,
    // which fails the page (naming `records_path`) rather than passing for an empty window.
    let Some(root) = fixtures("zendesk") else {
        return;
    };
    for page in [
        "tickets/incremental_tickets.json",
        "tickets/incremental_tickets_end.json",
        "search/search_results.json",
    ] {
        let body = std::fs::read_to_string(root.join(page)).unwrap();
        let read = read_pages(
            vec![body],
            zendesk_source,
            "",
            ("ZENDESK_API_TOKEN", "fixture-token"),
            "zendesk",
        )
        .await;
        assert_eq!(read.code, Some(1), "{page}: {}", read.text);
        assert!(read.text.contains("audit_logs"), "{page}: {}", read.text);
        assert!(read.stored.is_empty(), "{page}: nothing is stored");
        assert!(
            read.requests[0].starts_with("/api/v2/audit_logs?"),
            "{:?}",
            read.requests
        );
    }
}
