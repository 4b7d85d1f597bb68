//! A proxy in front of the simulator, for tests whose API must change its behaviour in the
//! middle of a run: it forwards each request to the simulator (so the lake can still be
//! checked against the simulator's own events), notes every exchange with the time it
//! arrived and was answered, and lets the test decide per request, through a script, whether
//! to forward it, forward it with other headers (a spent rate limit), or answer instead of
//! the simulator (an outage).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Forward it and pass the simulator's answer on unchanged.
    Forward,
    /// Forward it and set these headers on the simulator's answer (replacing the simulator's).
    ForwardWithHeaders(Vec<(String, String)>),
    /// Answer with this status, headers and body; the simulator never sees the request.
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// Decides the action for the `n`-th request (0-based) since the script was set.
type Script = dyn Fn(usize) -> Action + Send + Sync;

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// When the request arrived.
    pub arrived: DateTime<Utc>,
    /// When its answer was ready to send.
    #[allow(dead_code)] // shown in failure messages (`{:?}`)
    pub answered: DateTime<Utc>,
    /// Path and query.
    #[allow(dead_code)] // shown in failure messages (`{:?}`)
    pub uri: String,
    /// The status answered.
    pub status: u16,
    /// The body answered.
    pub body: Vec<u8>,
}

impl Exchange {
    /// The value at `key` of each record of a 200 answer whose body is a JSON array (the
    /// Okta profile's `uuid`): the events this answer served. Empty for any other answer.
    pub fn served_ids(&self, key: &str) -> Vec<String> {
        if self.status != 200 {
            return Vec::new();
        }
        let Ok(serde_json::Value::Array(records)) = serde_json::from_slice(&self.body) else {
            return Vec::new();
        };
        records
            .iter()
            .filter_map(|r| r[key].as_str().map(str::to_string))
            .collect()
    }
}

struct Inner {
    upstream: String,
    base: String,
    client: reqwest::Client,
    /// The script and the number of requests it has seen.
    script: Mutex<(Arc<Script>, usize)>,
    log: Mutex<Vec<Exchange>>,
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to use as a source's `base_url`.
    pub base_url: String,
    inner: Arc<Inner>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (the simulator's base URL) that forwards everything.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("loopback port");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let forward: Arc<Script> = Arc::new(|_| Action::Forward);
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_string(),
            base: base.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            script: Mutex::new((forward, 0)),
            log: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy {
            base_url: base,
            inner,
        }
    }

    /// Replaces the script; its request numbers start again at 0.
    pub fn script(&self, script: impl Fn(usize) -> Action + Send + Sync + 'static) {
        *self.inner.script.lock().unwrap() = (Arc::new(script), 0);
    }

    /// Every exchange so far, in arrival order.
    pub fn log(&self) -> Vec<Exchange> {
        self.inner.log.lock().unwrap().clone()
    }
}

async fn answer(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let arrived = Utc::now();
    let uri = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.to_string());
    let authorization = request.headers().get("authorization").cloned();
    drop(request);
    let action = {
        let mut script = inner.script.lock().unwrap();
        let n = script.1;
        script.1 += 1;
        (script.0)(n)
    };
    let (status, headers, body) = match action {
        Action::Answer {
            status,
            headers,
            body,
        } => (status, headers, body.into_bytes()),
        Action::Forward => forward(&inner, authorization, &uri, Vec::new()).await,
        Action::ForwardWithHeaders(extra) => forward(&inner, authorization, &uri, extra).await,
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).expect("a valid status"))
        .body(Body::from(body.clone()))
        .expect("a valid response");
    for (name, value) in headers {
        response.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(&value).expect("a valid header value"),
        );
    }
    inner.log.lock().unwrap().push(Exchange {
        arrived,
        answered: Utc::now(),
        uri,
        status,
        body,
    });
    response
}

/// Sends the request on to the simulator with its `Authorization` header, and returns the
/// answer with links pointing back at the proxy and `extra` headers set over the
/// simulator's.
async fn forward(
    inner: &Inner,
    authorization: Option<HeaderValue>,
    uri: &str,
    extra: Vec<(String, String)>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut upstream = inner.client.get(format!("{}{uri}", inner.upstream));
    if let Some(auth) = authorization {
        upstream = upstream.header("authorization", auth);
    }
    let reply = upstream.send().await.expect("the simulator answers");
    let status = reply.status().as_u16();
    let mut headers: Vec<(String, String)> = reply
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        })
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?.replace(&inner.upstream, &inner.base);
            Some((name.as_str().to_string(), value))
        })
        .collect();
    for (name, value) in extra {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        headers.push((name, value));
    }
    let body = reply.bytes().await.expect("the simulator's body").to_vec();
    (status, headers, body)
}
