//! Asana profile: a domain's audit log, `GET /api/1.0/workspaces/{workspace_gid}/audit_log_events`,
//! oldest first, paged with an offset token that goes on for ever.
//!
//! Built from Asana's API reference ("Get audit log events", developers.asana.com/reference/
//! getauditlogevents; "Audit log API", developers.asana.com/docs/audit-log-api; "Pagination";
//! "Rate limits"; "Errors"):
//!
//! * `GET https://app.asana.com/api/1.0/workspaces/{workspace_gid}/audit_log_events` returns
//!   AuditLogEvent objects "sorted by creation time in ascending order". `start_at` filters
//!   to events created at or after a time (inclusive), `end_at` before one (exclusive), both
//!   date-times.
//! * `limit` must be between 1 and 100 (the endpoint's text speaks of "a default limit of
//!   1000"; the parameter's own description bounds it at 100). The answer is `{"data": [...],
//!   "next_page": {"offset", "path", "uri"}}`; `offset=<token>` asks for the next page.
//!   `next_page` is null when no event matches the filters; once events match, it is sent on
//!   every answer, "even when there are no more events that match the filters", so a client
//!   not interested in future events stops at an empty `data`.
//! * Events: `gid` (a string), `created_at` (ISO 8601 with milliseconds), `event_type`,
//!   `event_category`, `actor`, `resource`, `details`, `context`; see [`events`]. They are
//!   deleted after 90 days.
//! * Authentication: a service account token, `Authorization: Bearer <token>` (Enterprise+
//!   tiers). Rate limits: per token, 1500 requests a minute on paid domains (150 on free
//!   ones); over them `429` with `Retry-After` (seconds) and `{"errors": [{"message":
//!   "You've made too many requests and hit a rate limit. Please retry after the given
//!   amount of time."}]}`.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * Without `limit`, pages of 100. The `event_type`, `actor_type`, `actor_gid` and
//!   `resource_gid` filters are refused with `400` as not simulated, as are a `limit` out of
//!   range, a time that does not parse, an `end_at` before `start_at` and an offset this
//!   listing did not hand out (`{"errors": [{"message": ...}]}`, Asana's error shape). Offsets
//!   never expire (Asana's do, "after some time").
//! * The 401 (`Not Authorized`) and 5xx (`Server Error`) messages are assumed from the
//!   errors page. `Retry-After` is one second so tests stay quick. A workspace gid other than
//!   [`WORKSPACE_GID`] is `404`. No publication delay is documented; none is simulated (late
//!   events are, see [`super::LateEvents`]).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::DateTime;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::{ceil_millis, Timeline};
use super::AppState;

pub use events::FIRST_GID;
pub(crate) use events::{event, event_id};

/// The workspace (organization) the simulator serves.
pub const WORKSPACE_GID: &str = "1199906290951705";
/// The route of the audit log (`/api/1.0` is part of Asana's base URL).
pub const AUDIT_LOG_ROUTE: &str = "/api/1.0/workspaces/{workspace_gid}/audit_log_events";
/// Documented maximum of `limit`.
pub const MAX_LIMIT: usize = 100;

/// Routes of the Asana profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(AUDIT_LOG_ROUTE, get(list_audit_log_events))
}

fn json_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut headers = headers;
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    (status, headers, body).into_response()
}

fn errors(status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message }] });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn invalid(app: &AppState, message: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    errors(StatusCode::BAD_REQUEST, message)
}

/// A listing's range, which an offset is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    lo: u64,
    hi: u64,
}

fn offset_check(seed: u64, range: Range, position: u64) -> u64 {
    hash3(
        seed,
        domain::CURSOR,
        mix64(range.lo ^ mix64(range.hi ^ mix64(position ^ 0xa5a7a))),
    ) & 0xffff_ffff
}

