//! PagerDuty Audit Records API profile: `GET /audit/records`.
//!
//! Built from PagerDuty's REST API reference (the OpenAPI description published in
//! github.com/PagerDuty/api-schema, `reference/REST/openapiv3.json`, operation
//! `listAuditRecords`), its "REST API Rate Limits" support page and its "Audit Trail
//! Reporting" support page:
//!
//! * Query parameters: `since` and `until` (ISO 8601 date-times; `since` defaults to
//!   `now() - 24 hours`, `until` to `now()`, and `until` may not be more than 31 days after
//!   `since`), `limit` ("the minimum of the `limit` parameter used in the request or the
//!   maximum request size of the API"), `cursor` (the `next_cursor` of the previous answer;
//!   without one the listing starts at the beginning), and filters (`root_resource_types[]`,
//!   `actor_type`, `actor_id`, `method_type`, `method_truncated_token`, `actions[]`).
//! * Records come sorted by `execution_time` from newest to oldest, in `records`; the answer
//!   also carries `limit` (the size applied), `next_cursor` (`null` when there are no more
//!   results) and `response_metadata` (nullable).
//! * Each record has a string `id` and `execution_time` (ISO 8601, millisecond precision).
//! * Headers: `Authorization: Token token=<API key>`; `Accept:
//!   application/vnd.pagerduty+json;version=2` (the versioning header, marked required).
//! * Errors are `{"error": {"message", "code", "errors": [...]}}`: 400 for invalid arguments,
//!   401 for missing or wrong credentials, 429 over the rate limit, 500 on a server error.
//! * Rate limits: 960 requests a minute per account API key; answers carry
//!   `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds to wait).
//!
//! # Differences from the real API (deliberate simplifications)
//!
//! * The reference does not say which ends of `since`/`until` are inclusive: the profile
//!   treats `since` as inclusive and `until` as exclusive (the stricter reading for a client:
//!   one that relies on an inclusive `until` loses events here).
//! * The reference gives no number for the "maximum request size": the profile caps `limit`
//!   at [`MAX_LIMIT`] (100, PagerDuty's classic pagination maximum) and echoes the applied
//!   size, and uses [`DEFAULT_LIMIT`] (25, as in the recorded pages) without one.
//! * The cursor is written as PagerDuty's recorded cursors are, `<epoch ms>-<record id>` of
//!   the last record served; one that names no record is refused with 400.
//! * The filters are refused with 400, so a client relying on one notices.
//! * The error `code` numbers (2001 invalid input, 2006 authentication, 2020 rate limit,
//!   2000 internal error) follow PagerDuty's error-code list as commonly seen; the reference
//!   schema only says `code` is an integer.
//! * The 12-month retention is not modelled: every generated record is available.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::timeline::Timeline;
use super::AppState;

pub(crate) use events::{event, event_id};

/// Path of the audit records endpoint.
pub const RECORDS_PATH: &str = "/audit/records";
/// Page size without `limit`.
pub const DEFAULT_LIMIT: usize = 25;
/// The largest page the profile serves; a larger `limit` is cut to it.
pub const MAX_LIMIT: usize = 100;
/// The versioned media type PagerDuty's REST API v2 asks for in `Accept`.
pub const ACCEPT_V2: &str = "application/vnd.pagerduty+json;version=2";
/// Requests a minute an account API key may make.
pub const RATE_LIMIT_PER_MINUTE: u32 = 960;
/// The longest `since`..`until` range.
const MAX_RANGE: TimeDelta = TimeDelta::days(31);

/// Routes of the PagerDuty profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(RECORDS_PATH, get(records))
}

/// A refusal, as PagerDuty writes them: `{"error":{"message","code","errors"}}`.
#[derive(Debug)]
struct PdError {
    status: StatusCode,
    message: &'static str,
    code: u32,
    errors: Vec<String>,
}

fn invalid_input(detail: impl Into<String>) -> PdError {
    PdError {
        status: StatusCode::BAD_REQUEST,
        message: "Invalid Input Provided",
        code: 2001,
        errors: vec![detail.into()],
    }
}

/// A parsed request.
struct RecordsQuery {
    /// Records whose time lies in `[since_ms, until_ms)`.
    since_ms: i64,
    until_ms: i64,
    limit: usize,
    cursor: Option<String>,
}

fn date_time(name: &str, value: &str) -> Result<DateTime<Utc>, PdError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid_input(format!("{name} is not a valid ISO 8601 date-time")))
}

