use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event_ids, RunningSimulator, SimulatorConfig};

/// Three days of data ending 2026-11-22T23:59:59Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc),
        span: std::time::Duration::from_secs(3 * 24 * 3600),
        ..SimulatorConfig::zoom(events)
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

/// A token from the simulator's OAuth server with the app's credentials.
async fn token(sim: &RunningSimulator) -> String {
    let answer = client()
        .post(format!(
            "{}/oauth/token?grant_type=account_credentials&account_id={ACCOUNT_ID}",
            sim.base_url()
        ))
        .basic_auth(CLIENT_ID, Some("sim-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], TOKEN_SECONDS);
    body["access_token"].as_str().unwrap().to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url);
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

/// Every page of `stream` for `query` (without a page token), following `next_page_token`.
async fn list(sim: &RunningSimulator, token: &str, stream: Stream, query: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut next = String::new();
    loop {
        let url = format!(
            "{}{}?{query}&next_page_token={next}",
            sim.base_url(),
            stream.path()
        );
        let (status, body) = get(&url, Some(token)).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body[stream.records_key()].as_array().unwrap().clone());
        next = body["next_page_token"].as_str().unwrap().to_string();
        if next.is_empty() {
            return pages;
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

#[test]
fn records_have_the_documented_shape_and_distinct_content() {
    let cfg = config(2_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(7) {
        let e = simulator::event(&cfg, i);
        let time = e["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 20, "{time}");
        assert_eq!(
            DateTime::parse_from_rfc3339(time).unwrap(),
            simulator::event_time(&cfg, i)
        );
        match Stream::of(i) {
            Stream::OperationLogs => {
                for key in ["operator", "category_type", "action", "operation_detail"] {
                    assert!(e[key].is_string(), "{key} in {e}");
                }
            }
            Stream::Activities => {
                for key in ["email", "type", "ip_address", "client_type", "version"] {
                    assert!(e[key].is_string(), "{key} in {e}");
                }
            }
        }
    }
}

#[tokio::test]
async fn tokens_need_the_apps_credentials_the_grant_and_the_account() {
    let sim = start(config(10)).await;
    let url = |query: &str| format!("{}/oauth/token{query}", sim.base_url());
    let good = format!("?grant_type=account_credentials&account_id={ACCOUNT_ID}");
    let cases = [
        (url(&good), Some("wrong-secret"), 401, "invalid_client"),
        (url(&good), None, 401, "invalid_client"),
        (
            url(&format!(
                "?grant_type=client_credentials&account_id={ACCOUNT_ID}"
            )),
            Some("sim-token"),
            400,
            "unsupported_grant_type",
        ),
        (
            url("?grant_type=account_credentials&account_id=other"),
            Some("sim-token"),
            400,
            "invalid_request",
        ),
    ];
    for (url, secret, status, error) in cases {
        let mut request = client().post(&url);
        if let Some(secret) = secret {
            request = request.basic_auth(CLIENT_ID, Some(secret));
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{url}");
        let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"], error, "{url}: {body}");
        assert!(body["reason"].is_string(), "{body}");
    }
    // The grant's fields in the form body are accepted too.
    let answer = client()
        .post(url(""))
        .basic_auth(CLIENT_ID, Some("sim-token"))
        .form(&[
            ("grant_type", "account_credentials"),
            ("account_id", ACCOUNT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(sim.stats().tokens_issued, 1);
    assert_eq!(sim.stats().unauthorized, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn reports_refuse_missing_forged_and_expired_tokens() {
    let sim = start(config(10)).await;
    let url = format!(
        "{}/v2/report/operationlogs?from=2026-11-20&to=2026-11-22",
        sim.base_url()
    );
    let expired = issue_token(42, 0, Utc::now().timestamp() - 1);
    let forged = issue_token(7, 0, Utc::now().timestamp() + 60);
    for (token, message) in [
        (None, "Invalid access token."),
        (Some("nonsense"), "Invalid access token."),
        (Some(forged.as_str()), "Invalid access token."),
        (Some(expired.as_str()), "Access token is expired."),
    ] {
        let (status, body) = get(&url, token).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], 124);
        assert_eq!(body["message"], message);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_refused_with_code_300() {
    let sim = start(config(10)).await;
    let token = token(&sim).await;
    let base = format!("{}/v2/report/activities", sim.base_url());
    for query in [
        "",
        "from=2026-11-20",
        "from=2026-11-20T00:00:00Z&to=2026-11-22",
        "from=2026-11-22&to=2026-11-20",
        "from=2026-10-01&to=2026-11-22",
        "from=2026-11-20&to=2026-11-22&page_size=301",
        "from=2026-11-20&to=2026-11-22&page_size=0",
        "from=2026-11-20&to=2026-11-22&next_page_token=FORGED",
    ] {
        let (status, body) = get(&format!("{base}?{query}"), Some(&token)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], 300, "{query}: {body}");
        assert!(body["message"].is_string());
    }
    assert_eq!(sim.stats().bad_requests, 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_range_of_days_is_listed_whole_newest_first_across_pages() {
    let cfg = config(3_000);
    let sim = start(cfg.clone()).await;
    let token = token(&sim).await;
    for stream in Stream::ALL {
        // Days 20 and 21: every record of the stream in [20th 00:00, 22nd 00:00).
        let from = DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap();
        let to = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z").unwrap();
        let expected: Vec<Value> = (0..cfg.events)
            .filter(|i| Stream::of(*i) == stream)
            .filter(|i| {
                let t = simulator::event_time(&cfg, *i);
                t >= from && t < to
            })
            .rev()
            .map(|i| simulator::event(&cfg, i))
            .collect();
        assert!(expected.len() > 300, "several pages: {}", expected.len());
        let pages = list(
            &sim,
            &token,
            stream,
            "from=2026-11-20&to=2026-11-21&page_size=300",
        )
        .await;
        assert!(pages.iter().all(|p| p.len() <= 300));
        let served: Vec<Value> = pages.into_iter().flatten().collect();
        assert_eq!(served, expected, "{stream:?}");
        // Without page_size: pages of 30.
        let url = format!(
            "{}{}?from=2026-11-20&to=2026-11-21",
            sim.base_url(),
            stream.path()
        );
        let (_, body) = get(&url, Some(&token)).await;
        assert_eq!(body[stream.records_key()].as_array().unwrap().len(), 30);
        assert_eq!(body["page_size"], 30);
        assert_eq!(body["from"], "2026-11-20");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_range_is_an_empty_array_and_an_empty_token() {
    let sim = start(config(100)).await;
    let token = token(&sim).await;
    let url = format!(
        "{}/v2/report/operationlogs?from=2026-11-01&to=2026-11-02&page_size=300",
        sim.base_url()
    );
    let (status, body) = get(&url, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({
            "from": "2026-11-01",
            "to": "2026-11-02",
            "page_size": 300,
            "next_page_token": "",
            "operation_logs": [],
        })
    );
    sim.shutdown().await;
}
