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
        ..SimulatorConfig::vicarius(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GET `url` with `token` as `Vicarius-Token` (left out when `None`).
async fn get_with(url: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url).header("Accept", "application/json");
    if let Some(token) = token {
        request = request.header("Vicarius-Token", token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

async fn get(url: &str) -> (u16, Value) {
    get_with(url, Some("sim-token")).await
}

fn ns(cfg: &SimulatorConfig, index: u64) -> i128 {
    let t = simulator::event_time(cfg, index);
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

fn q(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Pages through `url` (which ends with `&`) with `from`/`size` until a short page.
async fn list(url: &str, size: usize) -> Vec<Value> {
    let mut served = Vec::new();
    loop {
        let (status, body) = get(&format!("{url}from={}&size={size}", served.len())).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["serverResponseResult"]["serverResponseResultCode"],
            "SUCCESS"
        );
        let page = body["serverResponseObject"].as_array().unwrap().clone();
        assert!(page.len() <= size);
        let short = page.len() < size;
        served.extend(page);
        if short {
            return served;
        }
        assert!(served.len() < 100_000, "the listing does not end");
    }
}

#[test]
fn events_have_the_recorded_shape_unique_ids_and_nanosecond_times() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut previous = i128::MIN;
    for i in 0..cfg.events {
        let e = event(&cfg, i);
        assert_eq!(e["_id"], event_id(&cfg, i).as_str());
        let kind = e["incidentEventIncidentEventType"].as_str().unwrap();
        assert!(e["_id"].as_str().unwrap().starts_with(&format!("{kind}_")));
        let nano = i128::from(e["analyticsEventCreatedAtNano"].as_i64().unwrap());
        assert_eq!(nano, ns(&cfg, i), "event_time is the nanosecond time");
        assert!(nano > previous, "times rise strictly with the index");
        previous = nano;
        assert_eq!(
            e["analyticsEventCreatedAt"].as_i64().unwrap(),
            i64::try_from(nano / 1_000_000).unwrap()
        );
        assert_eq!(
            kind.ends_with("Vulnerability"),
            e["incidentEventVulnerability"].is_object()
        );
        assert!(e["incidentEventEndpoint"]["endpointName"].is_string());
    }
}

#[tokio::test]
async fn a_range_pages_by_offset_oldest_or_newest_first_with_exclusive_bounds() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let (lo, hi) = (ns(&cfg, 300), ns(&cfg, 1_500));
    let filter = q(&format!("{TIME_FIELD}>{lo};{TIME_FIELD}<{hi}"));
    let base = format!("{}{FILTER_PATH}?q={filter}", sim.base_url());
    let expected: Vec<Value> = (301..1_500).map(|i| event(&cfg, i)).collect();
    let served = list(&format!("{base}&sort=%2B{TIME_FIELD}&"), 500).await;
    assert_eq!(
        served, expected,
        "> and < exclude both bounds, oldest first"
    );
    let served = list(&format!("{base}&sort=-{TIME_FIELD}&"), 100).await;
    let newest_first: Vec<Value> = expected.into_iter().rev().collect();
    assert_eq!(served, newest_first);
    // The inclusive spellings take the bounds in.
    let filter = q(&format!("{TIME_FIELD}=ge={lo};{TIME_FIELD}<={hi}"));
    let url = format!("{}{FILTER_PATH}?q={filter}&", sim.base_url());
    let served = list(&url, 500).await;
    assert_eq!(served.len(), 1_201);
    assert_eq!(served[0], event(&cfg, 300));
    assert_eq!(served[1_200], event(&cfg, 1_500));
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn event_types_filter_and_size_is_capped() {
    let cfg = config(1_500);
    let sim = start(cfg.clone()).await;
    let types = "DetectedVulnerability,ImpersonationAttempt";
    let url = format!(
        "{}{FILTER_PATH}?q={}&",
        sim.base_url(),
        q(&format!("{TYPE_FIELD}=in=({types})"))
    );
    let served = list(&url, 500).await;
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| types.split(',').any(|t| t == event_type(&cfg, *i)))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 500);
    assert_eq!(served, expected);
    let (status, body) = get(&format!("{}{FILTER_PATH}?size=5000", sim.base_url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["serverResponseObject"].as_array().unwrap().len(),
        MAX_SIZE
    );
    let (_, body) = get(&format!("{}{FILTER_PATH}", sim.base_url())).await;
    assert_eq!(
        body["serverResponseObject"].as_array().unwrap().len(),
        DEFAULT_SIZE
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_and_bad_queries_are_refused_and_counted() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let url = format!("{}{FILTER_PATH}?from=0&size=10", sim.base_url());
    for token in [None, Some("not-the-key")] {
        let (status, body) = get_with(&url, token).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            body["serverResponseResult"]["serverResponseResultCode"],
            "UNAUTHORIZED"
        );
    }
    assert_eq!(sim.stats().unauthorized, 2);
    let base = format!("{}{FILTER_PATH}", sim.base_url());
    for bad in [
        format!("{base}?q={}", q(&format!("{TIME_FIELD}>yesterday"))),
        format!("{base}?q={}", q("endpointName==SRV-DB-02")),
        format!("{base}?q={}", q(&format!("{TIME_FIELD}>1,{TIME_FIELD}<2"))),
        format!("{base}?sort=%2BendpointName"),
        format!("{base}?from=-1"),
        format!("{base}?from=9800&size=500"),
    ] {
        let (status, body) = get(&bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["serverResponseResult"]["serverResponseResultCode"],
            "BAD_REQUEST"
        );
    }
    assert_eq!(sim.stats().bad_requests, 6);
    sim.shutdown().await;
}
