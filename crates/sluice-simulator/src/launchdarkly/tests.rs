use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, Faults, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::launchdarkly(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GETs `path_and_query` with `Authorization: <authorization>`.
async fn get(
    sim: &RunningSimulator,
    path_and_query: &str,
    authorization: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, headers, body)
}

#[tokio::test]
async fn contiguous_windows_serve_each_entry_once_newest_first_through_next_links() {
    let config = config(700);
    let sim = start(config.clone()).await;
    let first = simulator::event_time(&config, 0).timestamp_millis();
    let last = simulator::event_time(&config, config.events - 1).timestamp_millis();
    // `after` and `before` both exclusive: a window (from, to) holds from + 1 .. to - 1, so
    // the next window starts at to - 1.
    let mut served: Vec<String> = Vec::new();
    let mut from = first - 1;
    while from <= last {
        let to = from + 3_600_000;
        let mut next = Some(format!("{PATH}?after={from}&before={to}&limit=20"));
        let mut window: Vec<i64> = Vec::new();
        while let Some(path) = next {
            let (status, _, body) = get(&sim, &path, "sim-token").await;
            assert_eq!(status, 200, "{body}");
            let items = body["items"].as_array().unwrap();
            assert!(items.len() <= MAX_LIMIT);
            for item in items {
                let date = item["date"].as_i64().unwrap();
                assert!(date > from && date < to, "{date} outside ({from}, {to})");
                window.push(date);
                served.push(item["_id"].as_str().unwrap().to_string());
            }
            next = body["_links"]["next"]["href"].as_str().map(str::to_string);
        }
        assert!(window.windows(2).all(|w| w[0] >= w[1]), "newest first");
        from = to - 1;
    }
    let unique: HashSet<&String> = served.iter().collect();
    assert_eq!(unique.len(), served.len(), "no entry twice");
    assert_eq!(served.len() as u64, config.events);
    let expected: HashSet<String> = simulator::event_ids(&config).into_iter().collect();
    assert_eq!(served.into_iter().collect::<HashSet<_>>(), expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn entries_are_shaped_as_the_reference_shows() {
    let config = config(50);
    let sim = start(config.clone()).await;
    let (status, _, body) = get(&sim, &format!("{PATH}?limit=1"), "sim-token").await;
    assert_eq!(status, 200);
    // Ten by default, at most twenty; newest first: the last entry.
    let entry = &body["items"][0];
    assert_eq!(*entry, simulator::event(&config, config.events - 1));
    assert_eq!(entry["_id"].as_str().unwrap().len(), 24);
    assert_eq!(
        entry["date"].as_i64().unwrap(),
        simulator::event_time(&config, config.events - 1).timestamp_millis()
    );
    assert!(entry["accesses"][0]["action"].is_string());
    assert!(entry["member"]["email"].is_string() || entry["token"]["name"].is_string());
    let (_, _, body) = get(&sim, PATH, "sim-token").await;
    assert_eq!(body["items"].as_array().unwrap().len(), DEFAULT_LIMIT);
    assert!(body["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .starts_with("/api/v2/auditlog?cursor="));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_is_the_whole_header_and_bad_queries_are_refused() {
    let sim = start(config(100)).await;
    for authorization in ["Bearer sim-token", "api_key sim-token", "wrong"] {
        let (status, _, body) = get(&sim, PATH, authorization).await;
        assert_eq!(status, 401, "{authorization}");
        assert_eq!(body["code"], "unauthorized");
        assert!(body["message"].is_string() && body["id"].is_string());
    }
    for query in [
        "limit=21",
        "limit=0",
        "after=yesterday",
        "q=flag",
        "spec=proj/*",
        "page=2",
    ] {
        let (status, _, body) = get(&sim, &format!("{PATH}?{query}"), "sim-token").await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "invalid_request");
    }
    // A cursor belongs to its range.
    let (_, _, body) = get(&sim, &format!("{PATH}?limit=5"), "sim-token").await;
    let next = body["_links"]["next"]["href"].as_str().unwrap().to_string();
    let (status, _, _) = get(&sim, &next, "sim-token").await;
    assert_eq!(status, 200);
    let (status, _, _) = get(&sim, &format!("{next}&before=1"), "sim-token").await;
    assert_eq!(status, 400, "the cursor with another range");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_spent_limit_answers_429_with_a_reset_in_epoch_milliseconds() {
    let sim = start(SimulatorConfig {
        faults: Faults {
            rate_429: 1.0,
            seed: Some(1),
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    let before = Utc::now().timestamp_millis();
    let (status, headers, body) = get(&sim, PATH, "sim-token").await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(headers["x-ratelimit-route-remaining"], "0");
    let reset: i64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset > before && reset <= before + 60_000,
        "{reset} is in milliseconds"
    );
    sim.shutdown().await;
}
