//! Tines profile: a tenant's audit logs, `GET /api/v1/audit_logs`.
//!
//! Built from Tines' API reference (tines.com/api), read 2026-12-07: "Audit logs" > "List",
//! "Welcome" (pagination and the `meta` object), "Authentication and Authorization" and "API
//! rate limits":
//!
//! * `Authorization: Bearer <api key>`; audit logs are for tenant admins (a service key with
//!   the AUDIT_LOG_READ permission).
//! * `before` and `after` ("only include logs created before / after this timestamp"),
//!   `user_id[]` and `operation_name[]` filters, `per_page` (20 by default, at most 500) and
//!   `page` (1 by default).
//! * The answer is `{"audit_logs": [...], "meta": {"current_page", "previous_page",
//!   "next_page", "next_page_number", "per_page", "pages", "count"}}`: links to the current,
//!   previous and next pages, the next page's number (null on the last page), the page
//!   size, the number of pages and of logs. The logs are described in [`events`].
//! * 1000 requests a minute for `audit_logs`, per IP address and API key.
//!
//! # Assumptions and simplifications
//!
//! * The order is not documented: newest first, as Grove's recorded pages are. Pages are
//!   counted over the logs visible at the time of the request.
//! * `before` and `after` are exclusive, compared with `created_at` (whole seconds); they are
//!   read as RFC 3339. An unparseable bound, the `user_id[]` and `operation_name[]` filters
//!   (not simulated), or a `page`/`per_page` that is not a positive number is refused with
//!   400 (counted as a bad request), so a client relying on one notices; a `per_page` above
//!   500 is cut to 500.
//! * Error bodies are `{"error": "..."}` (the reference documents the status classes only): 401
//!   for a wrong key, 429 over the rate limit (no header), 5xx. Retention is not modelled.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::AppState;

pub(crate) use events::{event, event_id};

/// Path of the audit logs.
pub const PATH: &str = "/api/v1/audit_logs";
/// Page size without `per_page`.
pub const DEFAULT_PER_PAGE: usize = 20;
/// The largest page size served.
pub const MAX_PER_PAGE: usize = 500;
/// The tenant's id.
pub const TENANT_ID: u64 = 5_044;

/// Routes of the profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(audit_logs))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let headers = [(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    )];
    (status, headers, body).into_response()
}

fn api_error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({ "error": message }).to_string().into_bytes())
}

/// A parsed request: logs created in `(after_ms, before_ms)`, page `page` of `per_page`
/// (`None`: the profile's default).
#[derive(Debug, PartialEq, Eq)]
struct LogsQuery {
    after_ms: Option<i64>,
    before_ms: Option<i64>,
    page: usize,
    per_page: Option<usize>,
}

fn positive(name: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{name} must be a positive integer: {value:?}")),
    }
}

fn timestamp(name: &str, value: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| format!("{name} is not a valid timestamp: {value:?}"))
}

fn parse_query(raw: Option<&str>) -> Result<LogsQuery, String> {
    let mut query = LogsQuery {
        after_ms: None,
        before_ms: None,
        page: 1,
        per_page: None,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "after" => query.after_ms = Some(timestamp("after", &value)?),
            "before" => query.before_ms = Some(timestamp("before", &value)?),
            "page" => query.page = positive("page", &value)?,
            "per_page" => query.per_page = Some(positive("per_page", &value)?.min(MAX_PER_PAGE)),
            "user_id[]" | "operation_name[]" => {
                return Err(format!("the simulator does not filter by {key}"))
            }
            _ => {}
        }
    }
    Ok(query)
}

/// Whether `headers` carry the API key.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| given.trim() == token)
}

/// A link to page `page` of the same listing.
fn link(base: &str, query: &LogsQuery, per_page: usize, page: usize) -> String {
    let mut url = format!("{base}{PATH}?per_page={per_page}&page={page}");
    for (name, ms) in [("after", query.after_ms), ("before", query.before_ms)] {
        if let Some(ms) = ms {
            let time = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            url.push_str(&format!("&{name}={}", time.replace('+', "%2B")));
        }
    }
    url
}

/// `GET /api/v1/audit_logs`.
async fn audit_logs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return api_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(status, "Internal server error");
        }
    };
    let counters = &app.counters;
    if !authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return api_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return api_error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let per_page = query
        .per_page
        .unwrap_or(app.config.default_page_size)
        .min(app.config.max_page_size)
        .max(1);
    let timeline = &app.timeline;
    // Both bounds exclusive, on the whole second Tines writes: after `a`, the first log of the
    // next whole second; before `b`, logs whose second starts before `b`.
    let lo = query.after_ms.map_or(0, |ms| {
        timeline.first_at_or_after((ms.div_euclid(1000) + 1).saturating_mul(1000))
    });
    let hi = query.before_ms.map_or(timeline.len(), |ms| {
        let second = ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0);
        timeline.first_at_or_after(second.saturating_mul(1000))
    });
    let listing = Listing::new(timeline, lo..hi.max(lo), Direction::Descending);
    let visible = listing
        .page(listing.first_position(), usize::MAX, |_| true)
        .indices;
    let skip = (query.page - 1).saturating_mul(per_page);
    let indices: Vec<u64> = visible.iter().skip(skip).take(per_page).copied().collect();
    let count = visible.len();
    let pages = count.div_ceil(per_page);
    let next = (query.page < pages).then(|| query.page + 1);
    let base = super::request_base(&headers, &app);
    let body = json!({
        "audit_logs": indices
            .iter()
            .map(|i| events::build(app.config.seed, timeline, *i))
            .collect::<Vec<Value>>(),
        "meta": {
            "current_page": link(&base, &query, per_page, query.page),
            "previous_page": (query.page > 1).then(|| link(&base, &query, per_page, query.page - 1)),
            "next_page": next.map(|n| link(&base, &query, per_page, n)),
            "next_page_number": next,
            "per_page": per_page,
            "pages": pages,
            "count": count,
        },
    });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &indices);
    json_response(StatusCode::OK, body)
}

#[cfg(test)]
mod tests;
