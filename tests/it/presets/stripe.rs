//! The Stripe preset, configured as docs/connectors/stripe.md shows (a restricted key from the
//! environment), against the simulator's Stripe profile: it checks the key, takes the window
//! as `created[gte]` / `created[lt]` in Unix seconds, lists newest first and pages with
//! `starting_after=<the last event's id>` while `has_more`. Also pages shaped as Stripe's
//! reference shows them. Grove has no Stripe pages.

use sluice::simulator::SimulatorConfig;

use super::{exact_through_faults_and_kill_9, preset_source, read_pages, TEST_BUDGET};

/// The Stripe preset with `base_url` pointed at the test server, the key from the
/// environment.
pub(super) fn stripe_source(base_url: &str) -> String {
    let settings = "api_key = \"${env:STRIPE_API_KEY}\"";
    preset_source("stripe", settings, "base_url", base_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "stripe",
        SimulatorConfig::stripe(6_000),
        stripe_source,
        [("STRIPE_API_KEY", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn every_request_is_valid_and_a_wrong_key_is_refused_with_stripes_error() {
    let sim_config = SimulatorConfig::stripe(1_000);
    super::refuses_a_wrong_credential_then_reads_exactly(
        sim_config.clone(),
        stripe_source,
        "STRIPE_API_KEY",
        &["401", "Invalid API Key provided"],
        super::every_event_in("stripe", &sim_config),
    )
    .await;
}

/// An event as Stripe's reference shows one.
fn event(id: &str, created: i64) -> serde_json::Value {
    serde_json::json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "data": {"object": {"id": "cus_NffrFeUfNV2Hib", "object": "customer", "email": "jennyrosen@example.com"}},
        "livemode": false, "pending_webhooks": 0,
        "request": {"id": "req_IR4t7IuRo55jWA", "idempotency_key": "fdd7dda8-1ad0-4c3a-96f1-7cd2a3ad6f49"},
        "type": "customer.created"
    })
}

#[tokio::test]
async fn stripe_preset_follows_the_last_id_while_has_more() {
    // Two pages as Stripe's reference shows lists: newest first, the first with more to come.
    let pages = [
        serde_json::json!({
            "object": "list", "url": "/v1/events", "has_more": true,
            "data": [event("evt_1NG8Du2eZvKYlo2CUI79vXWy", 1_765_000_300), event("evt_1NG8Du2eZvKYlo2CUI79vXWx", 1_765_000_200)]
        }),
        serde_json::json!({
            "object": "list", "url": "/v1/events", "has_more": false,
            "data": [event("evt_1NG8Du2eZvKYlo2CUI79vXWw", 1_765_000_100)]
        }),
    ];
    let read = read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        stripe_source,
        "",
        ("STRIPE_API_KEY", "rk_live_fixture"),
        "stripe",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let mut ids: Vec<&str> = read
        .stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "evt_1NG8Du2eZvKYlo2CUI79vXWw",
            "evt_1NG8Du2eZvKYlo2CUI79vXWx",
            "evt_1NG8Du2eZvKYlo2CUI79vXWy"
        ],
        "{}",
        read.text
    );
    assert_eq!(
        read.requests.len(),
        2,
        "has_more false ends: {:?}",
        read.requests
    );
    let query = |n: usize| -> Vec<(String, String)> {
        let (path, query) = read.requests[n].split_once('?').unwrap();
        assert_eq!(path, "/v1/events");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    for n in 0..2 {
        let q = query(n);
        let value = |key: &str| {
            q.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.parse::<i64>().unwrap())
                .unwrap_or_else(|| panic!("{key} in {q:?}"))
        };
        assert!(value("created[gte]") < value("created[lt]"), "{q:?}");
        assert_eq!(value("limit"), 100, "{q:?}");
    }
    assert!(!query(0).iter().any(|(k, _)| k == "starting_after"));
    // The second page starts after the first page's last (oldest) event.
    assert!(
        query(1).contains(&(
            "starting_after".into(),
            "evt_1NG8Du2eZvKYlo2CUI79vXWx".into()
        )),
        "{:?}",
        query(1)
    );
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "Bearer rk_live_fixture"),
        "{:?}",
        read.authorizations
    );
}

#[tokio::test]
async fn more_pages_promised_after_an_empty_page_fail_the_window_rather_than_end_it() {
    // `has_more` true with no event to go on from: the window cannot be finished, and saying
    // so beats a quiet end that would lose the rest.
    let page =
        serde_json::json!({"object": "list", "url": "/v1/events", "has_more": true, "data": []});
    let read = read_pages(
        vec![page.to_string()],
        stripe_source,
        "",
        ("STRIPE_API_KEY", "rk_live_fixture"),
        "stripe",
    )
    .await;
    assert_eq!(read.code, Some(1), "{}", read.text);
    assert!(read.text.contains("last record"), "{}", read.text);
}
