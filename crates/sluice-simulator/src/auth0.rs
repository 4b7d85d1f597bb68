//! Auth0 profile: the tenant logs by checkpoint, `GET /api/v2/logs?from=<log_id>&take=<n>`,
//! and the token endpoint `POST /oauth/token` for a machine-to-machine application.
//!
//! Built from Auth0's "Retrieve Log Events Using the Management API", the Management API
//! reference of `GET /api/v2/logs`, "Log Event Type Codes", "Management API Endpoint Rate
//! Limits" and "Get Management API Access Tokens for Production" (auth0.com/docs):
//!
//! * By checkpoint, `from` is a log id and `take` how many logs to return (at most 100);
//!   the answer is a JSON array of the logs *newer* than `from`, ordered by `log_id` (which
//!   follows when Auth0 recorded them, not their `date`: "to prevent skipping past records
//!   due to Auth0 system delays"). Any other parameter is ignored.
//! * Each answer carries a `Link` header whose `next` relation is the request to make next
//!   (here `from` = the last log id served, same `take`). An empty result is `[]` with a
//!   `next` relation equal to the URL just requested.
//! * Requests carry `Authorization: Bearer <Management API access token>`; without a valid
//!   one: `401 {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}`.
//!   Errors are `{"statusCode", "error", "message", "errorCode"}`.
//! * Rate limits: every answer has `x-ratelimit-limit`, `x-ratelimit-remaining` and
//!   `x-ratelimit-reset` (Unix seconds); over the limit, `429` with `remaining` 0 and
//!   `errorCode` `too_many_requests`.
//! * Tokens: `POST /oauth/token` with `grant_type=client_credentials`, `client_id`,
//!   `client_secret` and `audience=https://<tenant domain>/api/v2/`, as a form or as JSON;
//!   the answer is `{"access_token", "scope", "expires_in", "token_type": "Bearer"}`. A
//!   wrong client is `401 {"error": "access_denied", "error_description": "Unauthorized"}`;
//!   an audience other than the tenant's Management API is `403 {"error":
//!   "access_denied", ...}`.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * A request without `from` starts before the oldest log (Auth0's docs start a checkpoint
//!   export from a known log id; its export extensions take an optional `START_FROM`). Search
//!   requests (`q`, `page`, `per_page`, `sort`) are not simulated: their parameters are
//!   ignored like any other.
//! * `from` must be 56 digits, the shape of Auth0's ids (see [`events`]); anything else is a
//!   `400`. Any such id orders among the tenant's, whether it was issued or not. `take`
//!   outside 1..=100 is a `400`; without `take` a page holds 50.
//! * Retention (which depends on the subscription) is not simulated: every log is kept.
//! * The audience checked is `https://<TENANT_DOMAIN>/api/v2/`
//!   ([`events::TENANT_DOMAIN`]), whatever address the simulator listens on, as Auth0 checks
//!   it against the tenant's own domain. Tokens carry their expiry and a check bound to the
//!   seed (no server state); the token endpoint is never faulted.
//! * Late events (see [`super::LateEvents`]) get ids after the logs already visible, as
//!   Auth0's ordering promises, so a listing by checkpoint never skips one.

pub mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::late::now_ns;
use super::rng::{domain, hash3};
use super::timeline::Timeline;
use super::{request_base, AppState, SimulatorConfig};
use events::{Key, TENANT_DOMAIN};

pub(crate) use events::{event, event_id};

/// Path of the logs endpoint.
pub const LOGS_PATH: &str = "/api/v2/logs";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The machine-to-machine application's client id (its secret is the simulator's `token`).
pub const CLIENT_ID: &str = "SimAuth0M2MClient000000000000001";
/// Logs per page without `take`.
pub const DEFAULT_TAKE: usize = 50;
/// Documented maximum of `take`.
pub const MAX_TAKE: usize = 100;
/// Lifetime of an access token (Auth0's default for the Management API is a day).
pub const TOKEN_SECONDS: i64 = 86_400;
/// Requests per window advertised in `x-ratelimit-limit`.
const RATE_LIMIT: u64 = 50;
/// A `from` that orders before every log: where a checkpoint export of everything starts.
pub const BEFORE_EVERY_LOG: &str = "00000000000000000000000000000000000000000000000000000000";

