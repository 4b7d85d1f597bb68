use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::{self as simulator, event_ids, LateEvents, RunningSimulator, SimulatorConfig};

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

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
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

async fn access_token(sim: &RunningSimulator) -> String {
    let audience = audience();
    let (status, body) = token_request(
        sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "sim-token"),
            ("audience", &audience),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_string()
}

/// GET `url` with `token`: the status, the `next` link and the body.
async fn get(url: &str, token: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let next = answer
        .headers()
        .get("link")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix('<'))
        .and_then(|h| h.split_once(">; rel=\"next\""))
        .map(|(url, _)| url.to_string());
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(answer.headers().contains_key(header), "{header}");
    }
    (
        status,
        next,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn the_token_endpoint_checks_the_client_and_the_audience() {
    let sim = start(SimulatorConfig::auth0(5)).await;
    access_token(&sim).await;
    let audience = audience();
    let wrong_secret = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "nope"),
        ("audience", audience.as_str()),
    ];
    let (status, body) = token_request(&sim, &wrong_secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("access_denied"))
    );
    let wrong_audience = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "sim-token"),
        ("audience", "https://elsewhere.auth0.com/api/v2/"),
    ];
    let (status, body) = token_request(&sim, &wrong_audience).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    let (status, _, body) = get(&format!("{}{LOGS_PATH}?take=10", sim.base_url()), None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Invalid token"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn following_the_next_links_serves_every_log_once_in_id_order_then_the_same_url() {
    let config = SimulatorConfig::auth0(730);
    let sim = start(config.clone()).await;
    let token = access_token(&sim).await;
    let mut url = format!(
        "{}{LOGS_PATH}?from={BEFORE_EVERY_LOG}&take=100",
        sim.base_url()
    );
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (status, next, body) = get(&url, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        let next = next.expect("every answer names the next request");
        let logs = body.as_array().unwrap();
        pages += 1;
        if logs.is_empty() {
            assert_eq!(next, url, "an empty answer names the URL just requested");
            break;
        }
        assert!(logs.len() <= 100);
        let last = logs.last().unwrap()["log_id"].as_str().unwrap().to_string();
        assert!(next.contains(&format!("from={last}")), "{next}");
        assert!(next.contains("take=100"), "{next}");
        ids.extend(
            logs.iter()
                .map(|l| l["log_id"].as_str().unwrap().to_string()),
        );
        url = next;
    }
    assert_eq!(pages, 9, "730 logs in pages of 100, then the empty answer");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ordered by log_id");
    assert!(ids.iter().all(|id| id.len() == 56 && id.starts_with("900")));
    let unique: HashSet<String> = ids.into_iter().collect();
    assert_eq!(unique, event_ids(&config).into_iter().collect());
    // Without `from`: from the oldest; without `take`: 50.
    let (_, _, first) = get(&format!("{}{LOGS_PATH}", sim.base_url()), Some(&token)).await;
    assert_eq!(first.as_array().unwrap().len(), DEFAULT_TAKE);
    assert_eq!(first[0], simulator::event(&config, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_positions_and_page_sizes_are_refused() {
    let sim = start(SimulatorConfig::auth0(5)).await;
    let token = access_token(&sim).await;
    for query in ["from=12ab", "from=123", "take=0", "take=101"] {
        let url = format!("{}{LOGS_PATH}?{query}", sim.base_url());
        let (status, _, body) = get(&url, Some(&token)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errorCode"], "invalid_query_string");
    }
    sim.shutdown().await;
}

#[test]
fn late_logs_get_ids_after_what_was_served_so_a_checkpoint_never_skips_one() {
    let config = SimulatorConfig {
        late: LateEvents {
            fraction: 0.3,
            max_delay: Duration::from_secs(600),
        },
        ..SimulatorConfig::auth0(2_000)
    };
    let timeline = crate::timeline_of(&config);
    let start = timeline.earliest_visible_ns(0);
    let end = timeline.earliest_visible_ns(timeline.len() - 1) + 700 * 1_000_000_000;
    // A client listing to the end every so often, from where it stopped.
    let mut position = None;
    let mut seen = Vec::new();
    let steps = 40;
    for step in 0..=steps {
        let now = start + (end - start) * step / steps;
        loop {
            let page = page_after(&timeline, position, 100, now);
            let Some(last) = page.last() else { break };
            position = Some(events::key(&timeline, *last));
            seen.extend(page);
        }
    }
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no log served twice");
    assert_eq!(unique.len() as u64, timeline.len(), "no late log skipped");
    // Some logs were served after later-dated ones: the late ones.
    let out_of_date_order = seen
        .windows(2)
        .filter(|w| timeline.published_ms(w[1]) < timeline.published_ms(w[0]))
        .count();
    assert!(out_of_date_order > 0);
}

#[test]
fn log_ids_round_trip_and_any_56_digits_order_among_them() {
    let key = (1_765_000_000_123_000_000_i128, 42);
    let id = events::log_id(key);
    assert_eq!(id.len(), events::LOG_ID_DIGITS);
    assert_eq!(events::parse_log_id(&id), Some(key));
    assert_eq!(events::parse_log_id(BEFORE_EVERY_LOG), Some((0, 0)));
    assert_eq!(events::parse_log_id("9001"), None);
    assert_eq!(events::parse_log_id(&format!("{}x", &id[..55])), None);
}
