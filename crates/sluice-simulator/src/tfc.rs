//! HCP Terraform (Terraform Cloud) profile: an organization's audit trail,
//! `GET /api/v2/organization/audit-trail`.
//!
//! Built from HashiCorp's API reference, "Audit trails API reference"
//! (developer.hashicorp.com/terraform/cloud-docs/api-docs/audit-trails), and the API
//! overview's authentication and rate-limiting sections, read 2026-12-07:
//!
//! * Only an organization token or an audit trail token may call it, as
//!   `Authorization: Bearer <token>`; the token names the organization.
//! * `since` returns "only audit trails created after this date" (ISO 8601,
//!   `YYYY-MM-DDTHH:MM:SS.SSSZ`); `page[number]` is the first page without it; `page[size]`
//!   is 1000 without it. There is no upper time bound.
//! * The answer is `{"data": [...], "pagination": {"current_page", "prev_page",
//!   "next_page", "total_pages", "total_count"}}`, not JSON:API; the events are described in
//!   [`events`].
//! * 30 requests a second per user; over it, 429. Errors are JSON:API error objects
//!   (`{"errors": [{"status", "title"}]}`), as the rest of the API's.
//!
//! # Assumptions and simplifications
//!
//! * The order is not documented: newest first, as Grove's recorded pages are. Pages are
//!   counted over the events visible at the time of the request, from the newest, so an event
//!   created between two requests moves older ones to later pages (served again), as counting
//!   does on a live table.
//! * `since` is exclusive, at millisecond precision. An unparseable `since`, a `page[number]`
//!   below 1 or a `page[size]` that is not a positive number is refused with 400 (counted as a
//!   bad request), so a client relying on one notices; a `page[size]` above 1000 is cut to
//!   1000 (no maximum is documented).
//! * A wrong token gets 401 `{"errors": [{"status": "401", "title": "unauthorized"}]}`; user
//!   and team tokens are not modelled. The 429 carries no header (none is documented for this
//!   endpoint). Retention (14 days) is not modelled.

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

/// Path of the audit trail.
pub const PATH: &str = "/api/v2/organization/audit-trail";
/// Page size without `page[size]`, and the largest served.
pub const MAX_PAGE_SIZE: usize = 1000;
/// The organization the token belongs to.
pub const ORGANIZATION_ID: &str = "org-SimAcme12345678";

/// Routes of the profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(audit_trail))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let headers = [(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    )];
    (status, headers, body).into_response()
}

/// An error in the API's JSON:API form.
fn api_error(status: StatusCode, title: &str) -> Response {
    let body = json!({ "errors": [{ "status": status.as_u16().to_string(), "title": title }] });
    json_response(status, body.to_string().into_bytes())
}

/// A parsed request: events created after `after_ms`, page `page` of `size`.
#[derive(Debug, PartialEq, Eq)]
struct TrailQuery {
    after_ms: Option<i64>,
    page: usize,
    size: usize,
}

fn positive(name: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{name} must be a positive integer: {value:?}")),
    }
}

fn parse_query(raw: Option<&str>) -> Result<TrailQuery, String> {
    let mut query = TrailQuery {
        after_ms: None,
        page: 1,
        size: MAX_PAGE_SIZE,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "since" => {
                let since = DateTime::parse_from_rfc3339(&value)
                    .map_err(|_| format!("since must be an ISO 8601 date: {value:?}"))?;
                query.after_ms = Some(since.with_timezone(&Utc).timestamp_millis());
            }
            "page[number]" => query.page = positive("page[number]", &value)?,
            "page[size]" => query.size = positive("page[size]", &value)?.min(MAX_PAGE_SIZE),
            _ => {}
        }
    }
    Ok(query)
}

/// Whether `headers` carry the organization token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| given.trim() == token)
}

/// `GET /api/v2/organization/audit-trail`.
async fn audit_trail(
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
            return api_error(status, "internal server error");
        }
    };
    let counters = &app.counters;
    if !authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return api_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return api_error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let size = query.size.min(app.config.max_page_size.max(1));
    let timeline = &app.timeline;
    // Created strictly after `since`: from the first millisecond past it. Times are whole
    // milliseconds, and `since` is read to the millisecond (floored).
    let lo = query
        .after_ms
        .map_or(0, |ms| timeline.first_at_or_after(ms.saturating_add(1)));
    let listing = Listing::new(timeline, lo..timeline.len(), Direction::Descending);
    // Every visible event, newest first: pages count over what is visible right now.
    let visible = listing
        .page(listing.first_position(), usize::MAX, |_| true)
        .indices;
    let skip = (query.page - 1).saturating_mul(size);
    let indices: Vec<u64> = visible.iter().skip(skip).take(size).copied().collect();
    let total = visible.len();
    let pages = total.div_ceil(size);
    let body = json!({
        "data": indices
            .iter()
            .map(|i| events::build(app.config.seed, timeline, *i))
            .collect::<Vec<Value>>(),
        "pagination": {
            "current_page": query.page,
            "prev_page": (query.page > 1).then(|| query.page - 1),
            "next_page": (query.page < pages).then(|| query.page + 1),
            "total_pages": pages,
            "total_count": total,
        },
    });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &indices);
    json_response(StatusCode::OK, body)
}

#[cfg(test)]
mod tests;
