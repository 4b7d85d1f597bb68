use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::slack(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

/// Follows `response_metadata.next_cursor` from `url` (which ends with `&`), returning every
/// page's entries.
async fn list(url: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = get(&format!("{url}cursor={cursor}"), Some("sim-token")).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["entries"].as_array().unwrap().clone());
        cursor = body["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() {
            return pages;
        }
        cursor = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn entries_have_the_documented_shape_and_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(11) {
        let e = event(&cfg, i);
        assert_eq!(e["id"], event_id(&cfg, i).as_str());
        assert_eq!(
            e["date_create"].as_i64().unwrap(),
            simulator::event_time(&cfg, i).timestamp()
        );
        let kind = e["entity"]["type"].as_str().unwrap();
        assert!(e["entity"][kind].is_object(), "{e}");
        assert_eq!(e["actor"]["type"], "user");
        assert!(e["context"]["ip_address"].is_string());
    }
}

#[tokio::test]
async fn a_range_comes_newest_first_with_both_ends_inclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let oldest = simulator::event_time(&cfg, 300).timestamp();
    let latest = simulator::event_time(&cfg, 1_500).timestamp();
    let url = format!(
        "{}{LOGS_PATH}?oldest={oldest}&latest={latest}&limit=250&",
        sim.base_url()
    );
    let pages = list(&url).await;
    assert!(pages.iter().all(|p| p.len() <= 250));
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .map(|i| event(&cfg, i))
        .filter(|e| (oldest..=latest).contains(&e["date_create"].as_i64().unwrap()))
        .collect();
    assert!(expected.len() > 1_000);
    assert_eq!(served, expected);
    let first =
        simulator::first_index_at_or_after(&cfg, DateTime::from_timestamp(oldest, 0).unwrap());
    assert_eq!(expected.last().unwrap(), &event(&cfg, first));
}

#[tokio::test]
async fn refusals_look_like_slack() {
    let sim = start(config(10)).await;
    let base = format!("{}{LOGS_PATH}", sim.base_url());
    let (status, body) = get(&base, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("not_authed")));
    let (status, body) = get(&base, Some("xoxp-wrong")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_auth"))
    );
    for query in [
        "limit=0",
        "limit=10000",
        "oldest=yesterday",
        "action=user_login",
    ] {
        let (status, body) = get(&format!("{base}?{query}"), Some("sim-token")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_arguments")),
            "{query}"
        );
    }
    let (status, body) = get(&format!("{base}?cursor=bm9wZQ%3D%3D"), Some("sim-token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_cursor"))
    );
    let (status, body) = get(&base, Some("sim-token")).await;
    assert_eq!(status, 200);
    assert_eq!(body["entries"].as_array().unwrap().len(), 10);
    assert_eq!(body["response_metadata"]["next_cursor"], "");
}
