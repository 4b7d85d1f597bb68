//! Slack Audit Logs API profile: `GET /audit/v1/logs`.
//!
//! Built from Slack's "Audit Logs API methods & actions" reference and "Using the Audit Logs
//! API" guide:
//!
//! * Query parameters: `oldest` and `latest` (Unix seconds, both inclusive), `limit` (at most
//!   9999), `cursor` (from `response_metadata.next_cursor` of the previous page), and the
//!   filters `action`, `actor` and `entity`.
//! * Entries come most recent first, in `entries`; `response_metadata.next_cursor` is empty
//!   on the last page.
//! * Entries carry a UUID `id` and `date_create` in Unix seconds, so many share a second.
//! * Authentication: `Authorization: Bearer xoxp-...`, a user token of an organization owner
//!   with `auditlogs:read`; a missing token gets `401 {"ok":false,"error":"not_authed"}`, a
//!   wrong one `401 {"ok":false,"error":"invalid_auth"}`.
//! * Rate limits: Tier 3 (about 50 calls a minute for the whole organization); over it, `429`
//!   with `Retry-After` in seconds.
//!
//! # Differences from the real API (deliberate simplifications)
//!
//! * The filters `action`, `actor` and `entity` are refused with `400 invalid_arguments`, so
//!   a client relying on one notices.
//! * The data does not move with the clock: every generated entry is served at once.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3};
use super::AppState;

pub(crate) use events::{event, event_id};

/// Path of the logs endpoint.
pub const LOGS_PATH: &str = "/audit/v1/logs";
/// Page size without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Documented maximum of `limit`.
pub const MAX_LIMIT: usize = 9_999;

/// Routes of the Slack profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(LOGS_PATH, get(logs))
}

/// A parsed request.
struct LogsQuery {
    /// Entries whose time lies in `[from_ms, to_ms)`.
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    limit: usize,
    cursor: Option<String>,
}

/// A refusal, as Slack writes them: `{"ok":false,"error":"<code>"}`.
struct SlackError {
    status: StatusCode,
    code: &'static str,
}

const INVALID_ARGUMENTS: SlackError = SlackError {
    status: StatusCode::BAD_REQUEST,
    code: "invalid_arguments",
};

fn seconds(value: &str) -> Result<i64, SlackError> {
    value.parse::<i64>().map_err(|_| INVALID_ARGUMENTS)
}

fn parse_query(raw: Option<&str>, default: usize, max: usize) -> Result<LogsQuery, SlackError> {
    let mut query = LogsQuery {
        from_ms: None,
        to_ms: None,
        limit: default,
        cursor: None,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "oldest" => query.from_ms = Some(seconds(&value)?.saturating_mul(1000)),
            // Inclusive: the whole `latest` second.
            "latest" => query.to_ms = Some(seconds(&value)?.saturating_add(1).saturating_mul(1000)),
            "limit" => {
                let limit = value.parse::<usize>().map_err(|_| INVALID_ARGUMENTS)?;
                if limit == 0 || limit > MAX_LIMIT {
                    return Err(INVALID_ARGUMENTS);
                }
                query.limit = limit.min(max);
            }
            "cursor" if !value.is_empty() => query.cursor = Some(value.into_owned()),
            "action" | "actor" | "entity" => return Err(INVALID_ARGUMENTS),
            _ => {}
        }
    }
    Ok(query)
}

/// The opaque cursor for "go on below index `position`", bound to the seed by a check value
/// so a forged or edited cursor is refused.
fn encode_cursor(seed: u64, position: u64) -> String {
    let text = format!(
        "next:{position:x}:{:08x}",
        hash3(seed, domain::CURSOR, position) as u32
    );
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn decode_cursor(seed: u64, cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.strip_prefix("next:")?.split(':');
    let position = u64::from_str_radix(parts.next()?, 16).ok()?;
    let check = u32::from_str_radix(parts.next()?, 16).ok()?;
    (check == hash3(seed, domain::CURSOR, position) as u32).then_some(position)
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body).into_response()
}

fn error_response(error: SlackError) -> Response {
    let body = serde_json::json!({ "ok": false, "error": error.code });
    json_response(
        error.status,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

fn rate_limited() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    let body = serde_json::json!({ "ok": false, "error": "ratelimited" });
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        headers,
        body.to_string().into_bytes(),
    )
}

fn server_error_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "ok": false, "error": "fatal_error" });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

/// `None` when the token is right, else the refusal.
fn refuse_auth(headers: &HeaderMap, token: &str) -> Option<SlackError> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match given {
        None => Some(SlackError {
            status: StatusCode::UNAUTHORIZED,
            code: "not_authed",
        }),
        Some(given) if given != token => Some(SlackError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_auth",
        }),
        Some(_) => None,
    }
}

/// `GET /audit/v1/logs`.
async fn logs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => return server_error_response(status),
    };
    let counters = &app.counters;
    if let Some(refusal) = refuse_auth(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_response(refusal);
    }
    let config = &app.config;
    let seed = config.seed;
    let query = match parse_query(
        raw_query.as_deref(),
        config.default_page_size,
        config.max_page_size,
    ) {
        Ok(query) => query,
        Err(error) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error_response(error);
        }
    };
    // Most recent first: a listing walks down from the query's end.
    let timeline = &app.timeline;
    let lo = query.from_ms.map_or(0, |ms| timeline.first_at_or_after(ms));
    let hi = query
        .to_ms
        .map_or(timeline.len(), |ms| timeline.first_at_or_after(ms))
        .max(lo);
    let listing = Listing::new(timeline, lo..hi, Direction::Descending);
    let top = match &query.cursor {
        Some(cursor) => match decode_cursor(seed, cursor) {
            Some(position) => position,
            None => {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                return error_response(SlackError {
                    status: StatusCode::BAD_REQUEST,
                    code: "invalid_cursor",
                });
            }
        },
        None => listing.first_position(),
    };
    let page = listing.page(top, query.limit, |_| true);
    let next = page
        .next
        .map_or_else(String::new, |bottom| encode_cursor(seed, bottom));
    let mut body = events::render_page(seed, timeline, page.indices.iter().copied(), &next);
    body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

#[cfg(test)]
mod tests;
