use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event_ids, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::tfc(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// `GET` the audit trail with `query` and `token`.
async fn get(sim: &RunningSimulator, query: &str, token: &str) -> (u16, Value) {
    let url = format!("{}{PATH}?{query}", sim.base_url());
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

fn since(t: DateTime<Utc>) -> String {
    let text = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        "since={}",
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
    )
}

#[tokio::test]
async fn pages_count_from_the_newest_event_created_after_since() {
    let config = config(2_500);
    let sim = start(config.clone()).await;
    // `since` at event 500's time: only later events, newest first, in pages of 1000.
    let from = simulator::event_time(&config, 500);
    let after: Vec<String> = (0..config.events)
        .filter(|i| simulator::event_time(&config, *i) > from)
        .map(|i| event_id(&config, i))
        .collect();
    let mut served = Vec::new();
    let mut times = Vec::new();
    let mut page = 1;
    loop {
        let query = format!("{}&page%5Bnumber%5D={page}", since(from));
        let (status, body) = get(&sim, &query, "sim-token").await;
        assert_eq!(status, 200, "{body}");
        for event in body["data"].as_array().unwrap() {
            served.push(event["id"].as_str().unwrap().to_string());
            times.push(
                event["timestamp"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap(),
            );
        }
        let pagination = &body["pagination"];
        assert_eq!(pagination["current_page"], page);
        assert_eq!(pagination["total_count"], after.len());
        assert_eq!(
            pagination["total_pages"],
            after.len().div_ceil(MAX_PAGE_SIZE)
        );
        if pagination["next_page"].is_null() {
            break;
        }
        assert_eq!(pagination["next_page"], page + 1);
        page += 1;
    }
    assert_eq!(page, 2, "1999 events in pages of 1000");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(times.iter().all(|t| *t > from), "created after since");
    let expected: HashSet<&String> = after.iter().collect();
    assert_eq!(served.len(), expected.len(), "each once");
    assert_eq!(served.iter().collect::<HashSet<_>>(), expected);
    // Every event, and each is what `event` builds.
    let (_, body) = get(&sim, "page%5Bsize%5D=5", "sim-token").await;
    let newest = &body["data"][0];
    assert_eq!(*newest, event(&config, config.events - 1));
    assert_eq!(newest["auth"]["organization_id"], ORGANIZATION_ID);
    assert_eq!(body["pagination"]["total_count"], config.events);
    assert_eq!(event_ids(&config).len(), config.events as usize);
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn page_sizes_are_cut_to_1000_and_a_page_past_the_end_is_empty() {
    let config = config(1_500);
    let sim = start(config).await;
    let (status, body) = get(&sim, "page%5Bsize%5D=5000", "sim-token").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), MAX_PAGE_SIZE);
    let (status, body) = get(&sim, "page%5Bnumber%5D=9", "sim-token").await;
    assert_eq!(status, 200);
    assert!(body["data"].as_array().unwrap().is_empty());
    assert!(body["pagination"]["next_page"].is_null());
    assert_eq!(body["pagination"]["prev_page"], 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_and_bad_parameters_are_refused_in_json_api_errors() {
    let sim = start(config(10)).await;
    let (status, body) = get(&sim, "", "not-the-token").await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["status"], "401");
    assert_eq!(sim.stats().unauthorized, 1);
    for query in ["since=yesterday", "page%5Bnumber%5D=0", "page%5Bsize%5D=-3"] {
        let (status, body) = get(&sim, query, "sim-token").await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errors"][0]["status"], "400");
    }
    assert_eq!(sim.stats().bad_requests, 3);
    sim.shutdown().await;
}
