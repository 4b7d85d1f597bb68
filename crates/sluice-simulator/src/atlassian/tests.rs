use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::atlassian(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn get(url: &str, key: &str) -> (u16, HeaderMap, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let answer = client.get(url).bearer_auth(key).send().await.unwrap();
    let status = answer.status().as_u16();
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            headers.insert(
                HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                value,
            );
        }
    }
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, headers, body)
}

#[test]
fn events_are_json_api_resources_with_unique_ids() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(13) {
        let e = event(&cfg, i);
        assert_eq!(e["type"], "events");
        let time = DateTime::parse_from_rfc3339(e["attributes"]["time"].as_str().unwrap()).unwrap();
        assert_eq!(time.with_timezone(&Utc), simulator::event_time(&cfg, i));
        assert!(e["attributes"]["actor"]["id"].is_string());
    }
}

#[tokio::test]
async fn a_range_comes_newest_first_through_meta_next_and_links_next() {
    let cfg = config(1_000);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 100).timestamp_millis();
    let to = simulator::event_time(&cfg, 800).timestamp_millis();
    let first = format!(
        "{}/admin/v1/orgs/{ORG_ID}/events?from={from}&to={to}",
        sim.base_url()
    );
    let mut served = Vec::new();
    let (mut by_cursor, mut by_link) = (first.clone(), first);
    loop {
        let (status, headers, body) = get(&by_cursor, "sim-token").await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("x-ratelimit-reset"));
        let (_, _, same) = get(&by_link, "sim-token").await;
        assert_eq!(same, body, "links.next and meta.next lead to the same page");
        served.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["meta"]["next"].as_str() {
            Some(cursor) => {
                by_cursor = format!(
                    "{}/admin/v1/orgs/{ORG_ID}/events?from={from}&to={to}&cursor={cursor}",
                    sim.base_url()
                );
                by_link = body["links"]["next"].as_str().unwrap().to_string();
            }
            None => {
                assert!(body["links"].get("next").is_none());
                break;
            }
        }
    }
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| {
            let ms = simulator::event_time(&cfg, *i).timestamp_millis();
            (from..=to).contains(&ms)
        })
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 600);
    assert_eq!(served, expected);
}

#[tokio::test]
async fn refusals_look_like_atlassian() {
    let sim = start(config(10)).await;
    let base = format!("{}/admin/v1/orgs/{ORG_ID}/events", sim.base_url());
    assert_eq!(get(&base, "wrong").await.0, 401);
    let other = format!("{}/admin/v1/orgs/other/events", sim.base_url());
    assert_eq!(get(&other, "sim-token").await.0, 404);
    for query in [
        "from=yesterday",
        "q=login",
        "action=user_logged_in",
        "cursor=zz.00000000",
    ] {
        let (status, _, body) = get(&format!("{base}?{query}"), "sim-token").await;
        assert_eq!(status, 400, "{query}: {body}");
    }
}