fn encode_offset(seed: u64, range: Range, position: u64) -> String {
    let text = format!(
        "{{\"p\":{position},\"c\":\"{:08x}\"}}",
        offset_check(seed, range, position)
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_offset(seed: u64, range: Range, offset: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(offset)
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let position = value.get("p")?.as_u64()?;
    let check = u64::from_str_radix(value.get("c")?.as_str()?, 16).ok()?;
    (check == offset_check(seed, range, position) && (range.lo..=range.hi).contains(&position))
        .then_some(position)
}

/// A parsed request.
struct Query {
    range: Range,
    limit: usize,
    offset: Option<String>,
    /// The parameters other than `offset`, for `next_page.path`.
    kept: Vec<(String, String)>,
}

fn parse_query(timeline: &Timeline, raw: Option<&str>) -> Result<Query, String> {
    let (mut start, mut end) = (None, None);
    let (mut limit, mut offset) = (MAX_LIMIT, None);
    let mut kept = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let time = || {
            DateTime::parse_from_rfc3339(&value)
                .map(|t| t.to_utc())
                .map_err(|_| format!("{key}: Not a valid date-time: {value}"))
        };
        match key.as_ref() {
            "start_at" => start = Some(time()?),
            "end_at" => end = Some(time()?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("limit: The value must be between 1 and 100, got {value}")
                    })?;
            }
            "offset" => {
                offset = Some(value.into_owned());
                continue;
            }
            "event_type" | "actor_type" | "actor_gid" | "resource_gid" => {
                return Err(format!("{key}: this filter is not simulated"))
            }
            _ => {}
        }
        kept.push((key.into_owned(), value.into_owned()));
    }
    let lo = start.map_or(0, |t| timeline.first_at_or_after(ceil_millis(&t)));
    let hi = end.map_or(timeline.len(), |t| {
        timeline.first_at_or_after(ceil_millis(&t))
    });
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            return Err("end_at: must not be before start_at".into());
        }
    }
    Ok(Query {
        range: Range { lo, hi: hi.max(lo) },
        limit,
        offset,
        kept,
    })
}

/// `GET /api/1.0/workspaces/{workspace_gid}/audit_log_events`.
async fn list_audit_log_events(
    State(app): State<Arc<AppState>>,
    Path(workspace_gid): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            let mut extra = HeaderMap::new();
            extra.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            let body = json!({ "errors": [{ "message": "You've made too many requests and hit a rate limit. Please retry after the given amount of time." }] });
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                extra,
                body.to_string().into_bytes(),
            );
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return errors(status, "Server Error (simulated)");
        }
    };
    let authorized = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token.trim() == app.config.token);
    if !authorized {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return errors(StatusCode::UNAUTHORIZED, "Not Authorized");
    }
    if workspace_gid != WORKSPACE_GID {
        return errors(
            StatusCode::NOT_FOUND,
            &format!("workspace: Unknown object: {workspace_gid}"),
        );
    }
    let seed = app.config.seed;
    let timeline = &app.timeline;
    let query = match parse_query(timeline, raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return invalid(&app, &message),
    };
    let range = query.range;
    let listing = Listing::new(timeline, range.lo..range.hi, Direction::Ascending);
    let start = match &query.offset {
        None => listing.first_position(),
        Some(offset) => match decode_offset(seed, range, offset) {
            Some(position) => position,
            None => return invalid(&app, "offset: Your pagination token is invalid."),
        },
    };
    let size = query.limit.min(app.config.max_page_size.max(1));
    let page = listing.page(start, size, |_| true);
    let data: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    // Null only while nothing matches the filters; from then on always an offset, the last
    // page's included (the stream goes on with events yet to come).
    let any_match = range.lo < range.hi;
    let next_page = if any_match {
        let next = page
            .indices
            .last()
            .map_or(start, |last| last + 1)
            .max(page.next.unwrap_or(0));
        let offset = encode_offset(seed, range, next.min(range.hi));
        let path_base = format!("/workspaces/{workspace_gid}/audit_log_events");
        let mut url = url::Url::parse(&format!("https://app.asana.com/api/1.0{path_base}"))
            .expect("a constant base with a gid of digits parses as a URL");
        url.query_pairs_mut()
            .extend_pairs(&query.kept)
            .append_pair("offset", &offset);
        let path = format!("{path_base}?{}", url.query().unwrap_or_default());
        json!({ "offset": offset, "path": path, "uri": url.to_string() })
    } else {
        Value::Null
    };
    let body = json!({ "data": data, "next_page": next_page });
    let bytes = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), bytes)
}

#[cfg(test)]
mod tests;
