use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::HeaderMap as ClientHeaders;
use serde_json::Value;

use super::*;
use crate::{
    self as simulator, event, event_id, event_ids, Faults, RunningSimulator, SimulatorConfig,
};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::okta(events)
    }
}

fn published(config: &SimulatorConfig, index: u64) -> String {
    event(config, index)["published"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---- event generation ----------------------------------------------------------------

#[test]
fn events_are_deterministic_per_seed_and_index() {
    let cfg = config(1000);
    for i in [0, 1, 17, 500, 999] {
        assert_eq!(event(&cfg, i), event(&cfg, i));
        assert_eq!(event(&cfg, i)["uuid"], event_id(&cfg, i).as_str());
    }
    let other = SimulatorConfig {
        seed: 7,
        ..cfg.clone()
    };
    assert_ne!(event(&cfg, 3)["uuid"], event(&other, 3)["uuid"]);
    assert_ne!(event(&cfg, 3), event(&other, 3));
}

#[test]
fn ids_are_unique_and_in_serving_order() {
    let cfg = config(200_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.len(), 200_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    assert_eq!(ids[12_345], event_id(&cfg, 12_345));
}

#[test]
fn times_are_non_decreasing_with_shared_timestamps() {
    let cfg = config(3000);
    let times: Vec<String> = (0..cfg.events).map(|i| published(&cfg, i)).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times must not decrease"
    );
    let ties = times.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(ties > 500, "only {ties} shared timestamps");
    assert_eq!(times.last().unwrap(), "2026-11-23T10:00:00.123Z");
    assert!(times[0].as_str() >= "2026-11-23T04:00:00.123Z");
    assert!(times.iter().all(|t| t.len() == 24 && t.ends_with('Z')));
}

#[test]
fn events_have_the_okta_shape_and_size() {
    let cfg = config(500);
    let mut total = 0;
    let mut types = HashSet::new();
    for i in 0..cfg.events {
        let e = event(&cfg, i);
        for key in [
            "uuid",
            "published",
            "eventType",
            "version",
            "severity",
            "displayMessage",
            "actor",
            "client",
            "outcome",
            "target",
            "transaction",
            "debugContext",
            "authenticationContext",
            "securityContext",
            "request",
            "legacyEventType",
        ] {
            assert!(e.get(key).is_some(), "event {i} lacks {key}");
        }
        assert_eq!(e["version"], "0");
        assert_eq!(e["actor"]["type"], "User");
        assert!(e["client"]["geographicalContext"]["geolocation"]["lat"].is_f64());
        assert!(e["request"]["ipChain"][0]["ip"].is_string());
        assert!(["INFO", "WARN", "ERROR"].contains(&e["severity"].as_str().unwrap()));
        types.insert(e["eventType"].as_str().unwrap().to_string());
        total += e.to_string().len();
    }
    let average = total / cfg.events as usize;
    assert!(
        (1000..=2048).contains(&average),
        "average event size {average}"
    );
    assert!(types.len() >= 8, "{types:?}");
}

#[test]
fn random_access_works_for_ten_million_events() {
    let cfg = config(10_000_000);
    let last = event(&cfg, 9_999_999);
    assert_eq!(last["published"], "2026-11-23T10:00:00.123Z");
    let t = DateTime::parse_from_rfc3339(&published(&cfg, 5_000_000))
        .unwrap()
        .with_timezone(&Utc);
    let first = simulator::first_index_at_or_after(&cfg, t);
    assert!(first <= 5_000_000 && published(&cfg, first) == published(&cfg, 5_000_000));
    assert!(first == 0 || published(&cfg, first - 1) < published(&cfg, first));
}

#[test]
fn cursors_round_trip_and_reject_garbage() {
    for index in [0, 1, 99, 1000] {
        assert_eq!(
            decode_cursor(42, 1000, &encode_cursor(42, index)),
            Some(index)
        );
    }
    assert_eq!(decode_cursor(42, 999, &encode_cursor(42, 1000)), None);
    assert_eq!(decode_cursor(43, 1000, &encode_cursor(42, 5)), None);
    for junk in [
        "",
        "_",
        "zz_00000000",
        "5",
        "5_",
        "ffffffffffffffffff_00000000",
        "5_0000000g",
        "🦀_🦀",
    ] {
        assert_eq!(decode_cursor(42, 1000, junk), None, "{junk:?}");
    }
}

// ---- HTTP ----------------------------------------------------------------------------

async fn serve(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

struct Reply {
    status: u16,
    headers: ClientHeaders,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }

    fn link(&self, rel: &str) -> Option<String> {
        let suffix = format!(">; rel=\"{rel}\"");
        self.headers.get_all("link").iter().find_map(|v| {
            let v = v.to_str().unwrap();
            v.strip_suffix(&suffix)?
                .strip_prefix('<')
                .map(str::to_string)
        })
    }

    fn ids(&self) -> Vec<String> {
        let page = self.json();
        page.as_array()
            .unwrap()
            .iter()
            .map(|e| e["uuid"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn get_with(url: &str, auth: Option<&str>) -> Reply {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(url: &str) -> Reply {
    get_with(url, Some("SSWS sim-token")).await
}

fn logs_url(sim: &RunningSimulator, query: &str) -> String {
    format!("{}{LOGS_PATH}?{query}", sim.base_url())
}

/// Follows `next` links from `url`, returning every page's ids.
async fn crawl(url: String) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(url);
    while let Some(url) = next {
        let reply = get(&url).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        pages.push(reply.ids());
        next = reply.link("next");
        assert!(pages.len() < 10_000, "pagination does not terminate");
    }
    pages
}

#[tokio::test]
async fn paging_through_everything_yields_exactly_event_ids() {
    let cfg = config(2357);
    let sim = serve(cfg.clone()).await;
    let query = "since=2026-11-23T04:00:00.123Z&until=2026-11-23T10:00:00.124Z";
    let pages = crawl(logs_url(&sim, query)).await;
    assert_eq!(pages.len(), 24);
    assert!(pages[..23].iter().all(|p| p.len() == 100));
    let all: Vec<String> = pages.concat();
    assert_eq!(all, event_ids(&cfg));
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());

    // The dedup edge case the simulator exists to exercise: a timestamp shared by the
    // last event of one page and the first of the next.
    let straddling = (1..pages.len() as u64)
        .filter(|p| published(&cfg, p * 100 - 1) == published(&cfg, p * 100))
        .count();
    assert!(straddling > 0);

    let stats = sim.stats();
    assert_eq!((stats.pages_ok, stats.events_served), (24, 2357));
    sim.shutdown().await;
}

#[tokio::test]
async fn small_pages_and_served_events_match_event() {
    let cfg = config(300);
    let sim = serve(cfg.clone()).await;
    let pages = crawl(logs_url(&sim, "limit=7")).await;
    assert_eq!(pages.len(), 43);
    assert_eq!(pages.concat(), event_ids(&cfg));

    let page = get(&logs_url(&sim, "limit=5")).await.json();
    for (i, served) in page.as_array().unwrap().iter().enumerate() {
        assert_eq!(*served, event(&cfg, i as u64));
    }
}

#[tokio::test]
async fn headers_and_links_look_like_okta() {
    let cfg = config(250);
    let sim = serve(cfg).await;
    let query = "since=2026-11-23T04%3A00%3A00%2B00%3A00&limit=100";
    let reply = get(&logs_url(&sim, query)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.header("x-rate-limit-limit"), "600");
    assert!(
        reply
            .header("x-rate-limit-remaining")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(
        reply.header("x-rate-limit-reset").parse::<i64>().unwrap() > Utc::now().timestamp() - 1
    );
    assert_eq!(reply.link("self").unwrap(), logs_url(&sim, query));
    let next = url::Url::parse(&reply.link("next").unwrap()).unwrap();
    assert_eq!(
        format!(
            "http://{}",
            &next[url::Position::BeforeHost..url::Position::AfterPort]
        ),
        sim.base_url()
    );
    let params: Vec<(String, String)> = next.query_pairs().into_owned().collect();
    assert_eq!(
        params[0],
        ("since".into(), "2026-11-23T04:00:00+00:00".into())
    );
    assert_eq!(params[1], ("limit".into(), "100".into()));
    assert_eq!(params[2].0, "after");

    // A polling query (no `until`) ends without a next link once exhausted.
    let second = get(next.as_str()).await;
    let third = get(&second.link("next").unwrap()).await;
    assert_eq!(third.ids().len(), 50);
    assert_eq!(third.link("next"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_token_is_401() {
    let sim = serve(config(10)).await;
    let url = logs_url(&sim, "limit=5");
    for auth in [
        None,
        Some("SSWS nope"),
        Some("Bearer sim-token"),
        Some("SSWS"),
    ] {
        let reply = get_with(&url, auth).await;
        assert_eq!(reply.status, 401, "{auth:?}");
        let body = reply.json();
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
        assert_eq!(body["errorLink"], "E0000011");
        assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
        assert_eq!(body["errorCauses"], serde_json::json!([]));
    }
    assert_eq!(sim.stats().unauthorized, 4);
    assert_eq!(sim.stats().events_served, 0);
}

#[tokio::test]
async fn since_is_inclusive_and_until_exclusive() {
    let cfg = config(1000);
    let sim = serve(cfg.clone()).await;
    // Bounds on timestamps shared by several events, to prove whole groups are in/out.
    let tied = |from: u64| {
        (from..cfg.events - 1)
            .find(|i| {
                published(&cfg, *i) == published(&cfg, i + 1)
                    && published(&cfg, i - 1) != published(&cfg, *i)
            })
            .unwrap()
    };
    let (lo, hi) = (tied(100), tied(400));
    let (since, until) = (published(&cfg, lo), published(&cfg, hi));
    let query = format!("since={since}&until={until}&limit=1000");
    let ids = get(&logs_url(&sim, &query)).await.ids();
    let expected: Vec<String> = (lo..hi).map(|i| event_id(&cfg, i)).collect();
    assert_eq!(ids, expected);

    // Sub-millisecond bounds: since just after `since` excludes its group; until just
    // after `until` includes the group at `until`.
    let query = format!(
        "since={}&until={}&limit=1000",
        since.replace('Z', "1Z"),
        until.replace('Z', "1Z")
    );
    let ids = get(&logs_url(&sim, &query)).await.ids();
    let after_group = (lo..).find(|i| published(&cfg, *i) != since).unwrap();
    let through_group = (hi..).find(|i| published(&cfg, *i) != until).unwrap();
    let expected: Vec<String> = (after_group..through_group)
        .map(|i| event_id(&cfg, i))
        .collect();
    assert_eq!(ids, expected);

    let empty = get(&logs_url(&sim, &format!("since={until}&until={since}"))).await;
    assert_eq!(
        (empty.status, empty.ids().len(), empty.link("next")),
        (200, 0, None)
    );
}

#[tokio::test]
async fn invalid_parameters_are_400_and_huge_limits_clamped() {
    let sim = serve(SimulatorConfig {
        max_page_size: 50,
        ..config(120)
    })
    .await;
    for (query, param) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("since=", "since"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("after=garbage", "after"),
        ("after=%FF%FE", "after"),
        ("sortOrder=DESCENDING", "sortOrder"),
    ] {
        let reply = get(&logs_url(&sim, query)).await;
        assert_eq!(reply.status, 400, "{query}");
        let body = reply.json();
        assert_eq!(body["errorCode"], "E0000001");
        assert_eq!(
            body["errorSummary"],
            format!("Api validation failed: {param}")
        );
        assert!(reply.headers.contains_key("x-rate-limit-reset"));
    }
    let huge = get(&logs_url(
        &sim,
        "limit=99999999999999999999999999999&sortOrder=ASCENDING",
    ))
    .await;
    assert_eq!((huge.status, huge.ids().len()), (200, 50));
    let unknown = get(&logs_url(
        &sim,
        "filter=eventType+eq+%22x%22&q=foo&limit=3&limit=9",
    ))
    .await;
    assert_eq!(unknown.ids().len(), 3);
}

#[tokio::test]
async fn rate_limit_fault_returns_429_with_reset() {
    let sim = serve(SimulatorConfig {
        faults: Faults {
            rate_429: 1.0,
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    let before = Utc::now().timestamp();
    let reply = get(&logs_url(&sim, "limit=5")).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("x-rate-limit-remaining"), "0");
    let reset: i64 = reply.header("x-rate-limit-reset").parse().unwrap();
    assert!((before + 1..=Utc::now().timestamp() + 1).contains(&reset));
    assert_eq!(reply.json()["errorCode"], "E0000047");
    let stats = sim.stats();
    assert_eq!(
        (stats.requests, stats.faults_429, stats.events_served),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn server_error_and_truncation_faults() {
    let sim = serve(SimulatorConfig {
        faults: Faults {
            rate_5xx: 1.0,
            seed: Some(1),
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    for _ in 0..10 {
        let reply = get(&logs_url(&sim, "")).await;
        assert!([500, 502, 503].contains(&reply.status), "{}", reply.status);
        assert!(reply.body.len() < 100);
    }
    assert_eq!(sim.stats().faults_5xx, 10);

    let sim = serve(SimulatorConfig {
        faults: Faults {
            rate_truncate: 1.0,
            seed: Some(1),
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    for _ in 0..10 {
        let reply = get(&logs_url(&sim, "")).await;
        assert_eq!(reply.status, 200);
        let length: usize = reply.header("content-length").parse().unwrap();
        assert_eq!(length, reply.body.len());
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.faults_truncated, stats.pages_ok, stats.events_served),
        (10, 0, 0)
    );
}

#[tokio::test]
async fn latency_and_slow_fault_delay_responses() {
    let sim = serve(SimulatorConfig {
        latency: Duration::from_millis(30),
        faults: Faults {
            rate_slow: 1.0,
            slow: Duration::from_millis(40),
            ..Faults::none()
        },
        ..config(10)
    })
    .await;
    let started = std::time::Instant::now();
    let reply = get(&logs_url(&sim, "")).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(70));
    assert_eq!(sim.stats().faults_slow, 1);
}

#[tokio::test]
async fn empty_dataset_serves_an_empty_page() {
    let sim = serve(config(0)).await;
    let reply = get(&logs_url(&sim, "")).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"[]".as_slice())
    );
    assert_eq!(reply.link("next"), None);
}

/// Sends a raw HTTP/1.1 request, bypassing client-side validation.
async fn raw_request(sim: &RunningSimulator, target: &str, host: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(sim.addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: SSWS sim-token\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn garbage_requests_get_answers_not_panics() {
    let sim = serve(SimulatorConfig {
        default_page_size: 2,
        ..config(10)
    })
    .await;
    let response = raw_request(&sim, LOGS_PATH, "evil host<>").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let fallback = format!("<{}{LOGS_PATH}?after=", sim.base_url());
    assert!(response.contains(&fallback), "{response}");

    for target in [
        "/api/v1/logs?since=%ZZ&limit=%FF",
        "/api/v1/logs?after=ffffffffffffffff_ffffffff",
        "/api/v1/logs?after=0_00000000_extra",
        "/api/v1/logs?since=%00&&&=&until",
        "/api/v1/logs?limit=1%2E5",
    ] {
        let response = raw_request(&sim, target, "localhost").await;
        assert!(response.starts_with("HTTP/1.1 400"), "{target}: {response}");
        assert!(response.contains("E0000001"), "{target}: {response}");
    }
    let ok = raw_request(
        &sim,
        "/api/v1/logs?limit=1&until=9999-12-31T23:59:59.999999999Z",
        "x",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}
