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
        ..SimulatorConfig::stripe(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// `GET` of `/v1/events?query` with `authorization`: the status and the JSON body.
async fn get(
    sim: &RunningSimulator,
    query: &[(&str, String)],
    authorization: Option<&str>,
) -> (u16, Value) {
    let mut url = url::Url::parse(&format!("{}{EVENTS_PATH}", sim.base_url())).unwrap();
    url.query_pairs_mut().extend_pairs(query);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

/// Every page from `query` on, following `starting_after=<last id>` while `has_more`.
async fn list(sim: &RunningSimulator, query: &[(&str, String)]) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut q = query.to_vec();
        if let Some(after) = &after {
            q.push(("starting_after", after.clone()));
        }
        let (status, body) = get(sim, &q, Some("Bearer sim-token")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "list");
        assert_eq!(body["url"], "/v1/events");
        let data = body["data"].as_array().unwrap();
        all.extend(data.iter().cloned());
        if !body["has_more"].as_bool().unwrap() {
            return all;
        }
        after = Some(data.last().unwrap()["id"].as_str().unwrap().to_string());
    }
    panic!("the listing does not end");
}

#[test]
fn events_have_the_documented_shape_and_ids_that_name_their_index() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(13) {
        let e = event(&cfg, i);
        let id = e["id"].as_str().unwrap();
        assert_eq!(id, ids[i as usize]);
        assert!(id.starts_with("evt_") && id.len() == 28, "{id}");
        assert_eq!(index_of(cfg.seed, id), Some(i));
        assert_eq!(
            e["created"].as_i64().unwrap(),
            simulator::event_time(&cfg, i).timestamp()
        );
        assert_eq!(e["object"], "event");
        assert!(
            e["type"].is_string() && e["data"]["object"].is_object(),
            "{e}"
        );
        assert!(e["request"].is_object(), "{e}");
    }
    // Another seed's ids, or a changed letter, are no event of this account.
    assert_eq!(index_of(cfg.seed + 1, &ids[5]), None);
    assert_eq!(index_of(cfg.seed, &ids[5].replace("evt_1", "evt_2")), None);
}

#[tokio::test]
async fn created_bounds_are_seconds_gte_and_lt_and_pages_follow_the_last_id_newest_first() {
    let cfg = config(1_500);
    let sim = start(cfg.clone()).await;
    let from = simulator::event_time(&cfg, 200).timestamp();
    let to = simulator::event_time(&cfg, 1_300).timestamp();
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| (from..to).contains(&simulator::event_time(&cfg, *i).timestamp()))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_000);
    let query = [
        ("created[gte]", from.to_string()),
        ("created[lt]", to.to_string()),
        ("limit", "100".to_string()),
    ];
    assert_eq!(list(&sim, &query).await, expected);
    // `gt` and `lte` move both ends by one second.
    let shifted = [
        ("created[gt]", from.to_string()),
        ("created[lte]", to.to_string()),
        ("limit", "100".to_string()),
    ];
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| (from + 1..=to).contains(&simulator::event_time(&cfg, *i).timestamp()))
        .map(|i| event(&cfg, i))
        .collect();
    assert_eq!(list(&sim, &shifted).await, expected);
    // Without `limit`, ten a page.
    let (_, body) = get(&sim, &[], Some("Bearer sim-token")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), DEFAULT_LIMIT);
    assert_eq!(body["has_more"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn keys_limits_unknown_parameters_and_unknown_events_are_refused_as_stripe_does() {
    let sim = start(config(100)).await;
    let (status, body) = get(&sim, &[], Some("Bearer sk_live_wrongwrongwrong1234")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid API Key provided"), "{message}");
    assert!(
        message.ends_with("1234") && !message.contains("wrongwrong"),
        "{message}"
    );
    let (status, _) = get(&sim, &[], None).await;
    assert_eq!(status, 401);
    // HTTP Basic with the key as the user name is accepted too.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("sim-token:")
    );
    assert_eq!(get(&sim, &[], Some(&basic)).await.0, 200);
    for query in [
        vec![("limit", "101".to_string())],
        vec![("limit", "0".to_string())],
        vec![("created[gte]", "yesterday".to_string())],
        vec![("ending_before", "evt_1".to_string())],
        vec![("since", "1".to_string())],
        vec![("starting_after", "evt_1NG8Du2eZvKYlo2CUI79vXWy".to_string())],
    ] {
        let (status, body) = get(&sim, &query, Some("Bearer sim-token")).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    sim.shutdown().await;
}
