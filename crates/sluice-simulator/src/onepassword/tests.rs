use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::onepassword(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn post(url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn rfc3339(config: &SimulatorConfig, index: u64) -> String {
    simulator::event_time(config, index).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn events_are_dealt_to_the_three_streams_with_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut dealt: Vec<String> = Stream::ALL
        .iter()
        .flat_map(|s| stream_ids(&cfg, *s))
        .collect();
    dealt.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(dealt, all, "every event is in exactly one stream");
    for i in (0..cfg.events).step_by(7) {
        let e = event(&cfg, i);
        assert_eq!(e["uuid"], ids[i as usize]);
        assert_eq!(e["uuid"].as_str().unwrap().len(), 26);
        let time = DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(time.with_timezone(&Utc), simulator::event_time(&cfg, i));
        let key = match Stream::of(i) {
            Stream::AuditEvents => "actor_uuid",
            Stream::ItemUsages => "item_uuid",
            Stream::SignInAttempts => "category",
        };
        assert!(e.get(key).is_some(), "{key} in {e}");
    }
}

#[tokio::test]
async fn a_reset_cursor_then_continuing_cursors_list_a_stream_oldest_first() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    for stream in Stream::ALL {
        let url = format!("{}{}", sim.base_url(), stream.path());
        let (start, end) = (rfc3339(&cfg, 300), rfc3339(&cfg, 1_700));
        let mut body = json!({"limit": 70, "start_time": start, "end_time": end});
        let mut served = Vec::new();
        loop {
            let (status, page) = post(&url, Some("sim-token"), &body).await;
            assert_eq!(status, 200, "{page}");
            served.extend(page["items"].as_array().unwrap().iter().cloned());
            assert!(page["cursor"].is_string(), "a cursor comes with every page");
            if page["has_more"] == false {
                break;
            }
            body = json!({"cursor": page["cursor"]});
        }
        let first = simulator::first_index_at_or_after(&cfg, simulator::event_time(&cfg, 300));
        let expected: Vec<Value> = (first..cfg.events)
            .filter(|i| Stream::of(*i) == stream)
            .filter(|i| simulator::event_time(&cfg, *i) <= simulator::event_time(&cfg, 1_700))
            .map(|i| event(&cfg, i))
            .collect();
        assert!(expected.len() > 400, "{}", expected.len());
        assert_eq!(
            served, expected,
            "{stream:?}: both ends inclusive, oldest first"
        );
    }
}

#[tokio::test]
async fn refusals_use_the_documented_error_object() {
    let cfg = config(30);
    let sim = start(cfg.clone()).await;
    let url = format!("{}{}", sim.base_url(), Stream::AuditEvents.path());
    let reset = json!({"limit": 10, "start_time": rfc3339(&cfg, 0)});
    for token in [None, Some("wrong")] {
        let (status, body) = post(&url, token, &reset).await;
        assert_eq!(
            (status, body),
            (401, json!({"Error": {"Message": "Unauthorized"}}))
        );
    }
    let (_, page) = post(&url, Some("sim-token"), &reset).await;
    let cursor = page["cursor"].as_str().unwrap().to_string();
    let other = format!("{}{}", sim.base_url(), Stream::ItemUsages.path());
    for (url, body) in [
        (
            &url,
            json!({"cursor": cursor, "start_time": rfc3339(&cfg, 0)}),
        ),
        (&url, json!({"cursor": cursor, "limit": 10})),
        (&url, json!({"cursor": "not-a-cursor"})),
        (&other, json!({"cursor": cursor})),
        (&url, json!({"limit": 0})),
        (&url, json!({"limit": 1001})),
        (&url, json!({"start_time": "yesterday"})),
        (&url, json!({"since": rfc3339(&cfg, 0)})),
        (&url, json!(["cursor"])),
    ] {
        let (status, answer) = post(url, Some("sim-token"), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["Error"]["Message"].is_string(), "{answer}");
    }
    let (status, _) = post(&url, Some("sim-token"), &json!({"cursor": cursor})).await;
    assert_eq!(status, 200, "the cursor itself is good");
}
