//! Box profile: the enterprise event stream `GET /2.0/events?stream_type=admin_logs` (the
//! Enterprise Event History) and the OAuth token endpoint `POST /oauth2/token` for Client
//! Credentials Grant apps.
//!
//! Built from Box's API reference ("List user and enterprise events" and the `Events`,
//! `Event` and `ClientError` resources) and its guides "Get enterprise events", "Stream
//! types", "Stream position pagination", "Client Credentials Grant", "Rate limits", "Types
//! and formats" and "Common errors" (developer.box.com):
//!
//! * `GET /2.0/events` with `stream_type=admin_logs`: the enterprise's events of the last
//!   year, oldest first, without duplicates. `created_after` and `created_before` (RFC 3339)
//!   bound them, `limit` is 100 by default and at most 500, `stream_position` is where to go
//!   on from (`0` or absent: the start; `now`: an empty answer with the latest position).
//! * An answer is `{"chunk_size": N, "next_stream_position": "...", "entries": [...]}`. The
//!   position is always there; a page may hold fewer than `limit` events although more
//!   remain ("the events less than the limit requested can be returned"); the listing ends
//!   with a page without entries.
//! * Events have `event_id` and `created_at` (whole seconds, the enterprise's offset); see
//!   [`events`].
//! * The API wants `Authorization: Bearer <access token>`; without a valid one it answers
//!   `401` with an empty body and `WWW-Authenticate: Bearer realm="Service",
//!   error="invalid_token", ...`. Other errors are `ClientError` objects: `{"type": "error",
//!   "status", "code", "help_url", "message", "request_id"}`. Over the rate limit: `429`,
//!   code `rate_limit_exceeded`, with `retry-after` (seconds).
//! * Tokens: `POST /oauth2/token`, form fields `client_id`, `client_secret`,
//!   `grant_type=client_credentials`, `box_subject_type=enterprise` and
//!   `box_subject_id=<enterprise id>`; the answer is `{"access_token", "expires_in",
//!   "restricted_to": [], "token_type": "bearer"}`. A wrong client gets `400
//!   {"error": "invalid_client", ...}`, a wrong subject `400 {"error": "invalid_grant",
//!   "error_description": "Grant credentials are invalid"}`.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * Which bounds are inclusive is not documented: `created_after` is taken as inclusive and
//!   `created_before` as exclusive, both compared with the served (whole-second) times.
//! * Only `stream_type=admin_logs` is served: the other stream types (the service account's
//!   own user events, `admin_logs_streaming`) and the `event_type` filter are refused with
//!   `400 bad_request`, so a client relying on them notices. So are a `limit` outside 1..=500
//!   (Box's maximum; whether Box clamps instead is not documented), a time that is not RFC
//!   3339, `created_after` not before `created_before`, and a `stream_position` this listing
//!   did not hand out (edited, or from another range). Positions never expire.
//! * Which pages come short is decided by the position (a quarter of them hold half the
//!   limit), so a resumed listing sees the same pages.
//! * The client id and secret are read from the form body only, as the guide sends them; an
//!   HTTP Basic client is `invalid_client`. The token endpoint is never faulted, and issued
//!   tokens carry their expiry and a check value bound to the seed (no server state).
//! * `retry-after` is one second (Box's example says 100) so tests stay quick; 5xx answers are
//!   `ClientError` objects too. No publication delay is documented, so none is simulated
//!   (late events still are, see [`super::LateEvents`]).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::Timeline;
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};
pub use events::{format_time, OFFSET_SECONDS};

/// Path of the events API.
pub const EVENTS_PATH: &str = "/2.0/events";
/// Path of the OAuth token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The simulated enterprise's id (the `box_subject_id` of the token request).
pub const ENTERPRISE_ID: &str = "987654321";
/// The Client Credentials Grant app's client id (its secret is the simulator's `token`).
pub const CLIENT_ID: &str = "simboxclient0000000000000000000001";
/// `limit` when the request has none.
pub const DEFAULT_LIMIT: usize = 100;
/// Documented maximum of `limit`.
pub const MAX_LIMIT: usize = 500;
/// Lifetime of an access token (Box's last about an hour).
pub const TOKEN_SECONDS: i64 = 3600;
/// How long the enterprise stream keeps events.
pub const RETENTION_DAYS: i64 = 365;
/// Bits of a stream position that hold the timeline index; the ones above hold a check.
const INDEX_BITS: u32 = 40;

