//! Kandji (Iru Endpoint Management) audit log profile: `GET /api/v1/audit/events`.
//!
//! Built from Kandji's API reference (api-docs.kandji.io: the Postman collection Kandji
//! publishes, its overview and "Audit Log > List audit events" with its example answer) and
//! the support article "Kandji API" (support.kandji.io/api), checked 2026-12-08:
//!
//! * `limit`: "A max upper limit is set at 500 records returned per request"; `sort_by`:
//!   `occurred_at` or `id`, "ascending (default behavior) or descending (-)"; `start_date` and
//!   `end_date`: "datetime or year-month-day (2024-11-26) formats"; `cursor`: "pass the next
//!   cursor as a parameter or use the URL in the next key".
//! * An answer is `{"results": [...], "previous": null, "next": "<absolute URL>"}`: `next`
//!   is the request's URL on the tenant's API host with a `cursor`.
//! * Events: `id` (a ULID), `action`, `occurred_at` (RFC 3339 with microseconds, UTC),
//!   `actor_id`, `actor_type`, `target_id`, `target_type`, `target_component`, `new_state`,
//!   `metadata`.
//! * `Authorization: Bearer <API token>`. The response codes table: 400 Bad Request,
//!   401 Unauthorized ("the token is incorrect, was revoked, or the token has expired"),
//!   403 Forbidden, 500, 503. Rate limit: 10,000 requests per hour per customer.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * `start_date` and `end_date` are both inclusive; a date alone is that day's midnight
//!   (UTC). `sort_by=id` orders as `occurred_at` (ids here are not time-ordered ULIDs, see
//!   [`events`]); without `limit`, pages of 500.
//! * The cursor is opaque: the position, the range and the order with a check value; an
//!   edited cursor, or one sent with another range or order, is refused with 400
//!   (`{"detail": "Invalid cursor"}`). `previous` is always null. The last page's `next` is
//!   null.
//! * Errors are `{"detail": "..."}` (assumed: the reference shows no error body). The 429
//!   (the reference documents the limit, not its answer) carries `Retry-After: 1`. Unknown
//!   query parameters are refused with 400, so a client relying on a filter notices.
//!   Retention is not modelled.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::AppState;
use crate::sealed::{self, Alphabet};

pub(crate) use events::{event, event_id};

/// The route of the audit events listing.
pub const PATH: &str = "/api/v1/audit/events";
/// The documented maximum of `limit` (also the page size without one).
pub const MAX_LIMIT: usize = 500;

/// Routes of the Kandji profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(list))
}

/// An error as `{"detail": ...}`.
fn error(status: StatusCode, detail: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, json!({ "detail": detail }).to_string()).into_response()
}

/// A parsed listing: events whose timeline index lies in `lo..hi`, in `direction`.
struct Query {
    lo: u64,
    hi: u64,
    direction: Direction,
    limit: usize,
    cursor: Option<String>,
}

/// A `start_date` or `end_date`: an RFC 3339 time, or a date (its midnight, UTC).
fn parse_date(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
        .ok_or_else(|| format!("{name}: enter a valid date/time"))
}

fn parse_query(app: &AppState, raw: Option<&str>) -> Result<Query, String> {
    let mut start = None;
    let mut end = None;
    let mut limit = MAX_LIMIT;
    let mut direction = Direction::Ascending;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "start_date" => start = Some(parse_date("start_date", &value)?),
            "end_date" => end = Some(parse_date("end_date", &value)?),
            "limit" => {
                // A larger limit is held to the maximum.
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| "limit: a positive integer is required".to_string())?
                    .min(MAX_LIMIT);
            }
            "sort_by" => {
                direction = match value.as_ref() {
                    "occurred_at" | "id" => Direction::Ascending,
                    "-occurred_at" | "-id" => Direction::Descending,
                    other => return Err(format!("sort_by: invalid value {other:?}")),
                }
            }
            "cursor" => cursor = Some(value.into_owned()),
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    let timeline = &app.timeline;
    // Both inclusive.
    let lo = start.map_or(0, |t| {
        timeline.first_at_or_after(super::timeline::ceil_millis(&t))
    });
    let hi = end.map_or(timeline.len(), |t| {
        timeline.first_at_or_after(t.timestamp_millis().saturating_add(1))
    });
    Ok(Query {
        lo,
        hi: hi.max(lo),
        direction,
        limit: limit.min(app.config.max_page_size.max(1)),
        cursor,
    })
}

fn encode_cursor(seed: u64, at: u64, lo: u64, hi: u64, ascending: bool) -> String {
    sealed::seal(seed, Alphabet::UrlSafe, &[at, lo, hi, u64::from(ascending)])
}

/// The position a cursor holds, if it is one of ours for this range and order.
fn decode_cursor(seed: u64, cursor: &str, lo: u64, hi: u64, ascending: bool) -> Option<u64> {
    let [at, given_lo, given_hi, order] = sealed::open(seed, Alphabet::UrlSafe, cursor)?;
    ((given_lo, given_hi, order) == (lo, hi, u64::from(ascending))).then_some(at)
}

/// The request's URL on `base` with `cursor` replaced.
fn next_url(base: &str, raw: Option<&str>, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{base}{PATH}?{}", query.finish())
}

/// `GET /api/v1/audit/events`.
async fn list(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Request was throttled. Expected available in 1 second.",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(1u32));
            return response;
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "A server error occurred.");
        }
    };
    let counters = &app.counters;
    let authorized = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token == app.config.token
        });
    if !authorized {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "Invalid token.");
    }
    let refuse = |detail: String| {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        error(StatusCode::BAD_REQUEST, &detail)
    };
    let query = match parse_query(&app, raw_query.as_deref()) {
        Ok(query) => query,
        Err(detail) => return refuse(detail),
    };
    let seed = app.config.seed;
    let ascending = query.direction == Direction::Ascending;
    let listing = Listing::new(&app.timeline, query.lo..query.hi, query.direction);
    let at = match &query.cursor {
        None => listing.first_position(),
        Some(cursor) => match decode_cursor(seed, cursor, query.lo, query.hi, ascending) {
            Some(at) => at,
            None => return refuse("Invalid cursor".to_string()),
        },
    };
    let page = listing.page(at, query.limit, |_| true);
    let results: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, &app.timeline, *i))
        .collect();
    let next = page.next.map(|next| {
        let cursor = encode_cursor(seed, next, query.lo, query.hi, ascending);
        next_url(
            &super::request_base(&headers, &app),
            raw_query.as_deref(),
            &cursor,
        )
    });
    let body = json!({ "results": results, "previous": null, "next": next });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests;
