use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, RunningSimulator, SimulatorConfig};

const KEY: &str = "token sim-token";
const VERSION: &str = "2024-04-29";

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::snyk(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

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

fn iso(t: DateTime<Utc>) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes())
        .collect()
}

/// Follows `links.next` (a path on the host) from `first`, returning every page's items.
async fn list(base: &str, first: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut url = format!("{base}{first}");
    loop {
        let (status, body) = get(&url).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["jsonapi"]["version"], "1.0");
        pages.push(body["data"]["items"].as_array().unwrap().clone());
        match body["links"]["next"].as_str() {
            None => return pages,
            Some(next) => {
                assert!(next.starts_with("/rest/"), "{next}");
                url = format!("{base}{next}");
            }
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn items_have_the_documented_shape_and_distinct_content() {
    let cfg = config(3_000);
    let ids: HashSet<String> = (0..cfg.events).map(|i| event_id(&cfg, i)).collect();
    assert_eq!(ids.len(), 3_000, "no two items are equal");
    for i in (0..cfg.events).step_by(7) {
        let item = event(&cfg, i);
        let time = simulator::event_time(&cfg, i);
        assert_eq!(
            item["created"],
            time.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        assert_eq!(item["group_id"], GROUP_ID);
        let event = item["event"].as_str().unwrap();
        match Level::of(i) {
            Level::Org => {
                assert_eq!(item["org_id"], ORG_ID);
                assert!(event.starts_with("org."), "{event}");
            }
            Level::Group => {
                assert!(item.get("org_id").is_none());
                assert!(event.starts_with("group."), "{event}");
            }
        }
        assert!(item["content"].is_object());
    }
}

#[tokio::test]
async fn from_is_inclusive_to_exclusive_and_each_level_serves_its_items() {
    let cfg = config(1_200);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 150);
    let to = simulator::event_time(&cfg, 1_050);
    let query = format!(
        "?version={VERSION}&from={}&to={}&size=100&sort_order=ASC",
        iso(from),
        iso(to)
    );
    for (level, path) in [(Level::Org, org_path()), (Level::Group, group_path())] {
        let pages = list(&sim.base_url(), &format!("{path}{query}")).await;
        assert!(pages.iter().all(|p| p.len() <= 100));
        let served: Vec<Value> = pages.into_iter().flatten().collect();
        let expected: Vec<Value> = (0..cfg.events)
            .filter(|i| level.serves(*i))
            .filter(|i| (from..to).contains(&simulator::event_time(&cfg, *i)))
            .map(|i| event(&cfg, i))
            .collect();
        assert!(expected.len() > 500);
        assert_eq!(served, expected, "{level:?}");
        assert_eq!(served[0], event(&cfg, 150), "`from` is inclusive");
    }
    // Newest first without `sort_order`.
    let (_, body) = get(&format!(
        "{}{}?version={VERSION}&from={}&to={}&size=3",
        sim.base_url(),
        group_path(),
        iso(from),
        iso(to)
    ))
    .await;
    let newest: Vec<Value> = (0..1_050).rev().take(3).map(|i| event(&cfg, i)).collect();
    assert_eq!(body["data"]["items"].as_array().unwrap(), &newest);
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_are_json_api_errors() {
    let cfg = config(30);
    let sim = start(cfg.clone()).await;
    let base = format!("{}{}", sim.base_url(), org_path());
    let range = format!(
        "version={VERSION}&from={}&to={}",
        iso(simulator::event_time(&cfg, 0)),
        iso(cfg.anchor + TimeDelta::seconds(1))
    );
    for authorization in [
        None,
        Some("token wrong"),
        Some("Bearer sim-token"),
        Some("sim-token"),
    ] {
        let (status, body) = get_with(&format!("{base}?{range}"), authorization).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(body["errors"][0]["status"], "401");
    }
    let other = ORG_ROUTE.replace("{org_id}", GROUP_ID);
    let (status, body) = get(&format!("{}{other}?{range}", sim.base_url())).await;
    assert_eq!(
        (status, body["errors"][0]["status"].as_str()),
        (403, Some("403"))
    );
    let (_, body) = get(&format!("{base}?{range}&size=1&sort_order=ASC")).await;
    let next = body["links"]["next"].as_str().unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap().to_string();
    for query in [
        "from=2026-11-23T00:00:00Z".to_string(),
        format!(
            "version=2023-01-01&{}",
            &range["version=2024-04-29&".len()..]
        ),
        format!("version=latest&{}", &range["version=2024-04-29&".len()..]),
        format!("{range}&size=0"),
        format!("{range}&size=101"),
        format!("{range}&sort_order=up"),
        format!("{range}&events=org.user.add"),
        format!("{range}&limit=10"),
        format!("{range}&from=yesterday"),
        format!("{range}&cursor=nope"),
        format!("{range}&sort_order=DESC&cursor={cursor}"),
    ] {
        let (status, body) = get(&format!("{base}?{query}")).await;
        assert!(status == 400 || status == 404, "{query}: {status} {body}");
        assert_eq!(body["jsonapi"]["version"], "1.0", "{query}");
        assert_eq!(body["errors"][0]["status"], status.to_string(), "{query}");
        assert!(body["errors"][0]["detail"].is_string(), "{query}");
    }
    let (status, _) = get(&format!(
        "{base}?{range}&size=1&sort_order=ASC&cursor={cursor}"
    ))
    .await;
    assert_eq!(status, 200);
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 5);
    assert_eq!(stats.bad_requests, 11);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_answer_is_a_json_api_429() {
    let mut cfg = config(10);
    cfg.faults.rate_429 = 1.0;
    let sim = start(cfg).await;
    let (status, body) = get(&format!(
        "{}{}?version={VERSION}",
        sim.base_url(),
        org_path()
    ))
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["errors"][0]["status"], "429");
    sim.shutdown().await;
}
