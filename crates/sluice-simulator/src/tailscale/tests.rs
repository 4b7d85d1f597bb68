use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event_ids, RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::tailscale(events)
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

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    (status, body)
}

/// `GET <path>?<query>` with the API access token as a Bearer token.
async fn get(sim: &RunningSimulator, path: &str, query: &str) -> (u16, Value) {
    let url = format!("{}{path}?{query}", sim.base_url());
    send(client().get(url).bearer_auth("sim-token")).await
}

fn window(start: &str, end: &str) -> String {
    let encode = |t: &str| url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    format!("start={}&end={}", encode(start), encode(end))
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn each_log_answers_a_window_whole_oldest_first_start_in_end_out() {
    let config = config(3_000);
    let sim = start(config.clone()).await;
    let first = simulator::event_time(&config, 0);
    let last = simulator::event_time(&config, config.events - 1);
    for stream in Stream::ALL {
        // Contiguous windows of 20 minutes, the last ending a millisecond after the newest
        // event, deliver every record of the log once, in time order within each answer.
        let mut served: Vec<Value> = Vec::new();
        let mut from = first;
        while from <= last {
            let to = (from + TimeDelta::minutes(20)).min(last + TimeDelta::milliseconds(1));
            let (status, body) = get(&sim, &stream.path(), &window(&rfc(from), &rfc(to))).await;
            assert_eq!(status, 200, "{body}");
            let logs = body["logs"].as_array().unwrap();
            let time_key = match stream {
                Stream::Configuration => "eventTime",
                Stream::Network => "logged",
            };
            let times: Vec<DateTime<Utc>> = logs
                .iter()
                .map(|r| r[time_key].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "chronological");
            assert!(
                times.iter().all(|t| *t >= from && *t < to),
                "inside [start, end)"
            );
            if stream == Stream::Configuration {
                assert_eq!(body["version"], "1.1");
                assert_eq!(body["tailnet"], TAILNET_NAME);
            } else {
                assert!(body.get("version").is_none());
            }
            served.extend(logs.iter().cloned());
            from = to;
        }
        let expected: Vec<Value> = (0..config.events)
            .filter(|i| Stream::of(*i) == stream)
            .map(|i| simulator::event(&config, i))
            .collect();
        assert_eq!(served, expected, "{stream:?}");
    }
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_record_at_end_is_left_to_the_window_that_starts_there() {
    let config = config(300);
    let sim = start(config.clone()).await;
    let index = 150; // a configuration record
    assert_eq!(Stream::of(index), Stream::Configuration);
    let at = simulator::event_time(&config, index);
    let record = simulator::event(&config, index);
    let path = Stream::Configuration.path();
    let before = window(&rfc(at - TimeDelta::minutes(1)), &rfc(at));
    let (_, body) = get(&sim, &path, &before).await;
    assert!(
        !body["logs"].as_array().unwrap().contains(&record),
        "end is exclusive"
    );
    let after = window(&rfc(at), &rfc(at + TimeDelta::minutes(1)));
    let (_, body) = get(&sim, &path, &after).await;
    assert_eq!(body["logs"][0], record, "start is inclusive");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_window_answers_an_empty_array() {
    let sim = start(config(10)).await;
    let (status, body) = get(
        &sim,
        &Stream::Network.path(),
        &window("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["logs"], serde_json::json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn events_not_yet_published_are_not_served() {
    // The newest events lie in the future: a window reaching past now holds only the past.
    let now = Utc::now();
    let config = SimulatorConfig {
        anchor: now + TimeDelta::hours(1),
        span: std::time::Duration::from_secs(2 * 3600),
        ..SimulatorConfig::tailscale(600)
    };
    let sim = start(config.clone()).await;
    let query = window(
        &rfc(now - TimeDelta::hours(2)),
        &rfc(now + TimeDelta::hours(2)),
    );
    let (_, body) = get(&sim, &Stream::Configuration.path(), &query).await;
    let times: Vec<DateTime<Utc>> = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["eventTime"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(!times.is_empty());
    assert!(
        times.iter().all(|t| *t <= Utc::now()),
        "nothing from the future"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_tailscale_would_refuse_are_refused_with_a_message() {
    let sim = start(config(30)).await;
    let path = Stream::Configuration.path();
    let good = window("2026-11-22T06:00:00Z", "2026-11-22T12:00:00Z");
    let cases = [
        (path.clone(), "start=2026-11-22T06:00:00Z".to_string(), 400),
        (path.clone(), "end=2026-11-22T06:00:00Z".to_string(), 400),
        (
            path.clone(),
            window("yesterday", "2026-11-22T06:00:00Z"),
            400,
        ),
        (
            path.clone(),
            window("2026-11-22T06:00:00Z", "2026-11-22T05:00:00Z"),
            400,
        ),
        (path.clone(), format!("{good}&event=NODE.CREATE"), 400),
        (
            "/api/v2/tailnet/T999CNTRL/logging/configuration".to_string(),
            good.clone(),
            404,
        ),
    ];
    for (path, query, status) in &cases {
        let (got, body) = get(&sim, path, query).await;
        assert_eq!(got, *status, "{path}?{query}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    assert_eq!(sim.stats().bad_requests, cases.len() as u64);
    // The tailnet's ID names it as well as `-`.
    let (status, _) = get(
        &sim,
        &format!("/api/v2/tailnet/{TAILNET_ID}/logging/network"),
        &good,
    )
    .await;
    assert_eq!(status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn access_tokens_go_as_bearer_or_basic_and_wrong_ones_get_401() {
    let sim = start(config(30)).await;
    let url = format!(
        "{}{}?{}",
        sim.base_url(),
        Stream::Configuration.path(),
        window("2026-11-22T06:00:00Z", "2026-11-22T12:00:00Z")
    );
    let (status, _) = send(client().get(&url).basic_auth("sim-token", Some(""))).await;
    assert_eq!(status, 200, "Basic with the token as user name");
    let (status, _) = send(client().get(&url).bearer_auth("sim-token")).await;
    assert_eq!(status, 200, "Bearer");
    for request in [
        client().get(&url),
        client().get(&url).bearer_auth("tskey-api-wrong"),
        client().get(&url).basic_auth("sim-token", Some("password")),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "API token invalid");
    }
    assert_eq!(sim.stats().unauthorized, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn oauth_clients_get_hour_long_tokens_for_the_logs() {
    let sim = start(config(30)).await;
    let token_url = format!("{}{TOKEN_PATH}", sim.base_url());
    let form = |secret: &str, grant: &str| {
        format!("grant_type={grant}&client_id={CLIENT_ID}&client_secret={secret}")
    };
    let post = |body: String| {
        client()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let (status, answer) = send(post(form("sim-token", "client_credentials"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], TOKEN_SECONDS);
    let token = answer["access_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tskey-api-"));
    // HTTP Basic client authentication works as well.
    let basic = client()
        .post(&token_url)
        .basic_auth(CLIENT_ID, Some("sim-token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials");
    assert_eq!(send(basic).await.0, 200);
    let (status, answer) = send(post(form("wrong", "client_credentials"))).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, answer) = send(post(form("sim-token", "password"))).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(sim.stats().tokens_issued, 2);

    let url = format!(
        "{}{}?{}",
        sim.base_url(),
        Stream::Network.path(),
        window("2026-11-22T06:00:00Z", "2026-11-22T12:00:00Z")
    );
    let (status, body) = send(client().get(&url).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{body}");
    // An expired or forged token is refused.
    let now = Utc::now().timestamp();
    let expired = issue_token(42, 9, now - 1);
    assert_eq!(issued_token_state(42, &expired, now), Some(false));
    let (status, _) = send(client().get(&url).bearer_auth(&expired)).await;
    assert_eq!(status, 401);
    let forged = token.replace("tskey-api-", "tskey-api-0");
    assert_eq!(issued_token_state(42, &forged, now), None);
    sim.shutdown().await;
}

#[test]
fn records_are_distinct_and_shaped_as_the_reference() {
    let config = config(900);
    let ids: HashSet<String> = event_ids(&config).into_iter().collect();
    assert_eq!(ids.len(), 900, "every record differs in content");
    for i in 0..30 {
        let record = simulator::event(&config, i);
        let time = simulator::event_time(&config, i);
        match Stream::of(i) {
            Stream::Configuration => {
                assert_eq!(record["type"], "CONFIG");
                for key in ["eventGroupID", "origin", "actor", "target", "action"] {
                    assert!(!record[key].is_null(), "{key} in {record}");
                }
                let served: DateTime<Utc> = record["eventTime"].as_str().unwrap().parse().unwrap();
                assert_eq!(served, time);
                // Microseconds, as Tailscale writes them.
                assert_eq!(record["eventTime"].as_str().unwrap().len(), 27, "{record}");
            }
            Stream::Network => {
                let logged: DateTime<Utc> = record["logged"].as_str().unwrap().parse().unwrap();
                assert_eq!(logged, time);
                let end: DateTime<Utc> = record["end"].as_str().unwrap().parse().unwrap();
                assert!(end < logged, "the sample ends before the server logs it");
                assert!(record["virtualTraffic"][0]["txBytes"].is_u64());
                assert!(record["nodeId"].as_str().unwrap().ends_with("CNTRL"));
            }
        }
    }
    assert_eq!(
        stream_ids(&config, Stream::Configuration).len()
            + stream_ids(&config, Stream::Network).len(),
        900
    );
}