/// The Management API audience of the simulated tenant.
pub fn audience() -> String {
    format!("https://{TENANT_DOMAIN}/api/v2/")
}

/// Routes of the Auth0 profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(LOGS_PATH, get(logs))
        .route(TOKEN_PATH, post(token))
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "Auth0 tenant {TENANT_DOMAIN}: client id {CLIENT_ID}, client secret {}; token endpoint \
         {base_url}{TOKEN_PATH} (audience {}) and logs at {base_url}{LOGS_PATH} (domain = \
         \"{TENANT_DOMAIN}\", api_url = \"{base_url}\")",
        config.token,
        audience()
    )
}

fn rate_headers(headers: &mut HeaderMap, remaining: u64) {
    let reset = Utc::now().timestamp() + 1;
    for (name, value) in [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body).into_response()
}

/// A Management API error: `{"statusCode", "error", "message", "errorCode"}`.
fn api_error(status: StatusCode, message: &str, code: &str) -> Response {
    let mut headers = HeaderMap::new();
    let remaining = if status == StatusCode::TOO_MANY_REQUESTS {
        0
    } else {
        RATE_LIMIT - 1
    };
    rate_headers(&mut headers, remaining);
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "errorCode": code,
    });
    json_response(status, headers, body.to_string().into_bytes())
}

fn bad_request(app: &AppState, message: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    api_error(StatusCode::BAD_REQUEST, message, "invalid_query_string")
}

/// An access token: its expiry (Unix seconds) and a check value bound to the seed.
fn issue_token(seed: u64, expires: i64) -> String {
    let check = hash3(seed, domain::TOKEN, expires as u64);
    format!("sim0.{expires:x}.{check:016x}")
}

fn token_is_valid(seed: u64, token: &str, now: i64) -> bool {
    let mut parts = token.split('.');
    let (Some("sim0"), Some(expires), Some(check), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(expires), Ok(check)) = (
        i64::from_str_radix(expires, 16),
        u64::from_str_radix(check, 16),
    ) else {
        return false;
    };
    check == hash3(seed, domain::TOKEN, expires as u64) && expires > now
}

/// A parsed checkpoint request.
struct LogsQuery {
    /// The key after which logs are served, and the `from` as sent.
    from: Option<(Key, String)>,
    take: usize,
    /// `take` as sent, repeated in the next link.
    take_sent: Option<String>,
}

fn parse_query(raw: Option<&str>) -> Result<LogsQuery, String> {
    let mut query = LogsQuery {
        from: None,
        take: DEFAULT_TAKE,
        take_sent: None,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" if query.from.is_none() => {
                let parsed = events::parse_log_id(&value).ok_or_else(|| {
                    format!("Query validation error: 'Invalid log id' on property from (Log Event Id from which to start selection from). Got {value:?}")
                })?;
                query.from = Some((parsed, value.into_owned()));
            }
            "take" if query.take_sent.is_none() => {
                query.take = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_TAKE).contains(n))
                    .ok_or_else(|| {
                        format!("Query validation error: 'Expected take to be an integer from 1 to {MAX_TAKE}'. Got {value:?}")
                    })?;
                query.take_sent = Some(value.into_owned());
            }
            _ => {}
        }
    }
    Ok(query)
}

