//! Authentication of the generic profile: static credentials checked on every events
//! request, and an OAuth 2.0 client-credentials token endpoint (`POST /oauth/token`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;

use super::{json_error, json_ok, SimAuth};
use crate::rng::{domain, hash3};
use crate::AppState;

/// Access tokens issued by the token endpoint, with their expiry. Expired tokens are
/// forgotten whenever a new one is issued, so the map holds at most the tokens issued
/// within one lifetime.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: Mutex<HashMap<String, Instant>>,
    sequence: AtomicU64,
}

impl TokenStore {
    fn issue(&self, seed: u64, lifetime: Duration) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let token = format!(
            "sim-at-{:016x}{:016x}",
            hash3(seed, domain::TOKEN, n),
            hash3(seed, domain::TOKEN, !n)
        );
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + lifetime);
        token
    }

    fn is_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }
}

/// Whether an events request carries the credential the profile expects. `query` holds
/// the request's decoded query pairs (for `ApiKeyQuery`).
pub(super) fn is_authorized(
    auth: &SimAuth,
    tokens: &TokenStore,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> bool {
    let authorization = || headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok());
    match auth {
        SimAuth::None => true,
        SimAuth::Bearer(expected) => bearer(authorization()).is_some_and(|t| t == expected),
        SimAuth::ApiKeyHeader { header, key } => headers
            .get(header.as_str())
            .and_then(|h| h.to_str().ok())
            .is_some_and(|v| v == key),
        SimAuth::ApiKeyQuery { param, key, .. } => {
            // A repeated parameter must not smuggle a second value past the check.
            let mut values = query.iter().filter(|(k, _)| k == param);
            matches!((values.next(), values.next()), (Some((_, v)), None) if v == key)
        }
        SimAuth::Basic { user, password } => {
            basic(authorization()).is_some_and(|(u, p)| u == *user && p == *password)
        }
        SimAuth::OAuth2 { .. } => bearer(authorization()).is_some_and(|t| tokens.is_valid(t)),
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// User and password of `Authorization: Basic base64(user:password)`.
fn basic(header: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = header?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// RFC 6749 section 2.3.1: the client id and secret are form-encoded before they go into
/// HTTP Basic. Clients that skip the encoding are accepted too.
fn form_decoded(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `POST /oauth/token`: the client-credentials grant.
///
/// The client authenticates with HTTP Basic (`client_secret_basic`) or with `client_id`
/// and `client_secret` form fields (`client_secret_post`); `scope` is optional and echoed.
/// Not faulted and not counted in `requests`; every issued token counts in
/// `tokens_issued`.
pub(super) async fn token_endpoint(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let SimAuth::OAuth2 {
        client_id,
        client_secret,
        token_lifetime,
    } = &app.config.generic.auth
    else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this API does not use OAuth 2.0",
        );
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let from_basic = basic(headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok())).is_some_and(
        |(id, secret)| {
            (id == *client_id || form_decoded(&id) == *client_id)
                && (secret == *client_secret || form_decoded(&secret) == *client_secret)
        },
    );
    let from_form = form.get("client_id") == Some(client_id)
        && form.get("client_secret") == Some(client_secret);
    if !from_basic && !from_form {
        let mut response = json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sim\""),
        );
        return response;
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
    }
    let token = app.generic.tokens.issue(app.config.seed, *token_lifetime);
    app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    // Whole seconds, rounded down (at least 1), so clients refresh on the early side.
    let expires_in = token_lifetime.as_secs().max(1);
    let mut answer = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let Some(scope) = form.get("scope") {
        answer["scope"] = serde_json::Value::String(scope.clone());
    }
    json_ok(HeaderMap::new(), answer.to_string().into_bytes())
}
