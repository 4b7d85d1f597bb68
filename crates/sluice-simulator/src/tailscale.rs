//! Tailscale profile: the tailnet logs `GET /api/v2/tailnet/{tailnet}/logging/configuration`
//! and `GET /api/v2/tailnet/{tailnet}/logging/network`, and the OAuth token endpoint
//! `POST /api/v2/oauth/token` of OAuth clients (trust credentials).
//!
//! Built from Tailscale's API reference (the OpenAPI description served at
//! `https://api.tailscale.com/api/v2?outputOpenapiSchema=true`, operations
//! `listConfigurationAuditLogs` and `listNetworkFlowLogs`, its overview's "Authentication",
//! "Errors" and "Pagination" sections) and the knowledge-base pages on configuration audit
//! logging (kb/1203), network flow logs (kb/1219) and OAuth clients (kb/1215):
//!
//! * `start` and `end` are required query parameters in RFC 3339. `{tailnet}` is the tailnet
//!   ID, or `-` for the credential's own tailnet.
//! * "The Tailscale API does not currently support pagination. All results are returned at
//!   once": one answer holds the whole window, `{"version", "tailnet", "logs": [...]}` for
//!   configuration audit logs and `{"logs": [...]}` for network flow logs, entries "ordered
//!   chronologically".
//! * Configuration records: `eventTime` (RFC 3339, microseconds), `type` `"CONFIG"`,
//!   `deferredAt`, `eventGroupID`, `origin`, `actor` {`id`, `type`, `loginName`,
//!   `displayName`}, `target` {`id`, `name`, `type`, `property`}, `action`, and `old`/`new`
//!   when a property changed. Network records: `logged`, `nodeId`, `start`, `end` and
//!   `virtualTraffic` / `subnetTraffic` / `exitTraffic` / `physicalTraffic` arrays of
//!   {`proto`, `src`, `dst`, `txPkts`, `txBytes`, `rxPkts`, `rxBytes`}. No record has a
//!   unique id.
//! * Credentials: an API access token as `Authorization: Bearer <token>` or as the user name
//!   of HTTP Basic with an empty password; or a Bearer access token from the OAuth token
//!   endpoint (client-credentials grant; the token lives an hour).
//! * Errors are `{"message": "..."}`: `400` for missing or invalid parameters, `403` without
//!   access, `404` "not found", `429` "too many requests", `5xx` with a message.
//!
//! # Assumptions and simplifications (where the reference is silent, or on purpose)
//!
//! * Which time `start`/`end` filter on, and which ends are inclusive, is not documented: the
//!   profile filters on `eventTime` / `logged` with `start` inclusive and `end` exclusive (the
//!   stricter reading for a client that would rely on an inclusive `end`).
//! * `end` before `start`, an unparseable time, a missing bound and the filters `actor`,
//!   `target` and `event` (not simulated) are refused with `400`, so a client relying on one
//!   notices. Times are served with microseconds, as Tailscale writes them; the timeline's
//!   times are whole milliseconds, so the last three digits are `000`.
//! * One dataset is dealt across the two logs: event `i` belongs to [`Stream::of`]`(i)`. Every
//!   record differs in content (Sluice keys them on it).
//! * A wrong credential gets `401` with `{"message": "API token invalid"}`; the reference
//!   documents the shape of errors, not this wording. A tailnet other than `-` or [`TAILNET_ID`]
//!   gets `404` `{"message": "tailnet not found"}` (counted as a bad request).
//! * The token endpoint takes `client_id` and `client_secret` as form fields (as Tailscale's
//!   example does) or as HTTP Basic; a wrong client gets `401` `{"error": "invalid_client"}`
//!   (RFC 6749's form; Tailscale's wording is not documented). Scopes are not checked: every
//!   token may read both logs. The token endpoint is never faulted.
//! * Retention (90 and 30 days) is not modelled, nor is a plan without flow logs. The 429
//!   carries no header (none is documented).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3};
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// The simulated tailnet's ID (`-` names it too).
pub const TAILNET_ID: &str = "TSim1234CNTRL";
/// The tailnet's name, as the configuration log's answer gives it.
pub const TAILNET_NAME: &str = "example.com";
/// The OAuth client's ID (its secret is the simulator's `token`, as is the API access token).
pub const CLIENT_ID: &str = "kSimOAuth11CNTRL";
/// Lifetime of an OAuth access token.
pub const TOKEN_SECONDS: i64 = 3600;
/// Path of the OAuth token endpoint.
pub const TOKEN_PATH: &str = "/api/v2/oauth/token";
/// The answers hold every matching entry; this is only what the shared configuration's page
/// sizes are set to.
pub const NO_PAGING: usize = usize::MAX;

