//! A server that answers recorded vendor pages in order, whatever is asked, and records each
//! request: for reading `../shared/testdata/grove-fixtures` pages through a preset.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::Mutex;

/// One page: its body and, optionally, a `Link` header value (`{base}` is replaced by the
/// server's base URL).
pub type Page = (String, Option<String>);

struct Inner {
    pages: Vec<Page>,
    base: String,
    /// `(path and query, Authorization header, body)` of each request, in order.
    seen: Mutex<Vec<(String, String, String)>>,
}

/// A running fixture server.
pub struct FixtureServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    inner: Arc<Inner>,
}

impl FixtureServer {
    /// Path and query of every request so far.
    pub async fn requests(&self) -> Vec<String> {
        self.inner
            .seen
            .lock()
            .await
            .iter()
            .map(|(u, _, _)| u.clone())
            .collect()
    }

    /// The `Authorization` header of every request so far.
    pub async fn authorizations(&self) -> Vec<String> {
        self.inner
            .seen
            .lock()
            .await
            .iter()
            .map(|(_, a, _)| a.clone())
            .collect()
    }

    /// The body of every request so far, as text (empty for none).
    pub async fn bodies(&self) -> Vec<String> {
        self.inner
            .seen
            .lock()
            .await
            .iter()
            .map(|(_, _, b)| b.clone())
            .collect()
    }
}

/// Serves `pages` in order, the last one again for any later request.
pub async fn serve(pages: Vec<Page>) -> FixtureServer {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("loopback port");
    let base = format!("http://{}", listener.local_addr().expect("bound address"));
    let inner = Arc::new(Inner {
        pages,
        base: base.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(inner.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FixtureServer {
        base_url: base,
        inner,
    }
}

async fn answer(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.to_string());
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let index = {
        let mut seen = inner.seen.lock().await;
        seen.push((uri, auth, body));
        (seen.len() - 1).min(inner.pages.len().saturating_sub(1))
    };
    let Some((body, link)) = inner.pages.get(index) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("static response");
    };
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .expect("static response");
    if let Some(link) = link {
        if let Ok(value) = HeaderValue::from_str(&link.replace("{base}", &inner.base)) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("link"), value);
        }
    }
    response
}