/// Routes of the Box profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(EVENTS_PATH, get(list_events))
        .route(TOKEN_PATH, post(token))
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "Box enterprise id {ENTERPRISE_ID}, client id {CLIENT_ID}, client secret {}; token \
         endpoint {base_url}{TOKEN_PATH} and events at {base_url}{EVENTS_PATH} (api_url = \
         \"{base_url}\")",
        config.token
    )
}

fn json_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut headers = headers;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// A `ClientError` object.
fn client_error(app: &AppState, status: StatusCode, code: &str, message: &str) -> Response {
    let n = app.error_seq.fetch_add(1, Ordering::Relaxed);
    let body = json!({
        "type": "error",
        "status": status.as_u16(),
        "code": code,
        "help_url": "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
        "message": message,
        "request_id": format!("{:012x}", hash3(app.config.seed, domain::ERROR_ID, n) >> 16),
    });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn bad_request(app: &AppState, message: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    client_error(app, StatusCode::BAD_REQUEST, "bad_request", message)
}

fn rate_limited(app: &AppState) -> Response {
    let mut response = client_error(
        app,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Request rate limit exceeded, please try again later",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn server_error(app: &AppState, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
        ("unavailable", "Unavailable")
    } else {
        ("internal_server_error", "Internal Server Error")
    };
    client_error(app, status, code, message)
}

/// `401`: an empty body and the reason in `WWW-Authenticate`.
fn unauthorized(app: &AppState) -> Response {
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"",
        ),
    );
    (StatusCode::UNAUTHORIZED, headers).into_response()
}

/// An access token: its expiry (Unix seconds) and a check value bound to the seed.
fn issue_token(seed: u64, expires: i64) -> String {
    let check = hash3(seed, domain::TOKEN, expires as u64) as u32;
    format!("{expires:x}T{check:08x}")
}

/// Whether `token` is one this profile issued and has not expired.
fn token_is_valid(seed: u64, token: &str, now: i64) -> bool {
    let Some((expires, check)) = token.split_once('T') else {
        return false;
    };
    let (Ok(expires), Ok(check)) = (
        i64::from_str_radix(expires, 16),
        u32::from_str_radix(check, 16),
    ) else {
        return false;
    };
    check == hash3(seed, domain::TOKEN, expires as u64) as u32 && expires > now
}

/// The check value of stream position `index` in the listing of `[lo, hi)`.
fn position_check(seed: u64, lo: u64, hi: u64, index: u64) -> u64 {
    hash3(seed, domain::CURSOR, mix64(lo ^ mix64(hi ^ mix64(index)))) & 0xf_ffff
}

/// A stream position: decimal digits, as Box writes them, binding the index to its range.
fn encode_position(seed: u64, lo: u64, hi: u64, index: u64) -> String {
    ((position_check(seed, lo, hi, index) << INDEX_BITS) | index).to_string()
}

fn decode_position(seed: u64, lo: u64, hi: u64, text: &str) -> Option<u64> {
    let value: u64 = text.parse().ok()?;
    let index = value & ((1 << INDEX_BITS) - 1);
    let valid =
        value >> INDEX_BITS == position_check(seed, lo, hi, index) && (lo..=hi).contains(&index);
    valid.then_some(index)
}

/// Milliseconds of the first whole second at or after `t`: served times are whole
/// seconds, so a bound with a fraction admits from the next second on.
fn ceil_second_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    ms.div_euclid(1000) * 1000 + if ms.rem_euclid(1000) == 0 { 0 } else { 1000 }
}

/// A parsed events request: the range `[lo, hi)` of timeline indices, the page size and
/// where to go on from.
#[derive(Debug, PartialEq, Eq)]
struct EventsQuery {
    lo: u64,
    hi: u64,
    limit: usize,
    position: Position,
}

#[derive(Debug, PartialEq, Eq)]
enum Position {
    Start,
    Now,
    At(String),
}

