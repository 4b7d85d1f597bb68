//! A vendor-shaped test API: each test gives a handler that answers like one vendor does
//! (Graph, Duo, Google Reports, GitHub, an API without pagination), and the server notes
//! every request it gets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    /// `http://host:port` of the server.
    pub base: String,
    /// The request body, when it is JSON.
    pub body: Option<Value>,
}

impl Seen {
    /// A query parameter as an RFC 3339 time.
    pub fn time(&self, key: &str) -> Option<DateTime<Utc>> {
        let text = self.query.get(key)?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// A query parameter as a number.
    pub fn number(&self, key: &str) -> Option<usize> {
        self.query.get(key)?.parse().ok()
    }
}

type Handler = dyn Fn(&Seen) -> Response + Send + Sync;

/// The running server.
pub struct Vendor {
    handler: Box<Handler>,
    seen: Mutex<Vec<Seen>>,
}

impl Vendor {
    /// Starts on an ephemeral loopback port; returns the server and its base URL.
    pub async fn start(
        handler: impl Fn(&Seen) -> Response + Send + Sync + 'static,
    ) -> (Arc<Vendor>, String) {
        let vendor = Arc::new(Vendor {
            handler: Box::new(handler),
            seen: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(vendor.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (vendor, base)
    }

    /// Requests received for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn serve(
    State(vendor): State<Arc<Vendor>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let seen = Seen {
        path: uri.path().to_string(),
        query,
        headers,
        base: format!("http://{host}"),
        body: serde_json::from_slice(&body).ok(),
    };
    vendor.seen.lock().unwrap().push(seen.clone());
    (vendor.handler)(&seen)
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// `count` events, `step` apart, from two hours ago (whole seconds): `(id, time)`.
pub fn events(count: usize, step: TimeDelta) -> Vec<(String, DateTime<Utc>)> {
    let start = Utc::now() - TimeDelta::hours(2);
    let start = DateTime::from_timestamp(start.timestamp(), 0).unwrap();
    (0..count)
        .map(|i| (format!("e{i}"), start + step * i as i32))
        .collect()
}

/// The events in `[since, until)` (either bound may be absent).
pub fn between(
    events: &[(String, DateTime<Utc>)],
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Vec<(String, DateTime<Utc>)> {
    events
        .iter()
        .filter(|(_, t)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t < u))
        .cloned()
        .collect()
}

/// One record as these APIs write it.
pub fn record(id: &str, time: DateTime<Utc>) -> Value {
    json!({ "id": id, "time": sluice::timefmt::rfc3339_millis(time), "actor": "someone" })
}
