//! Cloudflare account audit logs profile (Audit Logs v2):
//! `GET /client/v4/accounts/{account_id}/logs/audit`.
//!
//! Built from Cloudflare's API reference ("Get account audit logs (Version 2)",
//! developers.cloudflare.com/api/resources/accounts/subresources/logs/subresources/audit/methods/list/),
//! its "Audit Logs - version 2" page (developers.cloudflare.com/fundamentals/account/
//! account-security/audit-logs/), its "Rate limits" page (developers.cloudflare.com/
//! fundamentals/api/reference/limits/) and "Error 429" page, checked 2026-12-07:
//!
//! * `since` and `before` are required: logs "newer than" and "older than" the date given,
//!   either a date (`2019-04-30`, read as UTC) or an RFC 3339 timestamp.
//! * `direction` is `desc` (the default) or `asc`; `limit` caps the logs of a page; `cursor`
//!   is the `result_info.cursor` of the previous answer, sent with the same query.
//! * An answer is `{"errors": [], "result": [...], "result_info": {"count": "<n>", "cursor":
//!   "<opaque>"}, "success": true}`; `count` is a string.
//! * Logs have an `id` and `action.time`, written in whole seconds as in the reference's
//!   examples (`2024-04-26T17:31:07Z`).
//! * Requests carry `Authorization: Bearer <API token>` (a token with Account Settings Read).
//! * Rate limit: 1,200 requests per five minutes per user; over it HTTP 429 with the v4
//!   envelope, code 971 ("Please wait and consider throttling your request speed"), and
//!   `retry-after` (seconds); answers carry `Ratelimit` and `Ratelimit-Policy`.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * "Newer than" and "older than" are read literally: both ends are **exclusive**, compared
//!   with the whole-second `action.time` (the strict reading: a client relying on an inclusive
//!   end loses logs here).
//! * `limit` is 1 to 1000 ([`MAX_LIMIT`], as Cloudflare's own Audit Logs MCP server bounds it;
//!   the reference gives no number) and 100 without one ([`DEFAULT_LIMIT`], the documented
//!   default of the sibling history endpoint); anything else is refused with 400.
//! * The cursor is present while visible logs of the query remain and left out on the last
//!   page. It encodes the position and the query's range and direction, with a check value;
//!   an edited one, or one sent with another `since`/`before`/`direction`, is refused with 400.
//! * The 20-odd filters (`actor_email`, `action_type.not`, `product_category`...) are refused
//!   with 400, so a client relying on one notices; `since` after `before` is refused too.
//! * Errors of the endpoint itself (400, 5xx) are `{"errors": [{"message"}], "result": null,
//!   "success": false}`, the error shape of the v2 reference. The API gateway's refusals use
//!   the v4 envelope with codes, as commonly seen (the reference lists none): a missing or
//!   wrong token `401` and code 10000 "Authentication error", another account's id `403` with
//!   the same body, `429` code 971.
//! * The 429's `retry-after` is 1 s, not the five minutes Cloudflare blocks for, so tests run
//!   quickly. The 18-month retention is not modelled: every generated log is available.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::AppState;
use crate::sealed::{Alphabet, Position};

/// Its cursors are standard base64, `+`, `/` and `=` included, which a client must
/// percent-encode in the query.
const ALPHABET: Alphabet = Alphabet::Standard;

pub(crate) use events::{event, event_id};

/// The simulated account's id.
pub const ACCOUNT_ID: &str = "7c5dae5552338874e5053f2534d2767a";
/// The route of the audit logs endpoint (`{account_id}` is a path parameter).
pub const LOGS_ROUTE: &str = "/client/v4/accounts/{account_id}/logs/audit";
/// Logs per page without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1_000;
/// Requests a user may make per [`RATE_WINDOW_SECS`].
pub const RATE_LIMIT: u32 = 1_200;
/// The rate-limit window, in seconds.
pub const RATE_WINDOW_SECS: u32 = 300;

/// The path of the simulated account's audit logs.
pub fn logs_path() -> String {
    LOGS_ROUTE.replace("{account_id}", ACCOUNT_ID)
}

/// Routes of the Cloudflare profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(LOGS_ROUTE, get(list))
}

/// A parsed request: logs whose timeline index lies in `lo..hi`, in `direction`.
#[derive(Debug)]
struct LogsQuery {
    lo: u64,
    hi: u64,
    direction: Direction,
    limit: usize,
    cursor: Option<String>,
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// The v4 envelope of the API gateway's refusals: `{"success": false, "errors": [{"code",
/// "message"}], "messages": [], "result": null}`.
fn gateway_error(status: StatusCode, code: u32, message: &str, headers: HeaderMap) -> Response {
    let body = json!({
        "success": false,
        "errors": [{ "code": code, "message": message }],
        "messages": [],
        "result": null,
    });
    json_response(status, headers, body.to_string().into_bytes())
}

/// The endpoint's own error shape (the v2 reference's `errors: [{message}]`).
fn endpoint_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "errors": [{ "message": message }],
        "result": null,
        "success": false,
    });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn rate_limited() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(
        HeaderName::from_static("ratelimit"),
        HeaderValue::from_static("\"default\";r=0;t=1"),
    );
    headers.insert(
        HeaderName::from_static("ratelimit-policy"),
        HeaderValue::from_str(&format!("\"default\";q={RATE_LIMIT};w={RATE_WINDOW_SECS}"))
            .unwrap_or_else(|_| HeaderValue::from_static("\"default\"")),
    );
    gateway_error(
        StatusCode::TOO_MANY_REQUESTS,
        971,
        "Please wait and consider throttling your request speed",
        headers,
    )
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    endpoint_error(status, "Internal Server Error")
}

