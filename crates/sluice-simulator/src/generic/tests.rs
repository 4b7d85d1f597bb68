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

// Cursors and what is visible when; faults and credentials.
mod access;
mod cursors;
