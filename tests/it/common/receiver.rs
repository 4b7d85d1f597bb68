//! A local alert receiver: answers every POST with 200 (403 under `/refuse`) and records its
//! path, headers and body, standing in for Slack, PagerDuty and webhook endpoints.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use tokio::sync::Mutex;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its path.
    pub path: String,
    /// Its headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("alert bodies are JSON")
    }
}

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// The requests to `path` so far, in order.
    pub async fn at(&self, path: &str) -> Vec<Received> {
        self.seen
            .lock()
            .await
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// Starts a receiver on an ephemeral loopback port.
pub async fn start() -> Receiver {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("loopback port");
    let base_url = format!("http://{}", listener.local_addr().expect("bound address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .fallback(record)
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base_url, seen }
}

async fn record(State(seen): State<Arc<Mutex<Vec<Received>>>>, request: Request) -> StatusCode {
    let path = request.uri().path().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let refuse = path.starts_with("/refuse");
    seen.lock().await.push(Received {
        path,
        headers,
        body,
    });
    if refuse {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    }
}
