use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

const KEY: &str = "Token token=sim-token";

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::pagerduty(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GET `url` with `authorization` and `accept` headers (each left out when `None`).
async fn get_with(url: &str, authorization: Option<&str>, accept: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    if let Some(value) = accept {
        request = request.header("Accept", value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

async fn get(url: &str) -> (u16, Value) {
    get_with(url, Some(KEY), Some(ACCEPT_V2)).await
}

fn iso(t: DateTime<Utc>) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes())
        .collect()
}

/// Follows `next_cursor` from `url` (which ends with `&`), returning every page's records.
async fn list(url: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = get(&format!("{url}cursor={cursor}")).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["records"].as_array().unwrap().clone());
        match body["next_cursor"].as_str() {
            None => {
                assert!(body["next_cursor"].is_null(), "{body}");
                return pages;
            }
            Some(next) => cursor = url::form_urlencoded::byte_serialize(next.as_bytes()).collect(),
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn records_have_the_documented_shape_and_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(13) {
        let r = event(&cfg, i);
        assert_eq!(r["id"], event_id(&cfg, i).as_str());
        assert_eq!(r["id"].as_str().unwrap().len(), 43);
        let time = simulator::event_time(&cfg, i);
        assert_eq!(
            r["execution_time"],
            time.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        assert!(["create", "update", "delete"].contains(&r["action"].as_str().unwrap()));
        assert!(r["method"]["type"].is_string());
        assert!(r["root_resource"]["type"]
            .as_str()
            .unwrap()
            .ends_with("_reference"));
        assert_eq!(r["actors"][0]["type"], "user_reference");
        assert!(r["execution_context"]["request_id"].is_string());
    }
}

#[tokio::test]
async fn a_range_comes_newest_first_since_inclusive_until_exclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let since = simulator::event_time(&cfg, 300);
    let until = simulator::event_time(&cfg, 1_500);
    let url = format!(
        "{}{RECORDS_PATH}?since={}&until={}&limit=100&",
        sim.base_url(),
        iso(since),
        iso(until)
    );
    let pages = list(&url).await;
    assert!(pages.iter().all(|p| p.len() <= 100));
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| (since..until).contains(&simulator::event_time(&cfg, *i)))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_000);
    assert_eq!(served, expected);
    assert_eq!(
        expected.last().unwrap(),
        &event(&cfg, simulator::first_index_at_or_after(&cfg, since))
    );
}

#[tokio::test]
async fn limit_is_capped_and_echoed_and_an_empty_range_has_pagerdutys_shape() {
    let cfg = config(500);
    let sim = start(cfg.clone()).await;
    let since = simulator::event_time(&cfg, 0);
    let until = simulator::event_time(&cfg, 499);
    let base = format!("{}{RECORDS_PATH}", sim.base_url());
    let (status, body) = get(&format!(
        "{base}?since={}&until={}&limit=5000",
        iso(since),
        iso(until)
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["limit"], MAX_LIMIT);
    assert_eq!(body["records"].as_array().unwrap().len(), MAX_LIMIT);
    assert!(body["next_cursor"].is_string());
    let (_, body) = get(&format!("{base}?since={}&until={}", iso(since), iso(until))).await;
    assert_eq!(body["limit"], DEFAULT_LIMIT);
    assert_eq!(body["records"].as_array().unwrap().len(), DEFAULT_LIMIT);
    // A range before every record.
    let early = since - TimeDelta::days(2);
    let (status, body) = get(&format!(
        "{base}?since={}&until={}",
        iso(early),
        iso(early + TimeDelta::days(1))
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({
            "records": [],
            "response_metadata": null,
            "limit": DEFAULT_LIMIT,
            "next_cursor": null,
        })
    );
}

#[tokio::test]
async fn refusals_look_like_pagerduty() {
    let cfg = config(10);
    let sim = start(cfg.clone()).await;
    let base = format!("{}{RECORDS_PATH}", sim.base_url());
    for authorization in [
        None,
        Some("Token token=wrong-key"),
        Some("Bearer sim-token"),
        Some("Token sim-token"),
    ] {
        let (status, body) = get_with(&base, authorization, Some(ACCEPT_V2)).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(body["error"]["code"], 2006, "{body}");
        assert!(body["error"]["message"].is_string());
    }
    let (status, body) = get_with(&base, Some(KEY), None).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(2001)));
    let since = simulator::event_time(&cfg, 0);
    for query in [
        "limit=0".to_string(),
        "limit=ten".to_string(),
        "since=yesterday".to_string(),
        format!(
            "since={}&until={}",
            iso(since),
            iso(since - TimeDelta::hours(1))
        ),
        format!(
            "since={}&until={}",
            iso(since),
            iso(since + TimeDelta::days(32))
        ),
        "actor_type=user_reference".to_string(),
        "cursor=1631124211900-nope".to_string(),
        "cursor=nope".to_string(),
    ] {
        let (status, body) = get(&format!("{base}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], 2001, "{query}");
        assert_eq!(body["error"]["message"], "Invalid Input Provided");
        assert!(body["error"]["errors"][0].is_string(), "{body}");
    }
    // Ten records, the last at the anchor: the default range (the past 24 hours) holds
    // them only when they are recent, so ask for the range around them.
    let (status, body) = get(&format!(
        "{base}?since={}&until={}",
        iso(since),
        iso(cfg.anchor + TimeDelta::seconds(1))
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["records"].as_array().unwrap().len(), 10);
    assert!(body["next_cursor"].is_null());
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 4);
}

#[tokio::test]
async fn a_rate_limited_answer_carries_pagerdutys_headers() {
    let mut cfg = config(10);
    cfg.faults.rate_429 = 1.0;
    let sim = start(cfg).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let answer = client
        .get(format!("{}{RECORDS_PATH}", sim.base_url()))
        .header("Authorization", KEY)
        .header("Accept", ACCEPT_V2)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 429);
    let headers = answer.headers();
    assert_eq!(headers["ratelimit-limit"], "960");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], "1");
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], 2020);
}
