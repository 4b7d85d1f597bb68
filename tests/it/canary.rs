//! The active canary end to end: the real binary, a tiny vendor whose canary endpoint logs a
//! known event when called (or fails, or logs nothing), and a local receiver as Slack. Each
//! `sluice run --once` is a process of its own, so the canary's record in the checkpoint is
//! what carries from one run to the next.

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use common::receiver;

const CANARY_ID: &str = "canary@example.com";
const TOKEN: &str = "canary-token-7c1e9";
const PASSWORD: &str = "canary-pass-4f2a";

/// What the canary endpoint does when called.
#[derive(Clone, Copy, PartialEq)]
enum Canary {
    /// Logs the canary's event, as a vendor logs a test account's sign-in.
    Logs,
    /// Answers 200 but logs nothing (the event is lost on the vendor's side).
    Drops,
    /// Answers 500.
    Fails,
}

#[derive(Clone)]
struct Vendor {
    events: Arc<Mutex<Vec<Value>>>,
    canary: Arc<Mutex<Canary>>,
    /// The Authorization header of each canary request.
    calls: Arc<Mutex<Vec<Option<String>>>>,
}

impl Vendor {
    fn add(&self, user: &str) {
        let mut events = self.events.lock().unwrap();
        let n = events.len();
        events.push(json!({
            "uuid": format!("e{n}"),
            "published": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "actor": { "alternateId": user },
        }));
    }

    fn calls(&self) -> Vec<Option<String>> {
        self.calls.lock().unwrap().clone()
    }
}

async fn logs(
    State(vendor): State<Vendor>,
    RawQuery(query): RawQuery,
) -> ([(header::HeaderName, &'static str); 1], String) {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let bound = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, t)| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (since, until) = (bound("since"), bound("until"));
    let events: Vec<Value> = vendor
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            let t: DateTime<Utc> = e["published"].as_str().unwrap().parse().unwrap();
            since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
        })
        .cloned()
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "events": events }).to_string(),
    )
}

async fn canary(State(vendor): State<Vendor>, headers: HeaderMap) -> (StatusCode, &'static str) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    vendor.calls.lock().unwrap().push(auth);
    let what = *vendor.canary.lock().unwrap();
    match what {
        Canary::Logs => {
            vendor.add(CANARY_ID);
            (StatusCode::OK, "{}")
        }
        Canary::Drops => (StatusCode::OK, "{}"),
        Canary::Fails => (StatusCode::INTERNAL_SERVER_ERROR, "canary backend down"),
    }
}

