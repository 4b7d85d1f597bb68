//! A Google look-alike: the OAuth token endpoint (JWT bearer grant; the assertion's RS256
//! signature is verified with the service account's public key, and its claims checked), the
//! metadata server's token endpoint, and Secret Manager's `:access`, which accepts only
//! tokens this server issued.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::keys;

pub const CLIENT_EMAIL: &str = "sluice-reader@test-project.iam.gserviceaccount.com";
pub const PROJECT: &str = "test-project";

#[derive(Default)]
pub struct State {
    /// The server's own base URL: the key's `token_uri` is `<base>/token`.
    pub base: Mutex<String>,
    /// Secret version name → payload.
    pub secrets: Mutex<HashMap<String, String>>,
    /// Names the service account may not read.
    pub denied: Mutex<Vec<String>>,
    /// Access tokens issued and not expired.
    pub issued: Mutex<HashSet<String>>,
    pub tokens_granted: AtomicUsize,
    pub assertions_refused: AtomicUsize,
    pub metadata_tokens: AtomicUsize,
    /// `:access` calls with a valid token, by name.
    pub accesses: Mutex<HashMap<String, usize>>,
    /// `:access` calls being answered now, and the most there ever were at once.
    pub in_flight: AtomicUsize,
    pub most_in_flight: AtomicUsize,
    /// When set, each `:access` call is held until this many are in flight (or, so that a
    /// client asking one at a time is not stuck for good, until a few seconds have passed).
    pub hold_until: AtomicUsize,
}

/// An `:access` call in flight; leaving drops it from the count.
struct InFlight<'a>(&'a State);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl State {
    async fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let wanted = self.hold_until.load(Ordering::SeqCst);
        for _ in 0..100 {
            if self.in_flight.load(Ordering::SeqCst) >= wanted {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        InFlight(self)
    }
}

impl State {
    pub fn accesses_of(&self, name: &str) -> usize {
        self.accesses
            .lock()
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    fn issue(&self) -> String {
        let token = format!("ya29.test-{:016x}", rand::random::<u64>());
        self.issued.lock().unwrap().insert(token.clone());
        token
    }
}

/// A service account JSON key for this server, signed with `private_key`.
pub fn key_file(base: &str, private_key: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": private_key,
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": format!("{base}/token"),
    })
    .to_string()
}

pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let _in_flight = match uri.path().ends_with(":access") {
                    true => Some(state.enter().await),
                    false => None,
                };
                handle(&state, method, uri, headers, body)
            }
        },
    )
}

fn google_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({ "error": { "code": status.as_u16(), "message": message, "status": kind } })
            .to_string(),
    )
        .into_response()
}

fn token_answer(token: &str) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        serde_json::json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" })
            .to_string(),
    )
        .into_response()
}

fn handle(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path();
    if method == Method::POST && path == "/token" {
        return grant(state, &body);
    }
    if method == Method::GET
        && path == "/computeMetadata/v1/instance/service-accounts/default/token"
    {
        if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
            return (
                StatusCode::FORBIDDEN,
                "Missing Metadata-Flavor:Google header",
            )
                .into_response();
        }
        state.metadata_tokens.fetch_add(1, Ordering::SeqCst);
        return token_answer(&state.issue());
    }
    if method == Method::GET && path.starts_with("/v1/") && path.ends_with(":access") {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !state.issued.lock().unwrap().contains(bearer) {
            return google_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
            );
        }
        let name = &path["/v1/".len()..path.len() - ":access".len()];
        *state
            .accesses
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default() += 1;
        if state.denied.lock().unwrap().iter().any(|d| d == name) {
            return google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!("Permission 'secretmanager.versions.access' denied for resource '{name}' (or it may not exist)."),
            );
        }
        return match state.secrets.lock().unwrap().get(name) {
            Some(value) => (
                StatusCode::OK,
                [("content-type", "application/json")],
                serde_json::json!({
                    "name": name,
                    "payload": {
                        "data": base64::engine::general_purpose::STANDARD.encode(value),
                        "dataCrc32c": "0",
                    },
                })
                .to_string(),
            )
                .into_response(),
            None => google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!("Secret Version [{name}] not found."),
            ),
        };
    }
    google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

/// The JWT bearer grant: the assertion must be signed by the service account's key, issued
/// by its email, addressed to this token URI, ask for the cloud-platform scope and be valid.
fn grant(state: &State, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let refuse = |why: &str| {
        state.assertions_refused.fetch_add(1, Ordering::SeqCst);
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            serde_json::json!({ "error": "invalid_grant", "error_description": why }).to_string(),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse("unsupported grant type");
    }
    let Some(assertion) = form.get("assertion") else {
        return refuse("no assertion");
    };
    let audience = format!("{}/token", state.base.lock().unwrap());
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let key = DecodingKey::from_rsa_pem(keys::PUBLIC_KEY.as_bytes()).unwrap();
    let claims = match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(_) => return refuse("Invalid JWT Signature."),
    };
    let scopes = claims["scope"].as_str().unwrap_or("");
    if !scopes
        .split(' ')
        .any(|s| s == "https://www.googleapis.com/auth/cloud-platform")
    {
        return refuse("the cloud-platform scope was not requested");
    }
    state.tokens_granted.fetch_add(1, Ordering::SeqCst);
    token_answer(&state.issue())
}
