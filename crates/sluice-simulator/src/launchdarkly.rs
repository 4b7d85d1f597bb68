//! LaunchDarkly audit log profile (REST API): `GET /api/v2/auditlog`.
//!
//! Built from LaunchDarkly's REST API reference ("List audit log entries",
//! launchdarkly.com/docs/api/audit-log/get-audit-log-entries, and the reference's Overview:
//! Authentication, Links and addressability, Errors, Rate limiting), checked 2026-12-08:
//!
//! * `before` and `after`: "A timestamp filter, expressed as a Unix epoch time in
//!   milliseconds. All entries this returns occurred before [after] the timestamp": both
//!   exclusive here. `limit`: "Set between 1 and 20. The default is 10." `q` (full text) and
//!   `spec` (a resource specifier) filter further.
//! * An answer is `{"items": [...], "_links": {...}}`; "Paginated collections include
//!   `first`, `last`, `next`, and `prev` links", each `{"href", "type"}`, the href a path on
//!   the API host.
//! * Entries: `_id`, `_accountId`, `date` (Unix milliseconds), `accesses` [{action,
//!   resource}], `kind`, `name`, `description`, `shortDescription`, `comment`, `member` or
//!   `token` (who made the change), `titleVerb`, `title`, `target`, `_links`.
//! * "The value of the `Authorization` header must be your access token": no scheme word.
//! * Errors are `{"code", "message", "id"}`: 400 invalid request, 401 invalid access token,
//!   429 too many requests. A route-level limit answers with `X-Ratelimit-Route-Remaining`
//!   and `X-Ratelimit-Reset`, "the time at which the current rate limit window resets in
//!   epoch milliseconds".
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * Entries are listed newest first (the Change history page's order; the reference does
//!   not say).
//! * Only `self` and `next` links are given; the last page has no `next`. The next link
//!   repeats the request's query with an opaque `cursor` holding the position, the range and a
//!   check value; an edited cursor, or one sent with another range, is refused with 400.
//! * `q` and `spec` are refused with 400 (the simulator does not filter), so a client relying
//!   on one notices; so is a `limit` outside 1..=20 and any other unknown parameter.
//! * A 429 carries `X-Ratelimit-Route-Remaining: 0` and a reset one second ahead; no
//!   `Retry-After` (that is for IP-based limits). Retention is not modelled.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::mix64;
use super::AppState;
use crate::sealed::{self, Alphabet};

pub(crate) use events::{event, event_id};

/// The route of the audit log listing.
pub const PATH: &str = "/api/v2/auditlog";
/// The documented default of `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// The documented maximum of `limit`.
pub const MAX_LIMIT: usize = 20;

/// Routes of the LaunchDarkly profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(list))
}

/// An error in LaunchDarkly's words: `{"code", "message", "id"}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let id = uuid::Uuid::from_u128(u128::from(mix64(status.as_u16().into())) << 64).to_string();
    let body = json!({ "code": code, "message": message, "id": id });
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body.to_string()).into_response()
}

/// The answer to a spent route-level limit: remaining 0, the reset in epoch milliseconds.
fn rate_limited() -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "You have made too many requests to this route. Try again later.",
    );
    let reset = chrono::Utc::now().timestamp_millis() + 1_000;
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-route-remaining", HeaderValue::from(0u32));
    if let Ok(value) = HeaderValue::from_str(&reset.to_string()) {
        headers.insert("x-ratelimit-reset", value);
    }
    response
}

/// A parsed listing: entries whose timeline index lies in `lo..hi`, newest first.
struct Query {
    lo: u64,
    hi: u64,
    limit: usize,
    cursor: Option<String>,
}

fn millis(name: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("{name} must be a Unix epoch time in milliseconds"))
}

fn parse_query(app: &AppState, raw: Option<&str>) -> Result<Query, String> {
    let mut before = None;
    let mut after = None;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "before" => before = Some(millis("before", &value)?),
            "after" => after = Some(millis("after", &value)?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit must be between 1 and {MAX_LIMIT}"))?;
            }
            "cursor" => cursor = Some(value.into_owned()),
            "q" | "spec" => return Err(format!("the simulator does not filter by {key}")),
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    let timeline = &app.timeline;
    // Both exclusive: after `after`, before `before`.
    let lo = after.map_or(0, |ms| timeline.first_at_or_after(ms.saturating_add(1)));
    let hi = before.map_or(timeline.len(), |ms| timeline.first_at_or_after(ms));
    Ok(Query {
        lo,
        hi: hi.max(lo),
        limit: limit.min(app.config.max_page_size.max(1)),
        cursor,
    })
}

fn encode_cursor(seed: u64, at: u64, lo: u64, hi: u64) -> String {
    sealed::seal(seed, Alphabet::UrlSafe, &[at, lo, hi])
}

/// The position a cursor holds, if it is one of ours for the range `lo..hi`.
fn decode_cursor(seed: u64, cursor: &str, lo: u64, hi: u64) -> Option<u64> {
    let [at, given_lo, given_hi] = sealed::open(seed, Alphabet::UrlSafe, cursor)?;
    ((given_lo, given_hi) == (lo, hi)).then_some(at)
}

/// The request's path and query with `cursor` set to `cursor` (or left out).
fn link(raw: Option<&str>, cursor: Option<&str>) -> Value {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    let query = query.finish();
    let href = if query.is_empty() {
        PATH.to_string()
    } else {
        format!("{PATH}?{query}")
    };
    json!({ "href": href, "type": "application/json" })
}

/// `GET /api/v2/auditlog`.
async fn list(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                status,
                "internal_server_error",
                "An internal error occurred",
            );
        }
    };
    let counters = &app.counters;
    // The whole header is the token.
    let token = headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok());
    if token != Some(app.config.token.as_str()) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid access token",
        );
    }
    let refuse = |message: String| {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        error(StatusCode::BAD_REQUEST, "invalid_request", &message)
    };
    let query = match parse_query(&app, raw_query.as_deref()) {
        Ok(query) => query,
        Err(message) => return refuse(message),
    };
    let seed = app.config.seed;
    let listing = Listing::new(&app.timeline, query.lo..query.hi, Direction::Descending);
    let at = match &query.cursor {
        None => listing.first_position(),
        Some(cursor) => match decode_cursor(seed, cursor, query.lo, query.hi) {
            Some(at) => at,
            None => return refuse("invalid cursor".to_string()),
        },
    };
    let page = listing.page(at, query.limit, |_| true);
    let items: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, &app.timeline, *i))
        .collect();
    let mut links = json!({ "self": link(raw_query.as_deref(), query.cursor.as_deref()) });
    if let Some(next) = page.next {
        let cursor = encode_cursor(seed, next, query.lo, query.hi);
        links["next"] = link(raw_query.as_deref(), Some(&cursor));
    }
    let body = json!({ "items": items, "_links": links });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests;
