use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

const KEY: &str = "ApiToken sim-token";

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::sentinelone(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GET `url` with `authorization` (left out when `None`): status and JSON body.
async fn get_with(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

async fn get(url: &str) -> (u16, Value) {
    get_with(url, Some(KEY)).await
}

fn iso(t: DateTime<Utc>, format: SecondsFormat) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(format, true).as_bytes()).collect()
}

/// Follows `pagination.nextCursor` from `url` (which ends with `&`), returning every page.
async fn list(url: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{url}cursor={c}"),
            None => url.to_string(),
        };
        let (status, body) = get(&page_url).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["data"].as_array().unwrap().clone());
        match body["pagination"]["nextCursor"].as_str() {
            None => {
                assert!(body["pagination"]["nextCursor"].is_null(), "{body}");
                return pages;
            }
            Some(next) => {
                cursor = Some(url::form_urlencoded::byte_serialize(next.as_bytes()).collect())
            }
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

fn time(cfg: &SimulatorConfig, index: u64) -> DateTime<Utc> {
    simulator::event_time(cfg, index)
}

#[test]
fn activities_have_the_documented_shape_and_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut types = HashSet::new();
    for i in (0..cfg.events).step_by(7) {
        let activity = event(&cfg, i);
        let id = activity["id"].as_str().unwrap();
        assert_eq!(id, event_id(&cfg, i));
        assert!(
            id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        assert_eq!(
            activity["createdAt"],
            time(&cfg, i).to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        assert!(activity["primaryDescription"].is_string());
        assert!(activity["data"].is_object());
        assert!(activity["accountId"].is_string());
        types.insert(activity["activityType"].as_u64().unwrap());
        if activity["threatId"].is_string() {
            assert!(activity["userId"].is_null() && activity["agentId"].is_string());
        }
    }
    assert!(types.len() >= 6, "{types:?}");
}

#[tokio::test]
async fn gte_and_lt_make_half_open_windows_listed_oldest_first() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    // Bounds exactly on activities' times: the start's is listed, the end's is not.
    let from = time(&cfg, 300);
    let to = time(&cfg, 1_500);
    let url = format!(
        "{}{ACTIVITIES_PATH}?createdAt__gte={}&createdAt__lt={}&sortBy=createdAt&sortOrder=asc&limit=1000&",
        sim.base_url(),
        iso(from, SecondsFormat::Micros),
        iso(to, SecondsFormat::Millis),
    );
    let pages = list(&url).await;
    assert!(pages.len() > 1, "more than one page");
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| from <= time(&cfg, *i) && time(&cfg, *i) < to)
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_000);
    assert_eq!(served, expected);
    assert!(served.contains(&event(&cfg, 300)));
    assert!(!served.contains(&event(&cfg, 1_500)));

    // `__gt` and `__lte` turn the ends around.
    let url = format!(
        "{}{ACTIVITIES_PATH}?createdAt__gt={}&createdAt__lte={}&sortOrder=asc&limit=1000&",
        sim.base_url(),
        iso(from, SecondsFormat::Micros),
        iso(to, SecondsFormat::Micros),
    );
    let served: Vec<Value> = list(&url).await.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| from < time(&cfg, *i) && time(&cfg, *i) <= to)
        .map(|i| event(&cfg, i))
        .collect();
    assert_eq!(served, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn newest_first_by_default_with_pages_of_ten() {
    let cfg = config(45);
    let sim = start(cfg.clone()).await;
    let url = format!(
        "{}{ACTIVITIES_PATH}?createdAt__gte={}&",
        sim.base_url(),
        iso(time(&cfg, 0) - TimeDelta::days(1), SecondsFormat::Secs),
    );
    let pages = list(&url).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 10, 10, 5]
    );
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events).rev().map(|i| event(&cfg, i)).collect();
    assert_eq!(served, expected);
    let (_, body) = get(&format!("{url}limit=1000")).await;
    assert_eq!(body["pagination"]["totalItems"], 45);
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_look_like_sentinelone() {
    let cfg = config(10);
    let sim = start(cfg.clone()).await;
    let base = format!("{}{ACTIVITIES_PATH}", sim.base_url());
    for authorization in [
        None,
        Some("ApiToken wrong-token"),
        Some("Bearer sim-token"),
        Some("sim-token"),
    ] {
        let (status, body) = get_with(&base, authorization).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(
            body,
            serde_json::json!({ "errors": [{
                "code": 4010010, "detail": null, "title": "Authentication Failed" }] })
        );
    }
    let (_, body) = get(&format!("{base}?limit=1&sortOrder=asc")).await;
    let cursor: String = url::form_urlencoded::byte_serialize(
        body["pagination"]["nextCursor"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .collect();
    for query in [
        "limit=0".to_string(),
        "limit=1001".to_string(),
        "sortOrder=up".to_string(),
        "sortBy=activityType".to_string(),
        "createdAt__gte=yesterday".to_string(),
        "activityTypes=27".to_string(),
        "countOnly=true".to_string(),
        "cursor=nope".to_string(),
        format!("sortOrder=desc&cursor={cursor}"),
        format!(
            "sortOrder=asc&createdAt__gte={}&cursor={cursor}",
            iso(time(&cfg, 3), SecondsFormat::Millis)
        ),
    ] {
        let (status, body) = get(&format!("{base}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errors"][0]["title"], "Validation Error", "{query}");
        assert!(body["errors"][0]["detail"].is_string(), "{query}: {body}");
    }
    let (status, body) = get(&format!("{base}?sortOrder=asc&cursor={cursor}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0], event(&cfg, 1));
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 4);
    assert_eq!(stats.bad_requests, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_answer_has_the_error_shape() {
    let mut cfg = config(10);
    cfg.faults.rate_429 = 1.0;
    let sim = start(cfg).await;
    let (status, body) = get(&format!("{}{ACTIVITIES_PATH}", sim.base_url())).await;
    assert_eq!(status, 429);
    assert_eq!(body["errors"][0]["code"], 4290010);
    assert_eq!(body["errors"][0]["title"], "Too Many Requests");
    sim.shutdown().await;
}