/// One of the two logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Configuration audit logs, `GET .../logging/configuration`.
    Configuration,
    /// Network flow logs, `GET .../logging/network`.
    Network,
}

impl Stream {
    /// Both.
    pub const ALL: [Stream; 2] = [Stream::Configuration, Stream::Network];

    /// The log event `index` belongs to: every third event is a configuration change, the
    /// rest are flow logs.
    pub fn of(index: u64) -> Stream {
        if index.is_multiple_of(3) {
            Stream::Configuration
        } else {
            Stream::Network
        }
    }

    /// The last segment of the endpoint's path (and the preset's stream name).
    pub const fn name(self) -> &'static str {
        match self {
            Stream::Configuration => "configuration",
            Stream::Network => "network",
        }
    }

    /// The endpoint's path for tailnet `-`.
    pub fn path(self) -> String {
        format!("/api/v2/tailnet/-/logging/{}", self.name())
    }
}

/// The ids (Sluice's content ids) of every record `stream` serves, oldest first.
pub fn stream_ids(config: &SimulatorConfig, stream: Stream) -> Vec<String> {
    (0..config.events)
        .filter(|i| Stream::of(*i) == stream)
        .map(|i| event_id(config, i))
        .collect()
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "Tailscale tailnet {TAILNET_ID} (or \"-\"); API access token {token}, or OAuth client id \
         {CLIENT_ID} with secret {token} at {base_url}{TOKEN_PATH} (api_url = \"{base_url}\")",
        token = config.token
    )
}

/// Routes of the Tailscale profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(TOKEN_PATH, post(token_endpoint)).route(
        "/api/v2/tailnet/{tailnet}/logging/{log}",
        get(
            |state: State<Arc<AppState>>,
             path: Path<(String, String)>,
             headers: HeaderMap,
             query: RawQuery| logs(state, path, headers, query),
        ),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    )];
    (status, headers, body.to_string().into_bytes()).into_response()
}

/// A Tailscale API error: `{"message": ...}`.
fn api_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "message": message }))
}

/// The check value binding an access token to the seed.
fn check(seed: u64, text: &str) -> u32 {
    let mixed = text
        .bytes()
        .fold(0u64, |acc, b| super::rng::mix64(acc ^ u64::from(b)));
    hash3(seed, domain::TOKEN, mixed) as u32
}

/// An OAuth access token (`tskey-api-...`): its serial and expiry, bound to the seed.
fn issue_token(seed: u64, serial: u64, expires: i64) -> String {
    let body = format!("{serial:x}-{expires:x}");
    format!("tskey-api-{body}-{:08x}", check(seed, &body))
}

/// `Some(true)` for a valid issued token, `Some(false)` for an expired one, `None` for
/// anything else.
fn issued_token_state(seed: u64, token: &str, now: i64) -> Option<bool> {
    let rest = token.strip_prefix("tskey-api-")?;
    let (body, sum) = rest.rsplit_once('-')?;
    let (_, expires) = body.split_once('-')?;
    let expires = i64::from_str_radix(expires, 16).ok()?;
    (u32::from_str_radix(sum, 16).ok()? == check(seed, body)).then_some(expires > now)
}

