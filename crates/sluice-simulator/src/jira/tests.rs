use std::collections::HashSet;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::jira(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn basic(email: &str, token: &str) -> String {
    let pair = format!("{email}:{token}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn get_with(url: &str, authorization: &str) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let answer = client
        .get(url)
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

async fn get(url: &str) -> (u16, Value) {
    get_with(url, &basic(EMAIL, "sim-token")).await
}

fn iso(t: DateTime<Utc>) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes())
        .collect()
}

/// Pages through `url` (ending with `&`) with `offset_key` until a short page.
async fn list(url: &str, offset_key: &str, records_key: &str, limit: usize) -> Vec<Value> {
    let mut served = Vec::new();
    loop {
        let (status, body) =
            get(&format!("{url}{offset_key}={}&limit={limit}", served.len())).await;
        assert_eq!(status, 200, "{body}");
        let page = body[records_key].as_array().unwrap().clone();
        let short = page.len() < limit;
        served.extend(page);
        if short {
            return served;
        }
        assert!(served.len() < 100_000, "the listing does not end");
    }
}

#[test]
fn records_have_the_documented_shapes_and_unique_ids() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in 0..200 {
        let r = event(&cfg, i);
        let time = simulator::event_time(&cfg, i);
        match Product::of(i) {
            Product::Jira => {
                assert_eq!(r["id"].as_u64().unwrap().to_string(), event_id(&cfg, i));
                assert_eq!(
                    r["created"],
                    time.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
                );
                assert!(r["objectItem"]["typeName"].is_string());
            }
            Product::Confluence => {
                assert!(r.get("id").is_none());
                assert_eq!(r["creationDate"], time.timestamp_millis());
                assert!(r["author"]["accountId"].is_string());
            }
        }
    }
}

#[tokio::test]
async fn both_products_page_by_offset_newest_first_with_inclusive_bounds() {
    let cfg = config(3_000);
    let sim = start(cfg.clone()).await;
    let (lo, hi) = (
        simulator::event_time(&cfg, 400),
        simulator::event_time(&cfg, 2_400),
    );
    let expected = |product: Product| -> Vec<Value> {
        (0..cfg.events)
            .rev()
            .filter(|i| Product::of(*i) == product)
            .filter(|i| (lo..=hi).contains(&simulator::event_time(&cfg, *i)))
            .map(|i| event(&cfg, i))
            .collect()
    };
    let jira = format!(
        "{}{}?from={}&to={}&",
        sim.base_url(),
        Product::Jira.path(),
        iso(lo),
        iso(hi)
    );
    let served = list(&jira, "offset", "records", 300).await;
    assert!(served.len() > 900);
    assert_eq!(served, expected(Product::Jira));
    let confluence = format!(
        "{}{}?startDate={}&endDate={}&",
        sim.base_url(),
        Product::Confluence.path(),
        lo.timestamp_millis(),
        hi.timestamp_millis()
    );
    let served = list(&confluence, "start", "results", 300).await;
    assert_eq!(served, expected(Product::Confluence));
    // Jira's own layout is taken too, and `total` counts the whole range.
    let jira_layout: String = url::form_urlencoded::byte_serialize(
        lo.format("%Y-%m-%dT%H:%M:%S%.3f+0000")
            .to_string()
            .as_bytes(),
    )
    .collect();
    let (status, body) = get(&format!(
        "{}{}?from={jira_layout}&to={}&limit=5000",
        sim.base_url(),
        Product::Jira.path(),
        iso(hi)
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["limit"], MAX_LIMIT);
    assert_eq!(body["total"], expected(Product::Jira).len());
    // `from` not before `to`: nothing.
    let (_, body) = get(&format!(
        "{}{}?from={}&to={}",
        sim.base_url(),
        Product::Jira.path(),
        iso(hi),
        iso(lo)
    ))
    .await;
    assert_eq!(body["records"], serde_json::json!([]));
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_and_bad_parameters_are_refused_in_each_products_words() {
    let sim = start(config(100)).await;
    let jira = format!("{}{}", sim.base_url(), Product::Jira.path());
    let confluence = format!("{}{}", sim.base_url(), Product::Confluence.path());
    for credentials in [
        basic(EMAIL, "wrong"),
        basic("other@acme.example", "sim-token"),
    ] {
        let (status, body) = get_with(&jira, &credentials).await;
        assert_eq!(status, 401);
        assert!(body["errorMessages"][0].is_string(), "{body}");
        let (status, body) = get_with(&confluence, &credentials).await;
        assert_eq!(status, 401);
        assert_eq!(body["statusCode"], 401, "{body}");
    }
    assert_eq!(sim.stats().unauthorized, 4);
    for bad in [
        format!("{jira}?from=yesterday"),
        format!("{jira}?filter=user"),
        format!("{jira}?offset=-5"),
        format!("{confluence}?startDate=2026-11-23T10:00:00Z"),
        format!("{confluence}?searchString=space"),
    ] {
        let (status, body) = get(&bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(sim.stats().bad_requests, 5);
    sim.shutdown().await;
}