fn authentication_error(status: StatusCode) -> Response {
    gateway_error(status, 10000, "Authentication error", HeaderMap::new())
}

/// A time as `since`/`before` take it: a date (midnight UTC) or an RFC 3339 timestamp.
fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{name} must be a date (2019-04-30) or an RFC 3339 timestamp, got {value:?}")
        })
}

/// The filters the reference documents, with and without `.not`; the profile serves none.
const FILTERS: &[&str] = &[
    "id",
    "account_name",
    "action_result",
    "action_type",
    "actor_context",
    "actor_email",
    "actor_id",
    "actor_ip_address",
    "actor_token_id",
    "actor_token_name",
    "actor_type",
    "audit_log_id",
    "product_category",
    "raw_cf_ray_id",
    "raw_method",
    "raw_status_code",
    "raw_uri",
    "resource_id",
    "resource_product",
    "resource_scope",
    "resource_type",
    "zone_id",
    "zone_name",
];

fn is_filter(key: &str) -> bool {
    let base = key.strip_suffix("[]").unwrap_or(key);
    let base = base.strip_suffix(".not").unwrap_or(base);
    FILTERS.contains(&base)
}

fn parse_query(app: &AppState, raw: Option<&str>) -> Result<LogsQuery, String> {
    let mut since = None;
    let mut before = None;
    let mut direction = Direction::Descending;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "since" => since = Some(parse_time("since", &value)?),
            "before" => before = Some(parse_time("before", &value)?),
            "direction" => {
                direction = match value.as_ref() {
                    "asc" => Direction::Ascending,
                    "desc" => Direction::Descending,
                    other => return Err(format!("direction must be asc or desc, got {other:?}")),
                }
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit must be an integer from 1 to {MAX_LIMIT}"))?;
            }
            "cursor" => cursor = Some(value.into_owned()),
            key if is_filter(key) => {
                return Err(format!("the simulator does not filter by {key}"));
            }
            _ => {}
        }
    }
    let since = since.ok_or("since is required")?;
    let before = before.ok_or("before is required")?;
    if since > before {
        return Err("since must not be after before".into());
    }
    // Both ends exclusive, against whole seconds: a log of second `s` is listed when
    // `since < s < before`.
    let first_second = since.timestamp() + 1;
    let end_second = before.timestamp() + i64::from(before.timestamp_subsec_nanos() != 0);
    let timeline = &app.timeline;
    let lo = timeline.first_at_or_after(first_second.saturating_mul(1000));
    let hi = timeline
        .first_at_or_after(end_second.saturating_mul(1000))
        .max(lo);
    Ok(LogsQuery {
        lo,
        hi,
        direction,
        limit: limit.min(app.config.max_page_size.max(1)),
        cursor,
    })
}

/// The opaque cursor: the position, the query's range and direction, sealed.
fn encode_cursor(seed: u64, position: Position) -> String {
    position.seal(seed, ALPHABET)
}

fn decode_cursor(seed: u64, cursor: &str) -> Option<Position> {
    Position::open(seed, ALPHABET, cursor)
}

/// `None` when the request carries the account's token as `Bearer`, else the refusal.
fn refuse_auth(headers: &HeaderMap, token: &str) -> Option<Response> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match given {
        Some(given) if given == token => None,
        _ => Some(authentication_error(StatusCode::UNAUTHORIZED)),
    }
}

/// `{"errors": [], "result": [...], "result_info": {"count", "cursor"?}, "success": true}`.
fn render_page(app: &AppState, indices: &[u64], cursor: Option<&str>) -> Vec<u8> {
    let mut body = b"{\"errors\":[],\"result\":[".to_vec();
    for (n, index) in indices.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        let log = events::build(app.config.seed, &app.timeline, *index);
        // Writing a JSON value into a Vec cannot fail.
        serde_json::to_writer(&mut body, &log).expect("a JSON value serializes into a Vec");
    }
    let mut info = json!({ "count": indices.len().to_string() });
    if let Some(cursor) = cursor {
        info["cursor"] = Value::from(cursor);
    }
    body.extend_from_slice(b"],\"result_info\":");
    body.extend_from_slice(info.to_string().as_bytes());
    body.extend_from_slice(b",\"success\":true}");
    body
}

/// `GET /client/v4/accounts/{account_id}/logs/audit`.
async fn list(
    State(app): State<Arc<AppState>>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    if let Some(refusal) = refuse_auth(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return refusal;
    }
    if account_id != ACCOUNT_ID {
        // The token is not valid for that account.
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return authentication_error(StatusCode::FORBIDDEN);
    }
    let bad_request = |message: &str| {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        endpoint_error(StatusCode::BAD_REQUEST, message)
    };
    let query = match parse_query(&app, raw_query.as_deref()) {
        Ok(query) => query,
        Err(message) => return bad_request(&message),
    };
    let ascending = query.direction == Direction::Ascending;
    let listing = Listing::new(&app.timeline, query.lo..query.hi, query.direction);
    let at = match &query.cursor {
        None => listing.first_position(),
        Some(cursor) => match decode_cursor(app.config.seed, cursor) {
            Some(p) if (p.lo, p.hi, p.ascending) == (query.lo, query.hi, ascending) => p.at,
            Some(_) => return bad_request("the cursor belongs to another query"),
            None => return bad_request("invalid cursor"),
        },
    };
    let page = listing.page(at, query.limit, |_| true);
    let cursor = page.next.map(|next| {
        encode_cursor(
            app.config.seed,
            Position {
                at: next,
                lo: query.lo,
                hi: query.hi,
                ascending,
            },
        )
    });
    let body = render_page(&app, &page.indices, cursor.as_deref());
    let body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

#[cfg(test)]
mod tests;
