//! A token endpoint plus an API that accepts only the tokens it issued, for the token kinds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use reqwest::StatusCode;

use super::serve;

/// Decides whether a token request is acceptable: `Err((status, json body))` refuses it.
pub(super) type TokenCheck =
    dyn Fn(&HeaderMap, &[(String, String)]) -> Result<(), (StatusCode, String)> + Send + Sync;

/// The identity provider and the API it guards. Counters let tests see what happened.
pub(super) struct Idp {
    check: Box<TokenCheck>,
    expires_in: u64,
    /// Token requests received, accepted or not.
    pub token_requests: AtomicUsize,
    /// API requests received.
    pub api_requests: AtomicUsize,
    /// API requests answered 401.
    pub api_rejections: AtomicUsize,
    /// The one token the API accepts, and when it expires.
    current: Mutex<Option<(String, Instant)>>,
    reject_all: AtomicBool,
}

impl Idp {
    /// Starts the server; the token endpoint is `{base}/token`, the API `{base}/api`.
    pub(super) async fn start(
        expires_in: u64,
        check: impl Fn(&HeaderMap, &[(String, String)]) -> Result<(), (StatusCode, String)>
            + Send
            + Sync
            + 'static,
    ) -> (Arc<Idp>, String) {
        let idp = Arc::new(Idp {
            check: Box::new(check),
            expires_in,
            token_requests: AtomicUsize::new(0),
            api_requests: AtomicUsize::new(0),
            api_rejections: AtomicUsize::new(0),
            current: Mutex::new(None),
            reject_all: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/token", post(token))
            .route("/api", get(api))
            .with_state(idp.clone());
        (idp, serve(router).await)
    }

    /// Revokes the current token server-side, as an admin or a key rotation would.
    pub(super) fn revoke(&self) {
        *self.current.lock().unwrap() = None;
    }

    /// From now on the API refuses every token.
    pub(super) fn reject_everything(&self) {
        self.reject_all.store(true, Ordering::SeqCst);
    }

    pub(super) fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub(super) fn api_rejections(&self) -> usize {
        self.api_rejections.load(Ordering::SeqCst)
    }
}

async fn token(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let n = idp.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    // Slow enough that concurrent requests overlap with the fetch.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/x-www-form-urlencoded" {
        return (StatusCode::BAD_REQUEST, format!("{{\"error\":\"invalid_request\",\"error_description\":\"content-type {content_type}\"}}"));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if let Err(refusal) = (idp.check)(&headers, &form) {
        return refusal;
    }
    let access_token = format!("at-{n}");
    *idp.current.lock().unwrap() = Some((
        access_token.clone(),
        Instant::now() + Duration::from_secs(idp.expires_in),
    ));
    let body = serde_json::json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": idp.expires_in,
    });
    (StatusCode::OK, body.to_string())
}

async fn api(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> (StatusCode, &'static str) {
    idp.api_requests.fetch_add(1, Ordering::SeqCst);
    let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
    let accepted = !idp.reject_all.load(Ordering::SeqCst)
        && match &*idp.current.lock().unwrap() {
            Some((token, expires)) => {
                Instant::now() < *expires && sent == Some(format!("Bearer {token}").as_str())
            }
            None => false,
        };
    if accepted {
        (StatusCode::OK, "{}")
    } else {
        idp.api_rejections.fetch_add(1, Ordering::SeqCst);
        (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_token\"}")
    }
}

/// The value of form field `name`, when it occurs exactly once.
pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// A refusal the way OAuth servers word it.
pub(super) fn refuse(status: StatusCode, error: &str, description: &str) -> (StatusCode, String) {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (status, body.to_string())
}
