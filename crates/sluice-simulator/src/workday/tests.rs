use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

const BEARER: &str = "Bearer sim-token";

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::workday(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get_with(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

async fn get(url: &str) -> (u16, Value) {
    get_with(url, Some(BEARER)).await
}

fn iso(t: DateTime<Utc>) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes())
        .collect()
}

fn listing_url(sim: &RunningSimulator, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        "{}/ccx/api/privacy/v1/{TENANT}/activityLogging?from={}&to={}",
        sim.base_url(),
        iso(from),
        iso(to)
    )
}

/// Pages through `url` by offset with `limit`, returning every page's entries.
async fn list(url: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut offset = 0;
    loop {
        let (status, body) = get(&format!("{url}&limit={limit}&offset={offset}")).await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap().clone();
        offset += data.len();
        let short = data.len() < limit;
        pages.push(data);
        if short {
            return pages;
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn entries_have_the_documented_shape_and_differ() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(17) {
        let e = event(&cfg, i);
        let time = simulator::event_time(&cfg, i);
        assert_eq!(
            e["requestTime"],
            time.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        for key in [
            "systemAccount",
            "sessionId",
            "ipAddress",
            "deviceType",
            "userAgent",
            "taskId",
            "taskDisplayName",
            "activityAction",
        ] {
            assert!(e[key].is_string(), "{key} in {e}");
        }
        assert_eq!(e["taskId"].as_str().unwrap().len(), 32);
        assert_eq!(e["target"]["id"].as_str().unwrap().len(), 32);
        assert!(["READ", "WRITE", "DOWNLOAD"].contains(&e["activityAction"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn offsets_walk_the_range_oldest_first_from_inclusive_to_exclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 100);
    let to = simulator::event_time(&cfg, 1_500);
    let pages = list(&listing_url(&sim, from, to), 300).await;
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let lo = simulator::first_index_at_or_after(&cfg, from);
    let hi = simulator::first_index_at_or_after(&cfg, to);
    let expected: Vec<Value> = (lo..hi).map(|i| event(&cfg, i)).collect();
    assert_eq!(served.len(), expected.len());
    assert_eq!(served, expected, "every entry of [from, to), oldest first");
    // `total` counts the whole range whatever the page.
    let (_, body) = get(&format!("{}&limit=5&offset=7", listing_url(&sim, from, to))).await;
    assert_eq!(body["total"], hi - lo);
    assert_eq!(body["data"][0], event(&cfg, lo + 7));
    // An empty range is an empty collection.
    let (status, body) = get(&listing_url(&sim, from, from)).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({ "total": 0, "data": [] }));
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn limits_and_required_parameters_are_enforced() {
    let cfg = config(500);
    let sim = start(cfg.clone()).await;
    let from = cfg.anchor - TimeDelta::days(2);
    let url = listing_url(&sim, from, cfg.anchor);
    // Without `limit`, 20.
    let (status, body) = get(&url).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), DEFAULT_LIMIT);
    let base = sim.base_url();
    let path = format!("{base}/ccx/api/privacy/v1/{TENANT}/activityLogging");
    let bad = [
        format!("{url}&limit=1001"),
        format!("{url}&limit=0"),
        format!("{url}&offset=-1"),
        format!("{url}&instancesReturned=0"),
        format!("{path}?from={}", iso(from)),
        format!("{path}?to={}", iso(from)),
        format!("{path}?from=yesterday&to={}", iso(from)),
        listing_url(&sim, cfg.anchor, from),
    ];
    for (n, url) in bad.iter().enumerate() {
        let (status, body) = get(url).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"], "invalid request");
        assert!(body["errors"][0]["field"].is_string(), "{body}");
        assert_eq!(sim.stats().bad_requests, n as u64 + 1);
    }
    let (status, _) = get(&url.replace(TENANT, "other")).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn instances_returned_caps_what_a_query_serves() {
    let mut cfg = config(12_000);
    cfg.span = std::time::Duration::from_secs(3600);
    let sim = start(cfg.clone()).await;
    let url = listing_url(
        &sim,
        cfg.anchor - TimeDelta::days(1),
        cfg.anchor + TimeDelta::hours(1),
    );
    let (_, body) = get(&format!("{url}&limit=1000&offset=9500&instancesReturned=1")).await;
    assert_eq!(body["total"], 12_000);
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        500,
        "only 10,000 entries"
    );
    let (_, body) = get(&format!("{url}&limit=1000&offset=10000")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    let (_, body) = get(&format!(
        "{url}&limit=1000&offset=10000&instancesReturned=2"
    ))
    .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1000);
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_come_from_the_refresh_token_and_wrong_credentials_are_refused() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let token_url = format!("{}/ccx/oauth2/{TENANT}/token", sim.base_url());
    let ask = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
        let mut request = client().post(&token_url).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
            (status, body)
        }
    };
    let grant = |refresh: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.to_string()),
        ]
    };
    let (status, body) = ask(grant("sim-token"), Some((CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["refresh_token"], "sim-token");
    let access = body["access_token"].as_str().unwrap().to_string();
    let url = listing_url(&sim, cfg.anchor - TimeDelta::days(2), cfg.anchor);
    let (status, _) = get_with(&url, Some(&format!("Bearer {access}"))).await;
    assert_eq!(status, 200);

    let (status, body) = ask(grant("revoked"), Some((CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = ask(grant("sim-token"), Some((CLIENT_ID, "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = get_with(&url, Some("Bearer forged")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid access token");
    let (status, _) = get_with(&url, None).await;
    assert_eq!(status, 401);
    assert_eq!(sim.stats().unauthorized, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn entries_not_yet_visible_are_not_served() {
    let mut cfg = config(400);
    cfg.anchor = Utc::now() + TimeDelta::hours(1);
    let sim = start(cfg.clone()).await;
    let url = listing_url(
        &sim,
        cfg.anchor - TimeDelta::days(2),
        cfg.anchor + TimeDelta::days(1),
    );
    let served: Vec<Value> = list(&url, 1000).await.into_iter().flatten().collect();
    let now = Utc::now();
    let visible = (0..cfg.events)
        .filter(|i| simulator::visible_at(&cfg, *i) <= now)
        .count();
    assert!(visible < cfg.events as usize, "some entries lie ahead");
    assert_eq!(served.len(), visible);
    sim.shutdown().await;
}
