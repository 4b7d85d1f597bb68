use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{json, Value};

use super::*;
use crate::LateEvents;
use crate::{
    self as simulator, event, event_id, event_ids, event_time, visible_at, Faults,
    RunningSimulator, SimulatorConfig, Vendor,
};

fn anchor() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00.123Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config(events: u64, profile: GenericProfile) -> SimulatorConfig {
    SimulatorConfig {
        anchor: anchor(),
        ..SimulatorConfig::generic(events, profile)
    }
}

fn profile(pagination: SimPagination, order: SimOrder) -> GenericProfile {
    GenericProfile {
        pagination,
        order,
        ..GenericProfile::default()
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn json_body(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A time written as the API expects `start`/`end` in `format`.
fn param(format: SimTimeFormat, t: DateTime<Utc>) -> Value {
    match format {
        SimTimeFormat::Rfc3339 => json!(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        SimTimeFormat::EpochSeconds => json!(t.timestamp()),
        SimTimeFormat::EpochMillis => json!(t.timestamp_millis()),
        SimTimeFormat::EpochMicros => json!(t.timestamp_micros()),
        SimTimeFormat::EpochNanos => json!(t.timestamp_nanos_opt().unwrap()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One request of the pagination protocol: the page's records and the next step.
enum Step {
    Url(String),
    Cursor(String),
    Offset(u64),
    Page(u64),
}

/// Lists `[start, end)` completely, as a well-behaved client of `profile` would, and
/// returns the ids in serving order.
async fn walk(
    sim: &RunningSimulator,
    profile: &GenericProfile,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: u64,
) -> Vec<String> {
    let http = client();
    let base = sim.base_url();
    let format = profile.time_format;
    let (s, e) = (param(format, start), param(format, end));
    let mut ids = Vec::new();
    let mut step: Option<Step> = None;
    for _ in 0..10_000 {
        let request = match (profile.pagination, &step) {
            (SimPagination::CursorInBody, _) => {
                let mut body = json!({"start": s, "end": e, "limit": limit});
                if let Some(Step::Cursor(c)) = &step {
                    body["cursor"] = json!(c);
                }
                http.post(format!("{base}{SEARCH_PATH}"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
            }
            (SimPagination::Graphql, _) => {
                let mut variables = json!({"start": s, "end": e, "first": limit});
                if let Some(Step::Cursor(c)) = &step {
                    variables["after"] = json!(c);
                }
                http.post(format!("{base}{GRAPHQL_PATH}"))
                    .header("content-type", "application/json")
                    .body(
                        json!({"query": "{ events { nodes { id } } }", "variables": variables})
                            .to_string(),
                    )
            }
            (_, Some(Step::Url(url))) => http.get(url),
            (_, _) => {
                let mut query = vec![
                    ("start", text(&s)),
                    ("end", text(&e)),
                    ("limit", limit.to_string()),
                ];
                match &step {
                    Some(Step::Cursor(c)) => query.push(("cursor", c.clone())),
                    Some(Step::Offset(n)) => query.push(("offset", n.to_string())),
                    Some(Step::Page(n)) => query.push(("page", n.to_string())),
                    _ => {}
                }
                http.get(format!("{base}{EVENTS_PATH}")).query(&query)
            }
        };
        let response = request.bearer_auth("sim-token").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = json_body(response).await;
        let records = match profile.pagination {
            SimPagination::Graphql => body["data"]["events"]["nodes"].clone(),
            _ => body["data"].clone(),
        };
        let records = records.as_array().unwrap();
        ids.extend(
            records
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        let meta = &body["meta"];
        step = match profile.pagination {
            SimPagination::None => None,
            SimPagination::LinkHeader => link.map(|l| {
                let url = l.strip_prefix('<').unwrap().split_once('>').unwrap().0;
                assert!(l.ends_with("rel=\"next\""), "{l}");
                Step::Url(url.to_string())
            }),
            SimPagination::NextUrl => meta["next_url"].as_str().map(|u| Step::Url(u.into())),
            SimPagination::Cursor => match meta["next_cursor"].as_str().unwrap() {
                "" => None,
                c => Some(Step::Cursor(c.into())),
            },
            SimPagination::CursorHasMore => {
                let cursor = meta["next_cursor"].as_str().unwrap();
                assert!(!cursor.is_empty());
                meta["has_more"]
                    .as_bool()
                    .unwrap()
                    .then(|| Step::Cursor(cursor.into()))
            }
            SimPagination::CursorInBody => meta
                .get("next_cursor")
                .map(|c| Step::Cursor(c.as_str().unwrap().into())),
            SimPagination::Offset => {
                let offset = meta["offset"].as_u64().unwrap();
                (records.len() as u64 == limit).then(|| Step::Offset(offset + limit))
            }
            SimPagination::PageNumber => {
                let page = meta["page"].as_u64().unwrap();
                meta["has_more"]
                    .as_bool()
                    .unwrap()
                    .then(|| Step::Page(page + 1))
            }
            SimPagination::Graphql => {
                let info = &body["data"]["events"]["pageInfo"];
                info["hasNextPage"]
                    .as_bool()
                    .unwrap()
                    .then(|| Step::Cursor(info["endCursor"].as_str().unwrap().into()))
            }
        };
        if step.is_none() {
            return ids;
        }
    }
    panic!("pagination never ended");
}

/// The ids of events with a served time in `[start, end)`, in `order`.
fn expected(config: &SimulatorConfig, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
    let mut ids: Vec<String> = (0..config.events)
        .filter(|i| (start..end).contains(&event_time(config, *i)))
        .map(|i| event_id(config, i))
        .collect();
    if config.generic.order == SimOrder::NewestFirst {
        ids.reverse();
    }
    ids
}

/// Compares id lists without printing hundreds of ids.
fn assert_same(got: &[String], want: &[String], label: String) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{label}: got {} ids, want {}; first difference at {first:?}",
            got.len(),
            want.len()
        );
    }
}

// ---- events --------------------------------------------------------------------------

#[test]
fn events_are_deterministic_sized_and_unique() {
    let cfg = config(2000, GenericProfile::default());
    let mut total = 0;
    for i in 0..cfg.events {
        let e = event(&cfg, i);
        assert_eq!(e, event(&cfg, i));
        assert_eq!(e["id"], event_id(&cfg, i).as_str());
        for key in ["id", "time", "actor", "action", "target", "ip", "outcome"] {
            assert!(e.get(key).is_some(), "event {i} lacks {key}: {e}");
        }
        let size = e.to_string().len();
        assert!(
            (300..=650).contains(&size),
            "event {i} is {size} bytes: {e}"
        );
        total += size;
    }
    let mean = total / cfg.events as usize;
    assert!((400..=600).contains(&mean), "mean event size {mean}");
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let okta = SimulatorConfig {
        vendor: Vendor::Okta,
        ..cfg.clone()
    };
    assert_ne!(ids[0], event_id(&okta, 0), "generic ids differ from Okta's");
}

#[test]
fn times_follow_the_format_and_share_values() {
    for format in SimTimeFormat::ALL.iter().copied() {
        let cfg = config(
            3000,
            GenericProfile {
                time_format: format,
                ..GenericProfile::default()
            },
        );
        let times: Vec<DateTime<Utc>> = (0..cfg.events).map(|i| event_time(&cfg, i)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{format:?}");
        let ties = times.windows(2).filter(|w| w[0] == w[1]).count();
        assert!(ties > 300, "{format:?}: only {ties} ties");
        for i in [0u64, 1, 1500, 2999] {
            let t = times[i as usize];
            let served = event(&cfg, i)["time"].clone();
            let expected = match format {
                SimTimeFormat::Rfc3339 => json!(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
                SimTimeFormat::EpochSeconds => json!(t.timestamp()),
                SimTimeFormat::EpochMillis => json!(t.timestamp_millis()),
                SimTimeFormat::EpochMicros => json!(t.timestamp_micros()),
                SimTimeFormat::EpochNanos => json!(t.timestamp_nanos_opt().unwrap()),
            };
            assert_eq!(served, expected, "{format:?} event {i}");
        }
        match format {
            SimTimeFormat::EpochSeconds => {
                assert!(times.iter().all(|t| t.timestamp_subsec_nanos() == 0))
            }
            SimTimeFormat::EpochNanos => assert!(
                times
                    .iter()
                    .filter(|t| t.timestamp_subsec_nanos() % 1000 != 0)
                    .count()
                    > 2000,
                "nanosecond times have sub-microsecond digits"
            ),
            _ => {}
        }
        assert!(*times.last().unwrap() <= anchor());
    }
}

#[test]
fn late_events_are_a_deterministic_fraction_with_bounded_delays() {
    let late = LateEvents {
        fraction: 0.2,
        max_delay: Duration::from_secs(3),
    };
    let cfg = SimulatorConfig {
        late: late.clone(),
        ..config(10_000, GenericProfile::default())
    };
    let mut count = 0;
    for i in 0..cfg.events {
        let delay = visible_at(&cfg, i) - event_time(&cfg, i);
        assert!(delay >= chrono::TimeDelta::zero());
        assert!(delay <= chrono::TimeDelta::seconds(3));
        if delay > chrono::TimeDelta::zero() {
            count += 1;
        }
    }
    assert!((1800..2200).contains(&count), "{count} late events");
    let on_time = config(100, GenericProfile::default());
    assert!((0..100).all(|i| visible_at(&on_time, i) == event_time(&on_time, i)));
    let bad = SimulatorConfig {
        late: LateEvents {
            fraction: 0.5,
            max_delay: Duration::ZERO,
        },
        ..config(1, GenericProfile::default())
    };
    assert!(bad.validate().is_err());
}

// ---- pagination ----------------------------------------------------------------------

#[tokio::test]
async fn every_kind_and_order_lists_a_window_exactly() {
    for pagination in SimPagination::ALL.iter().copied() {
        for order in SimOrder::ALL.iter().copied() {
            let p = profile(pagination, order);
            let cfg = config(700, p.clone());
            let sim = start(cfg.clone()).await;
            let start_t = event_time(&cfg, 100);
            let end_t = event_time(&cfg, 600);
            let ids = walk(&sim, &p, start_t, end_t, 50).await;
            assert_same(
                &ids,
                &expected(&cfg, start_t, end_t),
                format!("{pagination:?} {order:?}"),
            );
            let stats = sim.stats();
            assert_eq!(stats.events_served, ids.len() as u64);
            let pages = if pagination == SimPagination::None {
                1
            } else {
                ids.len() as u64 / 50
            };
            assert!(stats.pages_ok >= pages, "{pagination:?}: {stats:?}");
            sim.shutdown().await;
        }
    }
}

#[tokio::test]
async fn every_time_format_is_accepted_and_served() {
    for format in SimTimeFormat::ALL.iter().copied() {
        let p = GenericProfile {
            time_format: format,
            pagination: SimPagination::Cursor,
            ..GenericProfile::default()
        };
        let cfg = config(500, p.clone());
        let sim = start(cfg.clone()).await;
        // Bounds between events, so each format's precision matters (whole seconds are
        // what an epoch_seconds client can express).
        let mut start_t = event_time(&cfg, 123) + chrono::TimeDelta::milliseconds(1);
        let mut end_t = event_time(&cfg, 400);
        if format == SimTimeFormat::EpochSeconds {
            start_t = start_t.trunc_subsecs(0);
            end_t = end_t.trunc_subsecs(0);
        }
        let ids = walk(&sim, &p, start_t, end_t, 37).await;
        assert_same(&ids, &expected(&cfg, start_t, end_t), format!("{format:?}"));
        // The other formats are refused.
        let wrong = if format == SimTimeFormat::Rfc3339 {
            "1700000000"
        } else {
            "2025-01-01T00:00:00Z"
        };
        let response = client()
            .get(format!("{}{EVENTS_PATH}", sim.base_url()))
            .query(&[("start", wrong), ("end", wrong)])
            .bearer_auth("sim-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{format:?}");
        let body: Value = json_body(response).await;
        assert!(
            body["message"].as_str().unwrap().contains("start"),
            "{body}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn bad_parameters_answer_400_with_json() {
    let cfg = config(100, GenericProfile::default());
    let sim = start(cfg).await;
    let url = format!("{}{EVENTS_PATH}", sim.base_url());
    let cases: &[&[(&str, &str)]] = &[
        &[("end", "2025-06-01T00:00:00Z")],
        &[("start", "2025-06-01T00:00:00Z")],
        &[("start", "yesterday"), ("end", "2025-06-01T00:00:00Z")],
        &[
            ("start", "2025-06-01T00:00:00Z"),
            ("end", "2025-06-02T00:00:00Z"),
            ("limit", "0"),
        ],
        &[
            ("start", "2025-06-01T00:00:00Z"),
            ("end", "2025-06-02T00:00:00Z"),
            ("cursor", "garbage"),
        ],
    ];
    for query in cases {
        let response = client()
            .get(&url)
            .query(query)
            .bearer_auth("sim-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query:?}");
        let body: Value = json_body(response).await;
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(sim.stats().bad_requests, cases.len() as u64);
    sim.shutdown().await;
}

#[tokio::test]
async fn none_pagination_refuses_huge_windows() {
    let p = profile(SimPagination::None, SimOrder::Ascending);
    let cfg = config(NONE_MAX_EVENTS as u64 + 10, p);
    let sim = start(cfg.clone()).await;
    let response = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:00:00Z"),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = json_body(response).await;
    assert_eq!(body["error"], "window too large");
    sim.shutdown().await;
}

// ---- cursors, visibility, faults -----------------------------------------------------

async fn first_cursor(sim: &RunningSimulator, cfg: &SimulatorConfig) -> String {
    let response = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = json_body(response).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    assert_eq!(body["data"][0]["id"], event_id(cfg, 0).as_str());
    body["meta"]["next_cursor"].as_str().unwrap().to_string()
}

async fn follow(sim: &RunningSimulator, cursor: &str) -> reqwest::Response {
    client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
            ("cursor", cursor),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cursors_expire_after_their_ttl() {
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        cursor_ttl: Some(Duration::from_millis(300)),
        ..GenericProfile::default()
    };
    let cfg = config(100, p);
    let sim = start(cfg.clone()).await;
    let cursor = first_cursor(&sim, &cfg).await;
    let fresh = follow(&sim, &cursor).await;
    assert_eq!(fresh.status(), 200);
    let body: Value = json_body(fresh).await;
    assert_eq!(body["data"][0]["id"], event_id(&cfg, 10).as_str());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stale = follow(&sim, &cursor).await;
    assert_eq!(stale.status(), 400);
    let body: Value = json_body(stale).await;
    assert_eq!(body["error"], "cursor expired");
    let stats = sim.stats();
    assert_eq!((stats.cursors_expired, stats.bad_requests), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn only_visible_events_are_served() {
    // Events spread over the next 2 s: none visible yet, then more and more.
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    let now = Utc::now();
    let cfg = SimulatorConfig {
        late: LateEvents {
            fraction: 0.5,
            max_delay: Duration::from_secs(1),
        },
        anchor: now + chrono::TimeDelta::milliseconds(1500),
        span: Duration::from_millis(2000),
        ..SimulatorConfig::generic(200, p.clone())
    };
    let sim = start(cfg.clone()).await;
    let window = (
        now - chrono::TimeDelta::seconds(10),
        now + chrono::TimeDelta::seconds(10),
    );
    let first = walk(&sim, &p, window.0, window.1, 1000).await;
    let visible_now: HashSet<String> = (0..cfg.events)
        .filter(|i| visible_at(&cfg, *i) <= Utc::now())
        .map(|i| event_id(&cfg, i))
        .collect();
    assert!(
        first.len() < cfg.events as usize,
        "future events are hidden"
    );
    assert!(first.iter().all(|id| visible_now.contains(id)));
    tokio::time::sleep(Duration::from_millis(2700)).await;
    let all = walk(&sim, &p, window.0, window.1, 1000).await;
    assert_same(
        &all,
        &event_ids(&cfg),
        "everything is visible in the end".into(),
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cursors_are_positions_not_offsets_into_the_visible_list() {
    // Every event is late by up to 1 s: the first page sees a scattered subset.
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    let now = Utc::now();
    let cfg = SimulatorConfig {
        late: LateEvents {
            fraction: 1.0,
            max_delay: Duration::from_secs(1),
        },
        anchor: now - chrono::TimeDelta::milliseconds(100),
        span: Duration::from_millis(1000),
        ..SimulatorConfig::generic(100, p)
    };
    let sim = start(cfg.clone()).await;
    let ids = event_ids(&cfg);
    let index_of = |id: &str| ids.iter().position(|x| x == id).unwrap();
    let response = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2099-01-01T00:00:00Z"),
            ("limit", "3"),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    let body: Value = json_body(response).await;
    let page: Vec<usize> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| index_of(e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(page.len(), 3, "{body}");
    assert!(page.windows(2).all(|w| w[0] < w[1]));
    let cursor = body["meta"]["next_cursor"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let next = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2099-01-01T00:00:00Z"),
            ("limit", "3"),
            ("cursor", &cursor),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    let next = json_body(next).await;
    // Everything is visible now; the page continues right after the last one served,
    // and events that appeared behind it stay behind it.
    let first = index_of(next["data"][0]["id"].as_str().unwrap());
    assert_eq!(first, page[2] + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_generic_endpoints() {
    let p = profile(SimPagination::Graphql, SimOrder::Ascending);
    let mut cfg = config(100, p);
    cfg.faults = Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..Faults::none()
    };
    let sim = start(cfg).await;
    let response = client()
        .post(format!("{}{GRAPHQL_PATH}", sim.base_url()))
        .header("content-type", "application/json")
        .body(json!({"query": "", "variables": {"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}).to_string())
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(sim.stats().faults_429, 1);
    sim.shutdown().await;
}

// ---- auth ----------------------------------------------------------------------------

async fn status_with(
    sim: &RunningSimulator,
    build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    extra_query: &[(&str, &str)],
) -> u16 {
    let mut query = vec![
        ("start", "2025-01-01T00:00:00Z"),
        ("end", "2026-01-01T00:00:00Z"),
    ];
    query.extend_from_slice(extra_query);
    let request = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&query);
    build(request).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn static_credentials_are_checked_on_every_request() {
    let schemes = [
        SimAuth::None,
        SimAuth::Bearer("tok".into()),
        SimAuth::ApiKeyHeader {
            header: "X-API-Key".into(),
            key: "k1".into(),
        },
        SimAuth::ApiKeyQuery {
            param: "api_key".into(),
            key: "k2".into(),
            echo_in_links: false,
        },
        SimAuth::Basic {
            user: "u".into(),
            password: "p:w".into(),
        },
    ];
    for auth in schemes {
        let sim = start(config(
            10,
            GenericProfile {
                auth: auth.clone(),
                ..GenericProfile::default()
            },
        ))
        .await;
        let nothing = status_with(&sim, |r| r, &[]).await;
        let (good, bad) = match &auth {
            SimAuth::None => (nothing, 200),
            SimAuth::Bearer(_) => (
                status_with(&sim, |r| r.bearer_auth("tok"), &[]).await,
                status_with(&sim, |r| r.bearer_auth("tok2"), &[]).await,
            ),
            SimAuth::ApiKeyHeader { .. } => (
                status_with(&sim, |r| r.header("x-api-key", "k1"), &[]).await,
                status_with(&sim, |r| r.header("x-api-key", "k2"), &[]).await,
            ),
            SimAuth::ApiKeyQuery { .. } => (
                status_with(&sim, |r| r, &[("api_key", "k2")]).await,
                status_with(&sim, |r| r, &[("api_key", "k2"), ("api_key", "x")]).await,
            ),
            SimAuth::Basic { .. } => (
                status_with(&sim, |r| r.basic_auth("u", Some("p:w")), &[]).await,
                status_with(&sim, |r| r.basic_auth("u", Some("p")), &[]).await,
            ),
            SimAuth::OAuth2 { .. } => unreachable!(),
        };
        assert_eq!(good, 200, "{auth:?}");
        if auth != SimAuth::None {
            assert_eq!(nothing, 401, "{auth:?}");
            assert_eq!(bad, 401, "{auth:?}");
            assert_eq!(sim.stats().unauthorized, 2, "{auth:?}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn oauth2_tokens_are_issued_checked_and_expire() {
    let p = GenericProfile {
        auth: SimAuth::OAuth2 {
            client_id: "client one".into(),
            client_secret: "s3cr:t".into(),
            token_lifetime: Duration::from_millis(1200),
        },
        ..GenericProfile::default()
    };
    let sim = start(config(10, p)).await;
    let token_url = format!("{}{TOKEN_PATH}", sim.base_url());
    // client_secret_basic, form-encoded as RFC 6749 asks.
    let basic = client()
        .post(&token_url)
        .basic_auth("client+one", Some("s3cr%3At"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=audit.read")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let granted: Value = json_body(basic).await;
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["expires_in"], 1);
    assert_eq!(granted["scope"], "audit.read");
    let token = granted["access_token"].as_str().unwrap().to_string();
    // client_secret_post.
    let post = client()
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=client+one&client_secret=s3cr%3At")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    for (body, status) in [
        (
            "grant_type=client_credentials&client_id=client+one&client_secret=nope",
            401,
        ),
        (
            "grant_type=password&client_id=client+one&client_secret=s3cr%3At",
            400,
        ),
    ] {
        let response = client()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
    assert_eq!(sim.stats().tokens_issued, 2);
    assert_eq!(status_with(&sim, |r| r.bearer_auth(&token), &[]).await, 200);
    assert_eq!(
        status_with(&sim, |r| r.bearer_auth("made-up"), &[]).await,
        401
    );
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_eq!(
        status_with(&sim, |r| r.bearer_auth(&token), &[]).await,
        401,
        "expired tokens are refused"
    );
    sim.shutdown().await;
}
