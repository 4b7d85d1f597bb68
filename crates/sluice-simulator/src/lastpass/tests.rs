use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-01T09:00:00Z: New York's night of falling back
/// (01:00–01:59 EDT, then 01:00–01:59 EST again at 06:00Z).
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        max_page_size: 100,
        ..SimulatorConfig::lastpass(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The answer's text and parsed body.
async fn post(sim: &RunningSimulator, body: Value) -> (u16, String, Value) {
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}{PATH}", sim.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    let parsed = serde_json::from_str(&text).unwrap();
    (status, text, parsed)
}

fn report(from: &str, to: &str, next: Option<&str>) -> Value {
    let mut data = json!({"from": from, "to": to, "user": "allusers"});
    if let Some(next) = next {
        data["next"] = json!(next);
    }
    json!({"cid": CID, "provhash": "sim-token", "cmd": "reporting", "data": data})
}

#[tokio::test]
async fn a_report_serves_every_event_of_its_local_range_once_newest_first_through_next() {
    let config = config(2_000);
    let sim = start(config.clone()).await;
    // The whole night, in local time: the repeated hour's events are all in it.
    let (from, to) = ("2026-10-31 22:00:00", "2026-11-01 05:00:00");
    let mut served = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let (status, text, body) = post(&sim, report(from, to, next.as_deref())).await;
        assert_eq!((status, &body["status"]), (200, &json!("OK")), "{text}");
        let events = body["data"].as_object().cloned().unwrap_or_default();
        // The events in the text's order are Event1, Event2, ... and newest first.
        let order: Vec<usize> = (1..=events.len())
            .map(|n| text.find(&format!("\"Event{n}\"")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(events.len() <= 100);
        served.extend((1..=events.len()).map(|n| events[&format!("Event{n}")].clone()));
        match body["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    let expected: HashSet<String> = (0..config.events)
        .map(|i| simulator::event(&config, i).to_string())
        .collect();
    let got: HashSet<String> = served.iter().map(Value::to_string).collect();
    assert_eq!(got, expected);
    // `next` is the microsecond time of the first event not served: nothing comes twice.
    assert_eq!(served.len(), expected.len());
    // Events with the same label in the repeated hour are two events an hour apart.
    let repeated = served
        .iter()
        .filter(|e| e["Time"].as_str().unwrap().starts_with("2026-11-01 01:"))
        .count();
    assert!(repeated > 0);
}

#[tokio::test]
async fn a_wrong_hash_is_refused_with_status_fail_and_empty_reports_are_php_arrays() {
    let sim = start(config(50)).await;
    let mut wrong = report("2026-11-01 00:00:00", "2026-11-01 01:00:00", None);
    wrong["provhash"] = json!("nope");
    let (status, _, body) = post(&sim, wrong).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "FAIL", "error": ["Authorization Error"]})
    );
    assert_eq!(sim.stats().unauthorized, 1);
    let (_, _, empty) = post(
        &sim,
        report("2020-01-01 00:00:00", "2020-01-02 00:00:00", None),
    )
    .await;
    assert_eq!(empty, json!({"status": "OK", "next": null, "data": []}));
    let mut unknown = report("2026-11-01 00:00:00", "2026-11-01 01:00:00", None);
    unknown["data"]["search"] = json!("x");
    let (_, _, body) = post(&sim, unknown).await;
    assert_eq!(body["status"], json!("FAIL"));
    assert_eq!(sim.stats().bad_requests, 1);
}

#[test]
fn next_round_trips_microseconds() {
    assert_eq!(
        parse_micros("1796598240.357000"),
        Some(1_796_598_240_357_000)
    );
    assert_eq!(write_micros(1_796_598_240_357_000), "1796598240.357000");
    assert_eq!(parse_micros("1796598240.357"), None);
}
