use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::tines(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

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

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn contiguous_windows_serve_each_log_once_newest_first_in_numbered_pages() {
    let config = config(3_000);
    let sim = start(config.clone()).await;
    let first = simulator::event_time(&config, 0);
    let last = simulator::event_time(&config, config.events - 1);
    // Both bounds exclusive, on whole seconds: a window (from, to) holds the seconds
    // from + 1 s .. to - 1 s, so the next one starts at to - 1 s.
    let mut served: Vec<String> = Vec::new();
    let mut from = first - TimeDelta::seconds(1);
    while from < last {
        let to = from + TimeDelta::minutes(30);
        let mut page = 1;
        loop {
            let query = format!(
                "after={}&before={}&per_page=500&page={page}",
                secs(from),
                secs(to)
            );
            let (status, body) = get(&sim, &query, "sim-token").await;
            assert_eq!(status, 200, "{body}");
            let logs = body["audit_logs"].as_array().unwrap();
            let times: Vec<DateTime<Utc>> = logs
                .iter()
                .map(|l| l["created_at"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
            assert!(
                times.iter().all(|t| *t > from && *t < to),
                "inside (after, before)"
            );
            served.extend(logs.iter().map(|l| l["id"].to_string()));
            let meta = &body["meta"];
            assert_eq!(meta["per_page"], 500);
            if meta["next_page_number"].is_null() {
                assert!(meta["next_page"].is_null());
                break;
            }
            assert_eq!(meta["next_page_number"], page + 1);
            page += 1;
        }
        from = to - TimeDelta::seconds(1);
    }
    let unique: HashSet<&String> = served.iter().collect();
    let expected: Vec<String> = (0..config.events).map(|i| event_id(&config, i)).collect();
    assert_eq!(unique, expected.iter().collect::<HashSet<_>>(), "every log");
    assert_eq!(served.len(), unique.len(), "each once");
    // The newest log is what `event` builds.
    let (_, body) = get(&sim, "", "sim-token").await;
    assert_eq!(
        body["audit_logs"].as_array().unwrap().len(),
        DEFAULT_PER_PAGE
    );
    assert_eq!(body["audit_logs"][0], event(&config, config.events - 1));
    assert_eq!(body["meta"]["count"], config.events);
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_filters_and_bad_parameters_are_refused() {
    let sim = start(config(10)).await;
    let (status, body) = get(&sim, "", "not-the-key").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(sim.stats().unauthorized, 1);
    for query in [
        "after=yesterday",
        "page=0",
        "per_page=x",
        "operation_name%5B%5D=Login",
    ] {
        let (status, body) = get(&sim, query, "sim-token").await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].is_string());
    }
    assert_eq!(sim.stats().bad_requests, 4);
    let (_, body) = get(&sim, "per_page=9000", "sim-token").await;
    assert_eq!(body["meta"]["per_page"], MAX_PER_PAGE);
    sim.shutdown().await;
}
