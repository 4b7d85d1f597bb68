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
        ..SimulatorConfig::zendesk(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn basic() -> String {
    let pair = format!("{ADMIN_EMAIL}/token:sim-token");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `GET` of `url` (absolute) with `authorization`: the status and the JSON body.
async fn get(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn url(sim: &RunningSimulator, query: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}{AUDIT_LOGS_PATH}", sim.base_url())).unwrap();
    url.query_pairs_mut().extend_pairs(query);
    url.to_string()
}

fn time(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Follows `links.next` from `first` while `meta.has_more`: every page's records.
async fn list(first: String) -> Vec<Vec<Value>> {
    let (mut status, mut body) = get(&first, Some(&basic())).await;
    let mut pages = Vec::new();
    loop {
        assert_eq!(status, 200, "{body}");
        pages.push(body["audit_logs"].as_array().unwrap().clone());
        if !body["meta"]["has_more"].as_bool().unwrap() {
            assert_eq!(body["meta"]["after_cursor"], Value::Null);
            return pages;
        }
        let next = body["links"]["next"].as_str().unwrap().to_string();
        assert!(next.contains("page%5Bafter%5D=") || next.contains("page[after]="));
        (status, body) = get(&next, Some(&basic())).await;
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn records_have_the_documented_shape_and_unique_ids() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(11) {
        let e = event(&cfg, i);
        assert_eq!(e["id"].as_u64().unwrap().to_string(), ids[i as usize]);
        assert_eq!(
            e["created_at"],
            simulator::event_time(&cfg, i)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        );
        for key in [
            "action",
            "actor_name",
            "change_description",
            "source_type",
            "url",
        ] {
            assert!(e[key].is_string(), "{key}: {e}");
        }
    }
}

#[tokio::test]
async fn a_range_lists_newest_first_or_oldest_first_both_bounds_inclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 300).timestamp();
    let to = simulator::event_time(&cfg, 1_700).timestamp();
    let (a, b) = (time(from), time(to));
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| (from..=to).contains(&simulator::event_time(&cfg, *i).timestamp()))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_000);
    let range = [
        ("filter[created_at][]", a.as_str()),
        ("filter[created_at][]", b.as_str()),
        ("page[size]", "100"),
    ];
    let newest: Vec<Value> = list(url(&sim, &range))
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(newest, reversed, "the default sort is -created_at");
    let mut ascending = range.to_vec();
    ascending.push(("sort", "created_at"));
    let oldest: Vec<Value> = list(url(&sim, &ascending))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(oldest, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn credentials_and_parameters_are_checked() {
    let cfg = config(500);
    let sim = start(cfg.clone()).await;
    let ok = [
        ("filter[created_at][]", "2026-11-23T00:00:00Z"),
        ("filter[created_at][]", "2026-11-24T00:00:00Z"),
        ("page[size]", "100"),
    ];
    let (status, _) = get(&url(&sim, &ok), Some("Bearer sim-token")).await;
    assert_eq!(status, 200, "an OAuth token works too");
    for auth in [None, Some("Bearer nope"), Some("Basic YWRtaW46bm9wZQ==")] {
        let (status, body) = get(&url(&sim, &ok), auth).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "Couldn't authenticate you");
    }
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![ok[0], ok[2]],
        vec![ok[1], ok[0], ok[2]],
        vec![ok[0], ok[1]],
        vec![ok[0], ok[1], ("page[size]", "101")],
        vec![ok[0], ok[1], ok[2], ("sort", "id")],
        vec![ok[0], ok[1], ok[2], ("filter[actor_id]", "1")],
        vec![ok[0], ok[1], ok[2], ("page[after]", "bm9wZQ")],
    ];
    for query in &bad {
        let (status, body) = get(&url(&sim, query), Some(&basic())).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert_eq!(body["error"], "InvalidValue");
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.unauthorized, stats.bad_requests),
        (3, bad.len() as u64)
    );
    sim.shutdown().await;
}