fn parse_query(
    timeline: &Timeline,
    now: DateTime<Utc>,
    raw: Option<&str>,
) -> Result<EventsQuery, String> {
    let (mut stream_type, mut after, mut before, mut limit, mut position) =
        (None, None, None, DEFAULT_LIMIT, Position::Start);
    let time = |name: &str, value: &str| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.to_utc())
            .map_err(|_| {
                format!("Invalid value '{value}' for '{name}': expected an RFC 3339 date-time")
            })
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "stream_type" => stream_type = Some(value.into_owned()),
            "created_after" => after = Some(time("created_after", &value)?),
            "created_before" => before = Some(time("created_before", &value)?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("Invalid value '{value}' for 'limit' (1 to 500)"))?;
            }
            "stream_position" => {
                position = match value.as_ref() {
                    "" | "0" => Position::Start,
                    "now" => Position::Now,
                    other => Position::At(other.to_string()),
                }
            }
            "event_type" => return Err("event_type filters are not simulated".into()),
            _ => {}
        }
    }
    match stream_type.as_deref() {
        Some("admin_logs") => {}
        other => {
            return Err(format!(
                "stream_type {other:?} is not simulated (only admin_logs is)"
            ))
        }
    }
    if let (Some(after), Some(before)) = (after, before) {
        if after >= before {
            return Err("created_after must be before created_before".into());
        }
    }
    let kept = now - chrono::TimeDelta::days(RETENTION_DAYS);
    let from = after.map_or(kept, |after| after.max(kept));
    let lo = timeline.first_at_or_after(ceil_second_ms(from));
    let hi = before
        .map_or(timeline.len(), |before| {
            timeline.first_at_or_after(ceil_second_ms(before))
        })
        .max(lo);
    Ok(EventsQuery {
        lo,
        hi,
        limit,
        position,
    })
}

/// `GET /2.0/events`.
async fn list_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(&app),
        Err(Refusal::ServerError(status)) => return server_error(&app, status),
    };
    let seed = app.config.seed;
    let now = Utc::now();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !bearer.is_some_and(|t| token_is_valid(seed, t, now.timestamp())) {
        return unauthorized(&app);
    }
    let timeline = &app.timeline;
    let query = match parse_query(timeline, now, raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return bad_request(&app, &message),
    };
    let (lo, hi) = (query.lo, query.hi);
    let start = match &query.position {
        Position::Start => lo,
        Position::Now => hi,
        Position::At(text) => match decode_position(seed, lo, hi, text) {
            Some(index) => index,
            None => return bad_request(&app, &format!("Invalid stream_position '{text}'")),
        },
    };
    // A quarter of the pages come short, decided by where they start.
    let mut limit = query.limit.min(app.config.max_page_size.max(1));
    if hash3(seed, domain::CURSOR, start).is_multiple_of(4) {
        limit = limit.div_ceil(2);
    }
    let listing = Listing::new(timeline, lo..hi, Direction::Ascending);
    let page = listing.page(start, limit, |_| true);
    // With nothing more visible the position stays after the last event served, so the
    // next request gets the empty page that ends the listing.
    let next = page
        .next
        .unwrap_or_else(|| page.indices.last().map_or(start, |last| last + 1));
    let entries: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    let body = json!({
        "chunk_size": entries.len(),
        "next_stream_position": encode_position(seed, lo, hi, next),
        "entries": entries,
    });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

/// An OAuth refusal: `400 {"error": ..., "error_description": ...}`.
fn oauth_error(app: &AppState, error: &str, description: &str) -> Response {
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    let body = json!({ "error": error, "error_description": description });
    json_response(
        StatusCode::BAD_REQUEST,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

/// `POST /oauth2/token`: the Client Credentials Grant for the enterprise's Service Account.
/// Not faulted (as the other profiles' token endpoints): the faults exercise the listing.
async fn token(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            &app,
            "unsupported_grant_type",
            "Grant type is not supported",
        );
    }
    let basic = headers
        .get(AUTHORIZATION)
        .is_some_and(|h| h.as_bytes().starts_with(b"Basic "));
    if basic
        || field("client_id") != Some(CLIENT_ID)
        || field("client_secret") != Some(app.config.token.as_str())
    {
        return oauth_error(&app, "invalid_client", "The client credentials are invalid");
    }
    if field("box_subject_type") != Some("enterprise")
        || field("box_subject_id") != Some(ENTERPRISE_ID)
    {
        return oauth_error(&app, "invalid_grant", "Grant credentials are invalid");
    }
    app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let expires = Utc::now().timestamp() + TOKEN_SECONDS;
    let body = json!({
        "access_token": issue_token(app.config.seed, expires),
        "expires_in": TOKEN_SECONDS,
        "restricted_to": [],
        "token_type": "bearer",
    });
    json_response(
        StatusCode::OK,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests;
