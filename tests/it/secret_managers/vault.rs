//! A Vault look-alike serving KV version 2 reads: `GET /v1/<mount>/data/<path>`, only with
//! the right `X-Vault-Token` and `X-Vault-Namespace`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// TEST-ONLY Vault token.
pub const TOKEN: &str = "hvs.test-token-sluice-0123456789";
pub const NAMESPACE: &str = "admin/sluice";
pub const MOUNT: &str = "kv";

#[derive(Default)]
pub struct State {
    /// Path inside the mount → the secret's keys.
    pub secrets: Mutex<HashMap<String, serde_json::Value>>,
    /// Reads that passed the token and namespace checks, by path.
    pub reads: Mutex<HashMap<String, usize>>,
}

impl State {
    pub fn reads_of(&self, path: &str) -> usize {
        self.reads.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let state = state.clone();
        async move { handle(&state, method, uri, headers) }
    })
}

fn errors(status: StatusCode, list: &[&str]) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({ "errors": list }).to_string(),
    )
        .into_response()
}

fn handle(state: &State, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Vault answers a wrong token, and a token used outside its namespace, with 403.
    if header("x-vault-token") != Some(TOKEN) || header("x-vault-namespace") != Some(NAMESPACE) {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    }
    let prefix = format!("/v1/{MOUNT}/data/");
    let Some(path) = uri.path().strip_prefix(&prefix) else {
        return errors(
            StatusCode::NOT_FOUND,
            &[&format!("no handler for route \"{}\"", uri.path())],
        );
    };
    if method != Method::GET {
        return errors(StatusCode::METHOD_NOT_ALLOWED, &["unsupported operation"]);
    }
    *state
        .reads
        .lock()
        .unwrap()
        .entry(path.to_string())
        .or_default() += 1;
    match state.secrets.lock().unwrap().get(path) {
        Some(data) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            serde_json::json!({
                "request_id": "r-1",
                "lease_duration": 0,
                "renewable": false,
                "data": {
                    "data": data,
                    "metadata": { "created_time": "2026-01-01T00:00:00Z", "version": 1, "destroyed": false },
                },
            })
            .to_string(),
        )
            .into_response(),
        None => errors(StatusCode::NOT_FOUND, &[]),
    }
}
