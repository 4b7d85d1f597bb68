use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::dropbox(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Posts `body` as JSON to `path`; the status and the body (JSON, or a string for text).
async fn post(
    sim: &RunningSimulator,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .post(format!("{}{path}", sim.base_url()))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// Lists from `arg` through `/continue` to the end; every page's events.
async fn list(sim: &RunningSimulator, token: &str, arg: Value) -> Vec<Vec<Value>> {
    let (status, mut body) = post(sim, EVENTS_PATH, Some(token), &arg).await;
    let mut pages = Vec::new();
    loop {
        assert_eq!(status, 200, "{body}");
        pages.push(body["events"].as_array().unwrap().clone());
        let cursor = body["cursor"]
            .as_str()
            .expect("a cursor on every page")
            .to_string();
        if !body["has_more"].as_bool().unwrap() {
            return pages;
        }
        let (status, next) = post(
            sim,
            CONTINUE_PATH,
            Some(token),
            &json!({ "cursor": cursor }),
        )
        .await;
        assert_eq!(status, 200, "{next}");
        body = next;
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

fn tag(body: &Value) -> Option<&str> {
    body["error"][".tag"].as_str()
}

#[test]
fn events_have_the_documented_shape_and_distinct_contents() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(13) {
        let e = event(&cfg, i);
        let time = simulator::event_time(&cfg, i);
        assert_eq!(
            e["timestamp"],
            time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert!(e["event_type"][".tag"].is_string() && e["event_type"]["description"].is_string());
        assert!(e["event_category"][".tag"].is_string());
        assert_eq!(e["actor"][".tag"], "user");
        assert!(e.get("id").is_none(), "Dropbox events have no id");
        assert_eq!(event_id(&cfg, i).len(), 32);
    }
}

#[tokio::test]
async fn a_range_comes_oldest_first_start_inclusive_end_exclusive() {
    let cfg = config(3_000);
    let sim = start(cfg.clone()).await;
    let start_s = simulator::event_time(&cfg, 400).timestamp();
    let end_s = simulator::event_time(&cfg, 2_500).timestamp();
    let arg = json!({
        "limit": 300,
        "time": { "start_time": format_time(start_s), "end_time": format_time(end_s) },
    });
    let pages = list(&sim, "sim-token", arg).await;
    assert!(pages.len() > 2 && pages.iter().all(|p| p.len() <= 300));
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| (start_s..end_s).contains(&simulator::event_time(&cfg, *i).timestamp()))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_500);
    assert_eq!(served, expected);
    // Events in the end second are left out, those in the start second are in.
    assert_eq!(
        served[0]["timestamp"].as_str(),
        Some(format_time(start_s).as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_window_is_an_empty_page_with_a_cursor() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let after = simulator::event_time(&cfg, 99).timestamp() + 10;
    let arg = json!({ "time": { "start_time": format_time(after), "end_time": format_time(after + 60) } });
    let (status, body) = post(&sim, EVENTS_PATH, Some("sim-token"), &arg).await;
    assert_eq!(status, 200);
    assert_eq!(body["events"], json!([]));
    assert_eq!(body["has_more"], false);
    assert!(body["cursor"].as_str().is_some_and(|c| !c.is_empty()));
    // Without a range: every event, 1000 to a page by default.
    let (status, body) = post(&sim, EVENTS_PATH, Some("sim-token"), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["events"].as_array().unwrap().len(), 100);
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_look_like_dropbox() {
    let sim = start(config(50)).await;
    let (status, body) = post(&sim, EVENTS_PATH, None, &json!({})).await;
    assert_eq!(status, 400, "no Authorization is a bad request");
    assert!(body.as_str().unwrap().contains("Authorization"), "{body}");
    let (status, body) = post(&sim, EVENTS_PATH, Some("wrong"), &json!({})).await;
    assert_eq!((status, tag(&body)), (401, Some("invalid_access_token")));
    assert!(body["error_summary"]
        .as_str()
        .unwrap()
        .starts_with("invalid_access_token/"));
    // A token this server issued, expired: a different refusal.
    let expired = issue_token(sim.config().seed, Utc::now().timestamp() - 10);
    let (status, body) = post(&sim, EVENTS_PATH, Some(&expired), &json!({})).await;
    assert_eq!((status, tag(&body)), (401, Some("expired_access_token")));

    for arg in [
        json!({ "limit": 0 }),
        json!({ "limit": 1001 }),
        json!({ "time": { "start_time": "2026-11-23T10:00:00.000Z" } }),
        json!({ "time": { "start_time": "2026-11-23T10:00:00+01:00" } }),
        json!({ "cursor": "abc" }),
    ] {
        let (status, body) = post(&sim, EVENTS_PATH, Some("sim-token"), &arg).await;
        assert_eq!(status, 400, "{arg}: {body}");
        assert!(body
            .as_str()
            .unwrap()
            .starts_with("Error in call to API function"));
    }
    for (arg, expected) in [
        (json!({ "category": "logins" }), "invalid_filters"),
        (
            json!({ "time": { "start_time": "2026-11-23T10:00:00Z", "end_time": "2026-11-23T10:00:00Z" } }),
            "invalid_time_range",
        ),
    ] {
        let (status, body) = post(&sim, EVENTS_PATH, Some("sim-token"), &arg).await;
        assert_eq!((status, tag(&body)), (409, Some(expected)), "{arg}");
    }
    let (status, body) = post(
        &sim,
        CONTINUE_PATH,
        Some("sim-token"),
        &json!({ "cursor": "bm9wZQ" }),
    )
    .await;
    assert_eq!((status, tag(&body)), (409, Some("bad_cursor")));
    let (status, _) = post(
        &sim,
        CONTINUE_PATH,
        Some("sim-token"),
        &json!({ "cursor": "x", "limit": 5 }),
    )
    .await;
    assert_eq!(status, 400, "continue takes only the cursor");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_buys_an_access_token_and_wrong_ones_are_refused() {
    let sim = start(config(20)).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}{TOKEN_PATH}", sim.base_url());
    let ask = |form: Vec<(&'static str, String)>, basic: Option<(&str, &str)>| {
        let mut request = client.post(&url).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (
                status,
                serde_json::from_slice::<Value>(&answer.bytes().await.unwrap()).unwrap(),
            )
        }
    };
    let grant = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", token.to_string()),
        ]
    };
    let (status, body) = ask(grant("sim-token"), Some((APP_KEY, APP_SECRET))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], TOKEN_LIFETIME_SECS);
    let access = body["access_token"].as_str().unwrap().to_string();
    let (status, body) = post(&sim, EVENTS_PATH, Some(&access), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().unwrap().len(), 20);

    let mut in_body = grant("sim-token");
    in_body.push(("client_id", APP_KEY.to_string()));
    in_body.push(("client_secret", APP_SECRET.to_string()));
    assert_eq!(
        ask(in_body, None).await.0,
        200,
        "client credentials as form fields"
    );

    let (status, body) = ask(grant("sim-token"), Some((APP_KEY, "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let (status, body) = ask(grant("revoked"), Some((APP_KEY, APP_SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    sim.shutdown().await;
}
