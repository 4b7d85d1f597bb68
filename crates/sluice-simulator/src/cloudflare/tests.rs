use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

const KEY: &str = "Bearer sim-token";

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::cloudflare(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// GET `url` with `authorization` (left out when `None`): status, headers and JSON body.
async fn get_with(
    url: &str,
    authorization: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, headers, body)
}

async fn get(url: &str) -> (u16, Value) {
    let (status, _, body) = get_with(url, Some(KEY)).await;
    (status, body)
}

fn iso(t: DateTime<Utc>) -> String {
    url::form_urlencoded::byte_serialize(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes())
        .collect()
}

/// Follows `result_info.cursor` from `url` (which ends with `&`), returning every page's logs.
async fn list(url: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{url}cursor={c}"),
            None => url.to_string(),
        };
        let (status, body) = get(&page_url).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        let logs = body["result"].as_array().unwrap().clone();
        assert_eq!(
            body["result_info"]["count"],
            logs.len().to_string().as_str(),
            "count is a string"
        );
        pages.push(logs);
        match body["result_info"]["cursor"].as_str() {
            None => return pages,
            Some(next) => {
                cursor = Some(url::form_urlencoded::byte_serialize(next.as_bytes()).collect())
            }
        }
        assert!(pages.len() < 1000, "the listing does not end");
    }
}

fn served_second(cfg: &SimulatorConfig, index: u64) -> DateTime<Utc> {
    simulator::event_time(cfg, index)
}

#[test]
fn logs_have_the_documented_shape_and_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for i in (0..cfg.events).step_by(17) {
        let log = event(&cfg, i);
        assert_eq!(log["id"], event_id(&cfg, i).as_str());
        assert_eq!(log["account"]["id"], ACCOUNT_ID);
        let time = served_second(&cfg, i);
        assert_eq!(
            log["action"]["time"],
            time.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        assert!(["create", "update", "delete"].contains(&log["action"]["type"].as_str().unwrap()));
        assert!(["success", "failure"].contains(&log["action"]["result"].as_str().unwrap()));
        let actor = &log["actor"];
        assert!(["user", "account", "system"].contains(&actor["type"].as_str().unwrap()));
        if actor["context"] == "api_token" {
            assert!(actor["token_id"].is_string() && actor["token_name"].is_string());
        }
        assert!(log["raw"]["cf_ray_id"].is_string());
        assert!(log["raw"]["status_code"].is_u64());
        assert!(log["resource"]["product"].is_string());
    }
}

#[tokio::test]
async fn both_ends_are_exclusive_and_asc_lists_oldest_first() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    // A range whose ends fall exactly on seconds that hold logs: those seconds are left out.
    let since = served_second(&cfg, 300);
    let before = served_second(&cfg, 1_500);
    let url = format!(
        "{}{}?since={}&before={}&direction=asc&limit=1000&",
        sim.base_url(),
        logs_path(),
        iso(since),
        iso(before)
    );
    let pages = list(&url).await;
    assert!(pages.len() > 1, "more than one page");
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| {
            let t = served_second(&cfg, *i);
            since < t && t < before
        })
        .map(|i| event(&cfg, i))
        .collect();
    assert!(expected.len() > 1_000);
    assert_eq!(served, expected);
    assert!(
        !served.contains(&event(&cfg, 300)) && !served.contains(&event(&cfg, 1_500)),
        "logs at `since` and at `before` are not listed"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn desc_is_the_default_and_a_date_reads_as_utc_midnight() {
    let cfg = config(500);
    let sim = start(cfg.clone()).await;
    let first = served_second(&cfg, 0);
    let day = first.date_naive().format("%Y-%m-%d").to_string();
    let url = format!(
        "{}{}?since={day}&before={}&limit=50&",
        sim.base_url(),
        logs_path(),
        iso(cfg.anchor + TimeDelta::seconds(1))
    );
    let served: Vec<Value> = list(&url).await.into_iter().flatten().collect();
    let midnight = first.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| served_second(&cfg, *i) > midnight)
        .map(|i| event(&cfg, i))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(served, expected, "newest first without `direction`");
    sim.shutdown().await;
}