/// The first `take` visible logs after `after` in `log_id` order, as seen at `now`.
///
/// A log's key is when it became visible, then its index; an index's earliest visibility is
/// its time plus the publication delay, and a late one is at most `max_late_ns` after that.
/// So the scan starts at the first index that can lie after `after`, and stops once an index
/// can no longer beat the `take` best found (or is not visible yet).
fn page_after(timeline: &Timeline, after: Option<Key>, take: usize, now: i128) -> Vec<u64> {
    let late = i128::from(timeline.max_late_ns());
    let lo = match after {
        None => 0,
        Some((visible, _)) => {
            // The publication delay is the same for every log.
            let publication =
                timeline.earliest_visible_ns(0) - i128::from(timeline.published_ms(0)) * 1_000_000;
            let earliest_ns = visible - late - publication;
            let ms = i64::try_from(earliest_ns.div_euclid(1_000_000)).unwrap_or(i64::MIN);
            timeline.first_at_or_after(ms)
        }
    };
    let mut found: Vec<Key> = Vec::new();
    let mut bound: Option<i128> = None;
    for index in lo..timeline.len() {
        let earliest = timeline.earliest_visible_ns(index);
        if earliest > now || bound.is_some_and(|b| earliest > b) {
            break;
        }
        let key = events::key(timeline, index);
        if key.0 > now || after.is_some_and(|a| key <= a) {
            continue;
        }
        found.push(key);
        if found.len() >= take.saturating_mul(2).max(take + 1) {
            found.sort_unstable();
            found.truncate(take);
            bound = found.last().map(|k| k.0);
        }
    }
    found.sort_unstable();
    found.truncate(take);
    found.into_iter().map(|(_, index)| index).collect()
}

/// `GET /api/v2/logs` by checkpoint.
async fn logs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Global limit has been reached",
                "too_many_requests",
            )
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(status, "Internal Server Error", "internal_error");
        }
    };
    let seed = app.config.seed;
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !bearer.is_some_and(|t| token_is_valid(seed, t, Utc::now().timestamp())) {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return api_error(StatusCode::UNAUTHORIZED, "Invalid token", "invalid_token");
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return bad_request(&app, &message),
    };
    let timeline = &app.timeline;
    let take = query.take.min(app.config.max_page_size.max(1));
    let indices = page_after(
        timeline,
        query.from.as_ref().map(|(k, _)| *k),
        take,
        now_ns(),
    );
    let logs: Vec<Value> = indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    // The next request: from the last log served, or (nothing new) the same request again.
    let base = request_base(&headers, &app);
    let from = match indices.last() {
        Some(last) => Some(events::log_id(events::key(timeline, *last))),
        None => query.from.as_ref().map(|(_, sent)| sent.clone()),
    };
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    if let Some(from) = &from {
        next.append_pair("from", from);
    }
    if let Some(take) = &query.take_sent {
        next.append_pair("take", take);
    }
    let next = next.finish();
    let link = if next.is_empty() {
        format!("<{base}{LOGS_PATH}>; rel=\"next\"")
    } else {
        format!("<{base}{LOGS_PATH}?{next}>; rel=\"next\"")
    };
    let mut response_headers = HeaderMap::new();
    rate_headers(&mut response_headers, RATE_LIMIT - 1);
    if let Ok(value) = HeaderValue::from_str(&link) {
        response_headers.insert(LINK, value);
    }
    let body = Value::Array(logs).to_string().into_bytes();
    let body = deliver(&app, fault, body, &indices);
    json_response(StatusCode::OK, response_headers, body)
}

fn oauth_error(app: &AppState, status: StatusCode, error: &str, description: &str) -> Response {
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    let body = json!({ "error": error, "error_description": description });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

/// `POST /oauth/token`: the Client Credentials grant, as a form or as JSON. Not faulted (as
/// the other profiles' token endpoints): the faults exercise the listing.
async fn token(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let json_body = headers
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with("application/json"));
    let fields: Vec<(String, String)> = if json_body {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
            Ok(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            Err(_) => Vec::new(),
        }
    } else {
        url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            &app,
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        );
    }
    if field("client_id") != Some(CLIENT_ID)
        || field("client_secret") != Some(app.config.token.as_str())
    {
        return oauth_error(
            &app,
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Unauthorized",
        );
    }
    if field("audience") != Some(audience().as_str()) {
        return oauth_error(
            &app,
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!(
                "Service not found: {}",
                field("audience").unwrap_or_default()
            ),
        );
    }
    app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let expires = Utc::now().timestamp() + TOKEN_SECONDS;
    let body = json!({
        "access_token": issue_token(app.config.seed, expires),
        "scope": "read:logs read:logs_users",
        "expires_in": TOKEN_SECONDS,
        "token_type": "Bearer",
    });
    json_response(
        StatusCode::OK,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests;
