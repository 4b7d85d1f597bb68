use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::asana(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn url(sim: &RunningSimulator, workspace: &str, query: &[(&str, String)]) -> String {
    let mut url = url::Url::parse(&format!(
        "{}/api/1.0/workspaces/{workspace}/audit_log_events",
        sim.base_url()
    ))
    .unwrap();
    url.query_pairs_mut().extend_pairs(query);
    url.to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

/// Every page from `query` on, following `next_page.offset` until an empty `data`; the
/// number of requests.
async fn list(sim: &RunningSimulator, query: &[(&str, String)]) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut offset: Option<String> = None;
    for requests in 1..1000 {
        let mut q = query.to_vec();
        if let Some(offset) = &offset {
            q.push(("offset", offset.clone()));
        }
        let (status, body) = get(&url(sim, WORKSPACE_GID, &q), Some("sim-token")).await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap();
        if data.is_empty() {
            return (all, requests);
        }
        all.extend(data.iter().cloned());
        let next = &body["next_page"];
        assert!(next["path"].as_str().unwrap().starts_with("/workspaces/"));
        assert!(next["uri"]
            .as_str()
            .unwrap()
            .starts_with("https://app.asana.com/api/1.0/"));
        offset = Some(next["offset"].as_str().unwrap().to_string());
    }
    panic!("the listing does not end");
}

#[test]
fn events_have_the_documented_shape_and_unique_gids() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(11) {
        let e = event(&cfg, i);
        assert_eq!(e["gid"].as_str().unwrap(), ids[i as usize]);
        let created = DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap();
        assert_eq!(created, simulator::event_time(&cfg, i));
        for key in ["event_type", "event_category"] {
            assert!(e[key].is_string(), "{key}: {e}");
        }
        assert!(e["actor"]["actor_type"].is_string(), "{e}");
        assert!(e["context"]["context_type"].is_string(), "{e}");
    }
}

#[tokio::test]
async fn start_at_inclusive_end_at_exclusive_oldest_first_and_the_offset_goes_on_past_the_end() {
    let cfg = config(1_500);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 200);
    let to = simulator::event_time(&cfg, 1_300);
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| (from..to).contains(&simulator::event_time(&cfg, *i)))
        .map(|i| event(&cfg, i))
        .collect();
    assert_eq!(expected.first(), Some(&event(&cfg, 200)));
    let query = [
        ("start_at", from.to_rfc3339()),
        ("end_at", to.to_rfc3339()),
        ("limit", "100".to_string()),
    ];
    let (listed, requests) = list(&sim, &query).await;
    assert_eq!(listed, expected);
    // Eleven full pages, then the empty one that says the matching events are over.
    assert_eq!(requests, expected.len().div_ceil(100) + 1);
    // A range nothing matches: no next page at all.
    let none = [
        ("start_at", "2001-01-01T00:00:00Z".to_string()),
        ("end_at", "2001-01-02T00:00:00Z".to_string()),
    ];
    let (status, body) = get(&url(&sim, WORKSPACE_GID, &none), Some("sim-token")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], serde_json::json!([]));
    assert_eq!(body["next_page"], Value::Null);
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_workspaces_limits_filters_and_foreign_offsets_are_refused() {
    let sim = start(config(100)).await;
    let (status, body) = get(&url(&sim, WORKSPACE_GID, &[]), Some("wrong")).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["message"], "Not Authorized");
    assert_eq!(get(&url(&sim, WORKSPACE_GID, &[]), None).await.0, 401);
    assert_eq!(get(&url(&sim, "123", &[]), Some("sim-token")).await.0, 404);
    for query in [
        vec![("limit", "101".to_string())],
        vec![("start_at", "monday".to_string())],
        vec![("event_type", "task_deleted".to_string())],
        vec![("offset", "eyJwIjoxLCJjIjoiMDAwMDAwMDAifQ".to_string())],
        vec![
            ("start_at", "2026-11-23T10:00:00Z".to_string()),
            ("end_at", "2026-11-23T09:00:00Z".to_string()),
        ],
    ] {
        let (status, body) = get(&url(&sim, WORKSPACE_GID, &query), Some("sim-token")).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
    sim.shutdown().await;
}