/// Starts the vendor with a few ordinary events; returns it and its `http://127.0.0.1:PORT`.
async fn vendor(canary_does: Canary) -> (Vendor, String) {
    let vendor = Vendor {
        events: Arc::default(),
        canary: Arc::new(Mutex::new(canary_does)),
        calls: Arc::default(),
    };
    for _ in 0..3 {
        vendor.add("alice@example.com");
    }
    let app = axum::Router::new()
        .route("/logs", get(logs))
        .route("/canary", post(canary))
        .with_state(vendor.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (vendor, base)
}

/// A config with one source on `base`, its canary sending to `canary_url`, and a `canary`
/// alert to the receiver at `alerts`.
fn write(
    dir: &std::path::Path,
    base: &str,
    canary_url: &str,
    within: &str,
    alerts: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "vendor"
base_url = "{base}"
path = "/logs"
query = {{ since = "{{start}}", until = "{{end}}" }}
pagination = {{ kind = "none" }}
records_path = "events"
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
window = {{ lookback = "1h", settle_delay = "0s" }}
sinks = ["lake"]

[sources.canary]
every = "1h"
within = "{within}"
request = {{ url = "{canary_url}", headers = {{ Authorization = "Bearer ${{env:SLUICE_TEST_CANARY_TOKEN}}" }} }}
match = {{ path = "actor.alternateId", equals = "{CANARY_ID}" }}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[[notifiers]]
name = "slack"
kind = "slack"
webhook_url = "{alerts}/services/T0/B0/secret"
attempts = 2

[[alerts]]
rule = "canary"
notify = ["slack"]
renotify = "1h"
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn sluice(args: &[&str], config: &std::path::Path) -> (Option<i32>, String) {
    let out = common::sluice()
        .args(args)
        .arg("--config")
        .arg(config)
        .env("SLUICE_TEST_CANARY_TOKEN", TOKEN)
        .output()
        .await
        .expect("sluice binary runs");
    (out.status.code(), common::output_text(&out))
}

async fn run(config: &std::path::Path) -> String {
    let (code, out) = sluice(&["run", "--once"], config).await;
    // The canary never fails the data path.
    assert_eq!(code, Some(0), "{out}");
    out
}

/// The source's canary as `sluice status --json` shows it.
async fn status(config: &std::path::Path) -> (Option<i32>, Value) {
    let (code, out) = sluice(&["status", "--json"], config).await;
    let rows: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {out}"));
    (code, rows[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_delivered_within_the_deadline_is_recorded_and_alerts_nothing() {
    let (vendor, base) = vendor(Canary::Logs).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &base,
        &format!("{base}/canary"),
        "10m",
        &rx.base_url,
    );

    run(&config).await;
    assert_eq!(
        vendor.calls(),
        [Some(format!("Bearer {TOKEN}"))],
        "one request, with the header's secret resolved"
    );
    let (_, row) = status(&config).await;
    assert_eq!(row["canary"]["state"], "waiting", "{row}");

    // The next run delivers the event the request caused.
    run(&config).await;
    let (code, row) = status(&config).await;
    assert_eq!(row["canary"]["state"], "seen", "{row}");
    assert!(row["canary"]["seen"].is_string(), "{row}");
    assert_eq!(code, Some(0), "{row}");
    let (code, out) = sluice(&["canary", "check"], &config).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("canary seen"), "{out}");
    assert_eq!(vendor.calls().len(), 1, "not sent again before `every`");
    assert!(rx.at("/services/T0/B0/secret").await.is_empty(), "no alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_never_arrives_alerts_once_after_within_then_recovers_when_it_does() {
    let (vendor, base) = vendor(Canary::Drops).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &base,
        &format!("{base}/canary"),
        "2s",
        &rx.base_url,
    );

    run(&config).await;
    assert_eq!(vendor.calls().len(), 1);
    // Not a timed assertion: the deadline must have passed, however long the runs take.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let out = run(&config).await;
    assert!(out.contains("canary event missed"), "{out}");
    run(&config).await;
    let slack = rx.at("/services/T0/B0/secret").await;
    assert_eq!(slack.len(), 1, "one alert for two runs past the deadline");
    let text = slack[0].json().to_string();
    assert!(text.contains("caused no delivered event"), "{text}");
    let (code, row) = status(&config).await;
    assert_eq!(row["canary"]["state"], "overdue", "{row}");
    assert_eq!(code, Some(1), "status is loud: {row}");
    let (code, out) = sluice(&["canary", "check"], &config).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("canary overdue"), "{out}");

    // The event arrives after all: the incident closes with one recovery.
    vendor.add(CANARY_ID);
    run(&config).await;
    let slack = rx.at("/services/T0/B0/secret").await;
    assert_eq!(slack.len(), 2, "the recovery");
    let (code, row) = status(&config).await;
    assert_eq!(row["canary"]["state"], "seen", "{row}");
    assert_eq!(code, Some(0), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_request_is_loud_without_its_credentials_and_never_fails_the_run() {
    let (vendor, base) = vendor(Canary::Fails).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let with_password = base.replace("http://", &format!("http://canary:{PASSWORD}@"));
    let config = write(
        dir.path(),
        &base,
        &format!("{with_password}/canary"),
        "10m",
        &rx.base_url,
    );

    let out = run(&config).await;
    assert!(out.contains("canary request failed"), "{out}");
    assert!(
        out.contains(&format!("POST {base}/canary")),
        "names the URL: {out}"
    );
    assert!(out.contains("HTTP 500"), "{out}");
    assert!(!out.contains(PASSWORD) && !out.contains(TOKEN), "{out}");
    assert!(out.contains("events=3"), "the data path went on: {out}");
    let slack = rx.at("/services/T0/B0/secret").await;
    assert_eq!(slack.len(), 1, "alerted at once");
    let text = slack[0].json().to_string();
    assert!(
        text.contains("HTTP 500") && !text.contains(PASSWORD),
        "{text}"
    );
    let (code, row) = status(&config).await;
    assert_eq!(row["canary"]["state"], "request_failed", "{row}");
    assert_eq!(code, Some(1), "{row}");
    // Sent again at the next run, not only after `every`.
    run(&config).await;
    assert_eq!(vendor.calls().len(), 2);

    // Unreachable: same loud failure.
    let closed = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap()
    };
    let config = write(
        dir.path(),
        &base,
        &format!("http://{closed}/canary"),
        "10m",
        &rx.base_url,
    );
    let out = run(&config).await;
    assert!(out.contains("canary request failed"), "{out}");
    assert!(
        out.contains(&format!("POST http://{closed}/canary")),
        "{out}"
    );
    let (code, out) = sluice(&["canary", "check"], &config).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot connect"), "{out}");
}

#[tokio::test]
async fn a_bad_canary_fails_at_load_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/canary",
        "2h",
        "http://127.0.0.1:9",
    );
    let (code, out) = sluice(&["run", "--once"], &config).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("sluice.toml:") && out.contains("within"),
        "{out}"
    );
    assert!(out.contains("shorter than every"), "{out}");

    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("within = \"2h\"", "within = \"10m\"");
    let no_match = text.replace(
        "match = { path = \"actor.alternateId\", equals = \"canary@example.com\" }\n",
        "",
    );
    std::fs::write(&config, no_match).unwrap();
    let (code, out) = sluice(&["run", "--once"], &config).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("sluice.toml:") && out.contains("match"),
        "{out}"
    );

    let ftp = text.replace(
        "url = \"http://127.0.0.1:9/canary\"",
        "url = \"ftp://127.0.0.1/canary\"",
    );
    std::fs::write(&config, ftp).unwrap();
    let (code, out) = sluice(&["run", "--once"], &config).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("sluice.toml:") && out.contains("request.url"),
        "{out}"
    );
}