/// Whether the request carries a credential the API accepts: the API access token (Bearer,
/// or Basic user name with an empty password) or an unexpired OAuth access token.
fn authorized(config: &SimulatorConfig, headers: &HeaderMap, now: i64) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        let bearer = bearer.trim();
        return bearer == config.token
            || issued_token_state(config.seed, bearer, now) == Some(true);
    }
    value
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair == format!("{}:", config.token))
}

/// `POST /api/v2/oauth/token`: the client-credentials grant of an OAuth client.
async fn token_endpoint(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let counters = &app.counters;
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    let client = basic.or_else(|| field("client_id").zip(field("client_secret")));
    if client != Some((CLIENT_ID.to_string(), app.config.token.clone())) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "invalid_client", "error_description": "invalid client credentials" }),
        );
    }
    if field("grant_type").as_deref() != Some("client_credentials") {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "unsupported_grant_type" }),
        );
    }
    let serial = counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let now = Utc::now().timestamp();
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": issue_token(app.config.seed, serial, now + TOKEN_SECONDS),
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "scope": "logs:configuration:read logs:network:read",
        }),
    )
}

/// A parsed request: records in `[start_ms, end_ms)`.
#[derive(Debug, PartialEq, Eq)]
struct LogsQuery {
    start_ms: i64,
    end_ms: i64,
}

fn rfc3339(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("invalid {name} time {value:?}: must be RFC 3339"))
}

fn parse_query(raw: Option<&str>) -> Result<LogsQuery, String> {
    let (mut start, mut end) = (None, None);
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "start" => start = Some(rfc3339("start", &value)?),
            "end" => end = Some(rfc3339("end", &value)?),
            "actor" | "target" | "event" => {
                return Err(format!("the simulator does not filter by {key}"))
            }
            _ => {}
        }
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err("start and end are required".to_string());
    };
    if end < start {
        return Err("end must not be before start".to_string());
    }
    Ok(LogsQuery {
        // Whole milliseconds on the timeline: a bound inside a millisecond includes that
        // millisecond's records only when they lie at or after it (they lie on its start).
        start_ms: super::timeline::ceil_millis(&start),
        end_ms: super::timeline::ceil_millis(&end),
    })
}

/// `GET /api/v2/tailnet/{tailnet}/logging/{configuration|network}`.
async fn logs(
    State(app): State<Arc<AppState>>,
    Path((tailnet, log)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let stream = match log.as_str() {
        "configuration" => Stream::Configuration,
        "network" => Stream::Network,
        _ => return api_error(StatusCode::NOT_FOUND, "not found"),
    };
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return api_error(StatusCode::TOO_MANY_REQUESTS, "too many requests")
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(status, "internal server error");
        }
    };
    let counters = &app.counters;
    if !authorized(&app.config, &headers, Utc::now().timestamp()) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return api_error(StatusCode::UNAUTHORIZED, "API token invalid");
    }
    if tailnet != "-" && tailnet != TAILNET_ID {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return api_error(StatusCode::NOT_FOUND, "tailnet not found");
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return api_error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let timeline = &app.timeline;
    let lo = timeline.first_at_or_after(query.start_ms);
    let hi = timeline.first_at_or_after(query.end_ms).max(lo);
    // Everything visible in the window, in one answer, oldest first.
    let listing = Listing::new(timeline, lo..hi, Direction::Ascending);
    let page = listing.page(listing.first_position(), NO_PAGING, |i| {
        Stream::of(i) == stream
    });
    let records: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(app.config.seed, timeline, *i))
        .collect();
    let body = match stream {
        Stream::Configuration => json!({
            "version": "1.1",
            "tailnet": TAILNET_NAME,
            "logs": records,
        }),
        Stream::Network => json!({ "logs": records }),
    };
    let bytes = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    let headers = [(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    )];
    (StatusCode::OK, headers, bytes).into_response()
}

#[cfg(test)]
mod tests;