fn parse_query(raw: Option<&str>, now: DateTime<Utc>) -> Result<RecordsQuery, PdError> {
    let mut since = None;
    let mut until = None;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "since" => since = Some(date_time("since", &value)?),
            "until" => until = Some(date_time("until", &value)?),
            "limit" => {
                let asked = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid_input("limit must be a positive integer"))?;
                limit = asked.min(MAX_LIMIT);
            }
            "cursor" if !value.is_empty() => cursor = Some(value.into_owned()),
            "root_resource_types[]"
            | "actor_type"
            | "actor_id"
            | "method_type"
            | "method_truncated_token"
            | "actions[]" => {
                return Err(invalid_input(format!(
                    "the simulator does not filter by {key}"
                )))
            }
            _ => {}
        }
    }
    let until = until.unwrap_or(now);
    let since = since.unwrap_or(until - TimeDelta::hours(24));
    if since > until {
        return Err(invalid_input("since must be before until"));
    }
    if until - since > MAX_RANGE {
        return Err(invalid_input(
            "until may not be more than 31 days after since",
        ));
    }
    Ok(RecordsQuery {
        since_ms: since.timestamp_millis(),
        // Sub-millisecond parts round up: a record at `until`'s millisecond is excluded
        // only when `until` names that millisecond exactly.
        until_ms: until.timestamp_millis()
            + i64::from(until.timestamp_subsec_nanos() % 1_000_000 != 0),
        limit,
        cursor,
    })
}

/// The cursor after record `index`: `<epoch ms>-<id>`, as PagerDuty writes them.
fn encode_cursor(app: &AppState, index: u64) -> String {
    format!(
        "{}-{}",
        app.timeline.published_ms(index),
        event_id(&app.config, index)
    )
}

/// The index of the record a cursor names, if any.
fn decode_cursor(app: &AppState, timeline: &Timeline, cursor: &str) -> Option<u64> {
    let (ms, id) = cursor.split_once('-')?;
    let ms = ms.parse::<i64>().ok()?;
    let mut index = timeline.first_at_or_after(ms);
    while index < timeline.len() && timeline.published_ms(index) == ms {
        if event_id(&app.config, index) == id {
            return Some(index);
        }
        index += 1;
    }
    None
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body).into_response()
}

fn error_body(message: &str, code: u32, errors: &[String]) -> Vec<u8> {
    let mut error = serde_json::json!({ "message": message, "code": code });
    if !errors.is_empty() {
        error["errors"] = serde_json::json!(errors);
    }
    serde_json::json!({ "error": error })
        .to_string()
        .into_bytes()
}

fn error_response(error: PdError) -> Response {
    let body = error_body(error.message, error.code, &error.errors);
    json_response(error.status, HeaderMap::new(), body)
}

fn rate_limited() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("ratelimit-limit"),
        HeaderValue::from(RATE_LIMIT_PER_MINUTE),
    );
    headers.insert(
        HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from_static("0"),
    );
    // Seconds to wait before retrying.
    headers.insert(
        HeaderName::from_static("ratelimit-reset"),
        HeaderValue::from_static("1"),
    );
    let body = error_body("Rate Limit Exceeded", 2020, &[]);
    json_response(StatusCode::TOO_MANY_REQUESTS, headers, body)
}

fn server_error_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = error_body("Internal Server Error", 2000, &[]);
    json_response(status, HeaderMap::new(), body)
}

/// `None` when the key is right, else the refusal.
fn refuse_auth(headers: &HeaderMap, token: &str) -> Option<PdError> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Token token="));
    match given {
        Some(given) if given == token => None,
        _ => Some(PdError {
            status: StatusCode::UNAUTHORIZED,
            message: "Authentication failed",
            code: 2006,
            errors: vec![],
        }),
    }
}

/// The versioning header must ask for version 2.
fn refuse_accept(headers: &HeaderMap) -> Option<PdError> {
    let accept = headers.get(ACCEPT).and_then(|h| h.to_str().ok());
    let versioned = accept.is_some_and(|a| {
        a.split(',')
            .any(|part| part.split_whitespace().collect::<String>() == ACCEPT_V2)
    });
    (!versioned).then(|| invalid_input(format!("the Accept header must be {ACCEPT_V2}")))
}

/// `GET /audit/records`.
async fn records(
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
    let parsed =
        refuse_accept(&headers).map_or_else(|| parse_query(raw_query.as_deref(), Utc::now()), Err);
    let mut query = match parsed {
        Ok(query) => query,
        Err(error) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error_response(error);
        }
    };
    query.limit = query.limit.min(app.config.max_page_size.max(1));
    // Newest first: a listing walks down from the query's end.
    let timeline = &app.timeline;
    let lo = timeline.first_at_or_after(query.since_ms);
    let hi = timeline.first_at_or_after(query.until_ms).max(lo);
    let listing = Listing::new(timeline, lo..hi, Direction::Descending);
    let top = match &query.cursor {
        Some(cursor) => match decode_cursor(&app, timeline, cursor) {
            Some(index) => index,
            None => {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                return error_response(invalid_input("Invalid cursor"));
            }
        },
        None => listing.first_position(),
    };
    let page = listing.page(top, query.limit, |_| true);
    // The cursor names the last record served; the next page starts below it.
    let next = page
        .next
        .and_then(|_| page.indices.last())
        .map(|last| encode_cursor(&app, *last));
    let body = events::render_page(
        &app.config,
        timeline,
        page.indices.iter().copied(),
        query.limit,
        next.as_deref(),
    );
    let body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

#[cfg(test)]
mod tests;
