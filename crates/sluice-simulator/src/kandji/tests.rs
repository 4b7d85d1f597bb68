use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, Faults, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::kandji(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GETs `url` (absolute) with `Authorization: <authorization>`.
async fn get(url: &str, authorization: &str) -> (u16, Option<String>, Value) {
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let retry = answer
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, retry, body)
}

fn micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[tokio::test]
async fn contiguous_windows_serve_each_event_once_oldest_first_through_next_urls() {
    let config = config(1_500);
    let sim = start(config.clone()).await;
    let first = simulator::event_time(&config, 0);
    let last = simulator::event_time(&config, config.events - 1);
    // Both bounds inclusive: a window [from, to] is followed by one from `to` + 1 ms.
    let mut served: Vec<String> = Vec::new();
    let mut from = first;
    while from <= last {
        let to = from + TimeDelta::minutes(40);
        let mut next = Some(format!(
            "{}{PATH}?start_date={}&end_date={}&limit=100&sort_by=occurred_at",
            sim.base_url(),
            micros(from),
            micros(to)
        ));
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        while let Some(url) = next {
            assert!(url.starts_with(&sim.base_url()), "absolute: {url}");
            let (status, _, body) = get(&url, "Bearer sim-token").await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["previous"], Value::Null);
            for event in body["results"].as_array().unwrap() {
                let time = DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                assert!(time >= from && time <= to, "{time} outside [{from}, {to}]");
                times.push(time);
                served.push(event["id"].as_str().unwrap().to_string());
            }
            next = body["next"].as_str().map(str::to_string);
        }
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        from = to + TimeDelta::milliseconds(1);
    }
    let unique: HashSet<&String> = served.iter().collect();
    assert_eq!(unique.len(), served.len(), "no event twice");
    let expected: HashSet<String> = simulator::event_ids(&config).into_iter().collect();
    assert_eq!(served.into_iter().collect::<HashSet<_>>(), expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn events_are_shaped_as_the_reference_example_and_sort_both_ways() {
    let config = config(40);
    let sim = start(config.clone()).await;
    let url = format!("{}{PATH}?limit=2&sort_by=-occurred_at", sim.base_url());
    let (status, _, body) = get(&url, "Bearer sim-token").await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0], simulator::event(&config, config.events - 1));
    let event = &results[0];
    let id = event["id"].as_str().unwrap();
    assert_eq!(id.len(), 26);
    assert!(id.bytes().all(|b| CROCKFORD_DIGITS.contains(&b)), "{id}");
    // Microseconds, as the reference writes them.
    let time = event["occurred_at"].as_str().unwrap();
    assert_eq!(time.len(), "2025-03-04T16:29:55.253454Z".len(), "{time}");
    for key in [
        "action",
        "actor_id",
        "actor_type",
        "target_id",
        "target_type",
        "target_component",
    ] {
        assert!(event[key].is_string(), "{key}: {event}");
    }
    assert!(event["new_state"].is_object() && event["metadata"].is_object());
    // Dates alone are accepted; a limit above 500 is held to 500.
    let url = format!("{}{PATH}?start_date=2026-11-01&limit=9000", sim.base_url());
    let (status, _, body) = get(&url, "Bearer sim-token").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 40);
    assert_eq!(body["next"], Value::Null, "the last page");
    sim.shutdown().await;
}

const CROCKFORD_DIGITS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[tokio::test]
async fn wrong_tokens_bad_queries_and_foreign_cursors_are_refused() {
    let sim = start(config(600)).await;
    let base = format!("{}{PATH}", sim.base_url());
    for authorization in ["sim-token", "Bearer wrong", "Token sim-token"] {
        let (status, _, body) = get(&base, authorization).await;
        assert_eq!(status, 401, "{authorization}");
        assert!(body["detail"].is_string());
    }
    for query in [
        "limit=0",
        "sort_by=action",
        "start_date=yesterday",
        "action=delete",
    ] {
        let (status, _, body) = get(&format!("{base}?{query}"), "Bearer sim-token").await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (_, _, body) = get(&format!("{base}?limit=100"), "Bearer sim-token").await;
    let next = body["next"].as_str().unwrap().to_string();
    let (status, _, _) = get(&next, "Bearer sim-token").await;
    assert_eq!(status, 200);
    let foreign = format!("{next}&sort_by=-occurred_at");
    let (status, _, body) = get(&foreign, "Bearer sim-token").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (400, Some("Invalid cursor"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_spent_limit_answers_429_with_retry_after() {
    let sim = start(SimulatorConfig {
        faults: Faults {
            rate_429: 1.0,
            seed: Some(1),
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    let (status, retry, body) = get(&format!("{}{PATH}", sim.base_url()), "Bearer sim-token").await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert!(body["detail"].as_str().unwrap().contains("throttled"));
    sim.shutdown().await;
}
