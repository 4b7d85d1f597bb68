use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::r#box(events)
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

/// Posts the form `fields` to the token endpoint: the status and the JSON answer.
async fn token_request(sim: &RunningSimulator, fields: &[(&str, &str)]) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let answer = client()
        .post(format!("{}{TOKEN_PATH}", sim.base_url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

const GOOD: &[(&str, &str)] = &[
    ("grant_type", "client_credentials"),
    ("client_id", CLIENT_ID),
    ("client_secret", "sim-token"),
    ("box_subject_type", "enterprise"),
    ("box_subject_id", ENTERPRISE_ID),
];

async fn access_token(sim: &RunningSimulator) -> String {
    let (status, body) = token_request(sim, GOOD).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// `GET /2.0/events` with `query`: the status, the headers and the body (JSON, or `Null`
/// when empty).
async fn get(
    sim: &RunningSimulator,
    token: Option<&str>,
    query: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

/// Lists `range` from its first page until a page without entries: every page's entries.
async fn list(sim: &RunningSimulator, token: &str, range: &[(&str, &str)]) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let mut query = range.to_vec();
        if let Some(position) = &position {
            query.push(("stream_position", position));
        }
        let (status, _, body) = get(sim, Some(token), &query).await;
        assert_eq!(status, 200, "{body}");
        let entries = body["entries"].as_array().unwrap().clone();
        assert_eq!(body["chunk_size"].as_u64(), Some(entries.len() as u64));
        let next = body["next_stream_position"]
            .as_str()
            .expect("a position on every page");
        assert!(next.bytes().all(|b| b.is_ascii_digit()), "{next}");
        if entries.is_empty() {
            return pages;
        }
        pages.push(entries);
        position = Some(next.to_string());
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

/// A time as the preset writes it: UTC, whole seconds, `-00:00`.
fn utc(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S-00:00")
        .to_string()
}

#[test]
fn events_have_the_documented_shape_and_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(7) {
        let e = event(&cfg, i);
        assert_eq!(e["type"], "event");
        assert_eq!(e["event_id"], event_id(&cfg, i));
        assert_eq!(event_id(&cfg, i).len(), 36);
        let created = e["created_at"].as_str().unwrap();
        assert!(created.ends_with("-08:00"), "{created}");
        let parsed = DateTime::parse_from_rfc3339(created).unwrap();
        assert_eq!(parsed.to_utc(), simulator::event_time(&cfg, i));
        assert!(e["event_type"].is_string());
        assert_eq!(e["created_by"]["type"], "user");
        assert!(e["created_by"]["login"].is_string());
    }
}

#[tokio::test]
async fn a_range_comes_oldest_first_after_inclusive_before_exclusive_ending_on_an_empty_page() {
    let cfg = config(3_000);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let after = simulator::event_time(&cfg, 400).timestamp();
    let before = simulator::event_time(&cfg, 2_500).timestamp();
    let (a, b) = (utc(after), utc(before));
    let range = [
        ("stream_type", "admin_logs"),
        ("created_after", a.as_str()),
        ("created_before", b.as_str()),
        ("limit", "300"),
    ];
    let pages = list(&sim, &token, &range).await;
    assert!(pages.iter().all(|p| p.len() <= 300));
    assert!(
        pages.iter().any(|p| p.len() < 300) && pages.len() > 7,
        "some pages come short although more follow: {:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| (after..before).contains(&simulator::event_time(&cfg, *i).timestamp()))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_500);
    assert_eq!(served, expected);
    // `Z` and offsets are RFC 3339 too; a fraction admits from the next whole second.
    let (_, _, body) = get(
        &sim,
        Some(&token),
        &[
            ("stream_type", "admin_logs"),
            ("created_after", &format!("{}Z", &a[..19])),
            ("created_before", &b),
            ("limit", "1"),
        ],
    )
    .await;
    assert_eq!(body["entries"][0], expected[0]);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_end_of_a_listing_is_an_empty_page_whose_position_does_not_move() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let range = [("stream_type", "admin_logs"), ("limit", "500")];
    let (_, _, first) = get(&sim, Some(&token), &range).await;
    assert_eq!(first["chunk_size"], 100);
    let position = first["next_stream_position"].as_str().unwrap().to_string();
    let mut query = range.to_vec();
    query.push(("stream_position", &position));
    let (status, _, last) = get(&sim, Some(&token), &query).await;
    assert_eq!(status, 200);
    assert_eq!(last["chunk_size"], 0);
    assert_eq!(last["entries"], Value::Array(vec![]));
    assert_eq!(
        last["next_stream_position"].as_str(),
        Some(position.as_str())
    );
    // `now`: an empty answer naming the latest position.
    let (_, _, now) = get(
        &sim,
        Some(&token),
        &[("stream_type", "admin_logs"), ("stream_position", "now")],
    )
    .await;
    assert_eq!(now["chunk_size"], 0);
    assert_eq!(
        now["next_stream_position"].as_str(),
        Some(position.as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_come_from_the_client_credentials_grant_for_the_enterprise() {
    let sim = start(config(10)).await;
    let (status, body) = token_request(&sim, GOOD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], TOKEN_SECONDS);
    let swap = |name: &'static str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        GOOD.iter()
            .map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) })
            .collect()
    };
    for (fields, error) in [
        (swap("client_secret", "wrong"), "invalid_client"),
        (swap("client_id", "someone-else"), "invalid_client"),
        (swap("box_subject_id", "1"), "invalid_grant"),
        (swap("box_subject_type", "user"), "invalid_grant"),
        (
            swap("grant_type", "account_credentials"),
            "unsupported_grant_type",
        ),
    ] {
        let (status, body) = token_request(&sim, &fields).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{fields:?}"
        );
    }
    assert_eq!(sim.stats().tokens_issued, 1);
    assert_eq!(sim.stats().unauthorized, 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_or_foreign_token_is_401_with_an_empty_body() {
    let sim = start(config(10)).await;
    for token in [None, Some("sim-token"), Some("123T0000abcd")] {
        let (status, headers, body) = get(&sim, token, &[("stream_type", "admin_logs")]).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body, Value::Null);
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    assert_eq!(sim.stats().unauthorized, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_box_would_refuse_are_client_errors() {
    let cfg = config(1_000);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let after = utc(simulator::event_time(&cfg, 10).timestamp());
    let before = utc(simulator::event_time(&cfg, 900).timestamp());
    let range = |extra: &[(&'static str, &'static str)]| {
        let mut q: Vec<(String, String)> = vec![
            ("stream_type".into(), "admin_logs".into()),
            ("created_after".into(), after.clone()),
            ("created_before".into(), before.clone()),
        ];
        for (k, v) in extra {
            q.retain(|(key, _)| key != k);
            q.push((k.to_string(), v.to_string()));
        }
        q
    };
    // A position from this listing goes on; the same position for another range does not.
    let owned = range(&[("limit", "50")]);
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (_, _, first) = get(&sim, Some(&token), &pairs).await;
    let position = first["next_stream_position"].as_str().unwrap().to_string();
    let bad = [
        range(&[("stream_type", "admin_logs_streaming")]),
        range(&[("stream_type", "all")]),
        range(&[("limit", "501")]),
        range(&[("limit", "0")]),
        range(&[("created_after", "yesterday")]),
        range(&[("event_type", "LOGIN")]),
        range(&[
            ("created_after", "2026-11-23T10:00:00-00:00"),
            ("created_before", "2026-11-23T09:00:00-00:00"),
        ]),
        range(&[("stream_position", "12345")]),
    ];
    for query in &bad {
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, _, body) = get(&sim, Some(&token), &pairs).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], "bad_request");
        assert_eq!(body["status"], 400);
    }
    let mut moved = range(&[]);
    moved.retain(|(k, _)| k != "created_after");
    moved.push(("stream_position".into(), position.clone()));
    let pairs: Vec<(&str, &str)> = moved
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, _) = get(&sim, Some(&token), &pairs).await;
    assert_eq!(status, 400, "a position is bound to its range");
    assert_eq!(sim.stats().bad_requests, bad.len() as u64 + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_are_worded_as_box_words_them() {
    let mut cfg = config(10);
    cfg.faults = simulator::Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..simulator::Faults::default()
    };
    let sim = start(cfg).await;
    let (status, headers, body) = get(&sim, Some("x"), &[("stream_type", "admin_logs")]).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["code"], "rate_limit_exceeded");
    assert_eq!(body["type"], "error");
    sim.shutdown().await;
}

#[tokio::test]
async fn events_not_yet_visible_are_not_served() {
    // Late events: a listing of the whole range serves only what is visible now.
    let mut cfg = SimulatorConfig::r#box(400);
    cfg.anchor = Utc::now() + chrono::TimeDelta::seconds(30);
    cfg.span = std::time::Duration::from_secs(60);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let pages = list(
        &sim,
        &token,
        &[("stream_type", "admin_logs"), ("limit", "500")],
    )
    .await;
    let served: Vec<u64> = pages
        .iter()
        .flatten()
        .map(|e| {
            let id = e["event_id"].as_str().unwrap();
            u64::from_str_radix(&id[24..], 16).unwrap()
        })
        .collect();
    assert!(!served.is_empty() && served.len() < 400, "{}", served.len());
    let now = Utc::now();
    for i in served {
        assert!(simulator::visible_at(&cfg, i) <= now);
    }
    sim.shutdown().await;
}