#[tokio::test]
async fn limits_and_an_empty_range_answer_as_cloudflare() {
    let cfg = config(500);
    let sim = start(cfg.clone()).await;
    let base = format!("{}{}", sim.base_url(), logs_path());
    let since = served_second(&cfg, 0) - TimeDelta::seconds(1);
    let before = cfg.anchor + TimeDelta::seconds(1);
    let range = format!("since={}&before={}", iso(since), iso(before));
    let (status, body) = get(&format!("{base}?{range}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"].as_array().unwrap().len(), DEFAULT_LIMIT);
    assert!(body["result_info"]["cursor"].is_string());
    let (_, body) = get(&format!("{base}?{range}&limit=1000")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 500);
    assert_eq!(body["result_info"], serde_json::json!({ "count": "500" }));
    let early = since - TimeDelta::days(2);
    let (status, body) = get(&format!(
        "{base}?since={}&before={}",
        iso(early),
        iso(early + TimeDelta::days(1))
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({
            "errors": [],
            "result": [],
            "result_info": { "count": "0" },
            "success": true,
        })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_look_like_cloudflare() {
    let cfg = config(10);
    let sim = start(cfg.clone()).await;
    let base = format!("{}{}", sim.base_url(), logs_path());
    let since = served_second(&cfg, 0) - TimeDelta::seconds(1);
    let range = format!(
        "since={}&before={}",
        iso(since),
        iso(cfg.anchor + TimeDelta::seconds(1))
    );
    for authorization in [
        None,
        Some("Bearer wrong-token"),
        Some("sim-token"),
        Some("Token sim-token"),
    ] {
        let (status, _, body) = get_with(&format!("{base}?{range}"), authorization).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(
            body,
            serde_json::json!({
                "success": false,
                "errors": [{ "code": 10000, "message": "Authentication error" }],
                "messages": [],
                "result": null,
            })
        );
    }
    let other = LOGS_ROUTE.replace("{account_id}", "0123456789abcdef0123456789abcdef");
    let (status, _, body) =
        get_with(&format!("{}{other}?{range}", sim.base_url()), Some(KEY)).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_u64()),
        (403, Some(10000))
    );
    let (_, body) = get(&format!("{base}?{range}&limit=1")).await;
    let cursor = body["result_info"]["cursor"].as_str().unwrap().to_string();
    let later = format!(
        "since={}&before={}",
        iso(since + TimeDelta::seconds(1)),
        iso(cfg.anchor + TimeDelta::seconds(1))
    );
    for query in [
        format!("before={}", iso(cfg.anchor)),
        format!("since={}", iso(since)),
        format!("since=yesterday&before={}", iso(cfg.anchor)),
        format!("since={}&before={}", iso(cfg.anchor), iso(since)),
        format!("{range}&limit=0"),
        format!("{range}&limit=1001"),
        format!("{range}&direction=up"),
        format!("{range}&actor_email=alice@example.com"),
        format!("{range}&action_type.not=view"),
        format!("{range}&cursor=nope"),
        format!("{later}&cursor={cursor}"),
        format!("{range}&direction=asc&cursor={cursor}"),
    ] {
        let (status, body) = get(&format!("{base}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["success"], false, "{query}");
        assert!(body["errors"][0]["message"].is_string(), "{query}: {body}");
        assert!(body["result"].is_null());
    }
    let (status, body) = get(&format!("{base}?{range}&cursor={cursor}")).await;
    assert_eq!(status, 200, "{body}");
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 5);
    assert_eq!(stats.bad_requests, 12);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_answer_carries_cloudflares_headers_and_body() {
    let mut cfg = config(10);
    cfg.faults.rate_429 = 1.0;
    let sim = start(cfg).await;
    let (status, headers, body) = get_with(
        &format!(
            "{}{}?since=2026-11-22&before=2026-11-24",
            sim.base_url(),
            logs_path()
        ),
        Some(KEY),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["ratelimit-policy"], "\"default\";q=1200;w=300");
    assert!(headers.contains_key("ratelimit"));
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], 971);
    sim.shutdown().await;
}
