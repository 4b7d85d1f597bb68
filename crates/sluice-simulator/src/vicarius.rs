//! Vicarius vRx External Data API profile: `GET /vicarius-external-data-api/incidentEvent/filter`.
//!
//! Vicarius publishes no open API reference page; the dashboard serves its own. This profile
//! is built from Vicarius's public repository `github.com/VicariusInc/vRx-Public-Resources`
//! (read 2026-12-07): its report scripts (`vicarius-Reports-Dashboard/app/scripts/
//! IncidentsEvents.py`, `VickTopiaReport/IncidentsEvents.py`) and a recorded answer of the
//! endpoint (`vicarius-Reports-Dashboard/app/scripts/_incidentEvents.json`):
//!
//! * `GET https://<dashboard>.vicarius.cloud/vicarius-external-data-api/incidentEvent/filter`
//!   with headers `Accept: application/json` and `Vicarius-Token: <API key>`.
//! * Query parameters: `from` (an offset: records to skip) and `size` (records to return);
//!   `sort` (`+analyticsEventCreatedAtNano` oldest first, `-analyticsEventCreatedAtNano`
//!   newest first); `q`, a filter in RSQL (clauses joined by `;` for "and"), e.g.
//!   `analyticsEventCreatedAtNano>1739927712033682176;analyticsEventCreatedAtNano<...;`
//!   `incidentEventIncidentEventType=in=(MitigatedVulnerability,DetectedVulnerability)`.
//! * The answer is `{"serverResponseResult": {"serverResponseResultCode": "SUCCESS",
//!   "serverResponseResultExecutionTime": ms}, "serverResponseObject": [...]}`;
//!   `incidentEvent/count` answers `serverResponseCount` for the same `q`.
//! * Each event has `_id` (`<type>_<organization unique id>_<endpoint hash>_<vulnerability
//!   id>`), `incidentEventIncidentEventType`, `analyticsEventCreatedAt` (epoch ms) and
//!   `analyticsEventCreatedAtNano` (epoch ns, e.g. `1687012541236127443`), the same pair for
//!   the update, and the endpoint, product and vulnerability involved.
//! * Over the rate limit the API answers HTTP 429 (Vicarius's scripts wait 60 seconds).
//!
//! # Differences from the real API (deliberate simplifications, and assumptions)
//!
//! * `q` understands only `analyticsEventCreatedAtNano` with `>`, `>=`, `<`, `<=` (and their
//!   `=gt=`, `=ge=`, `=lt=`, `=le=` spellings) and `incidentEventIncidentEventType` with `==`
//!   and `=in=(...)`, joined by `;`; anything else (another field, `,` for "or") is refused
//!   with 400, so a client relying on it notices.
//! * Without `sort` the profile serves oldest first (the order the API uses then is not
//!   published); a sort on another field is refused with 400.
//! * `from` counts the records visible at the time of the request, as an offset into a live
//!   index does: a record published late, inside a range already paged through, shifts the
//!   rest by one (served twice, never skipped, for an oldest-first listing).
//! * The largest `size` is not published: the profile serves at most [`MAX_SIZE`] (500,
//!   the batch Vicarius's own export script asks for) and [`DEFAULT_SIZE`] without `size`,
//!   and refuses `from + size` beyond [`MAX_RESULT_WINDOW`] (10,000, the usual bound of a
//!   search index's offset paging) with 400. Both numbers are assumptions.
//! * Error bodies are not published: refusals are written in the answer's own envelope,
//!   `{"serverResponseResult": {"serverResponseResultCode": "<CODE>",
//!   "serverResponseResultMessage": "..."}}`, with 401 for a missing or wrong token, 400 for
//!   a bad query, 429 over the rate limit (no wait announced: Vicarius's scripts wait 60
//!   seconds on their own) and 5xx on server errors. The codes are the profile's own words.
//! * Only a handful of each event's nested objects are rendered, and `_id`s are unique (the
//!   real `_id` names the event type, endpoint and vulnerability, so an event that recurs
//!   replaces its earlier record under the same `_id`).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::AppState;

pub(crate) use events::{event, event_id, event_type, first_at_or_after_ns, time_ns};

/// Path of the incident events listing.
pub const FILTER_PATH: &str = "/vicarius-external-data-api/incidentEvent/filter";
/// The header carrying the API key.
pub const TOKEN_HEADER: &str = "vicarius-token";
/// Page size without `size`.
pub const DEFAULT_SIZE: usize = 100;
/// The largest page the profile serves; a larger `size` is cut to it.
pub const MAX_SIZE: usize = 500;
/// The deepest `from + size` the profile pages to.
pub const MAX_RESULT_WINDOW: usize = 10_000;
/// The field the time filters and the sort name.
pub const TIME_FIELD: &str = "analyticsEventCreatedAtNano";
/// The field holding the event type.
pub const TYPE_FIELD: &str = "incidentEventIncidentEventType";

/// Routes of the Vicarius profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(FILTER_PATH, get(filter))
}

/// A parsed request.
#[derive(Debug)]
struct FilterQuery {
    /// Events whose time (ns) lies in `[lo_ns, hi_ns)`.
    lo_ns: i128,
    hi_ns: i128,
    /// The event types asked for, if any clause names them.
    types: Option<Vec<String>>,
    from: usize,
    size: usize,
    descending: bool,
}

fn parse_nanos(value: &str) -> Result<i128, String> {
    value
        .parse::<i128>()
        .map_err(|_| format!("{TIME_FIELD} takes epoch nanoseconds, not `{value}`"))
}

/// Applies one RSQL clause of `q` to `query`.
fn clause(query: &mut FilterQuery, text: &str) -> Result<(), String> {
    const OPERATORS: &[(&str, &str)] = &[
        ("=ge=", ">="),
        ("=le=", "<="),
        ("=gt=", ">"),
        ("=lt=", "<"),
        ("=in=", "=in="),
        ("==", "=="),
        (">=", ">="),
        ("<=", "<="),
        (">", ">"),
        ("<", "<"),
    ];
    let (field, op, value) = OPERATORS
        .iter()
        .find_map(|(spelling, op)| {
            text.split_once(spelling)
                .map(|(field, value)| (field.trim(), *op, value.trim()))
        })
        .ok_or_else(|| format!("cannot parse the filter `{text}`"))?;
    match (field, op) {
        (TIME_FIELD, ">") => query.lo_ns = query.lo_ns.max(parse_nanos(value)? + 1),
        (TIME_FIELD, ">=") => query.lo_ns = query.lo_ns.max(parse_nanos(value)?),
        (TIME_FIELD, "<") => query.hi_ns = query.hi_ns.min(parse_nanos(value)?),
        (TIME_FIELD, "<=") => query.hi_ns = query.hi_ns.min(parse_nanos(value)? + 1),
        (TYPE_FIELD, "==") => query.types = Some(vec![value.to_string()]),
        (TYPE_FIELD, "=in=") => {
            let list = value
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| format!("=in= takes a list in parentheses, not `{value}`"))?;
            query.types = Some(list.split(',').map(|t| t.trim().to_string()).collect());
        }
        _ => {
            return Err(format!(
                "the simulator does not filter by `{field}` with `{op}`"
            ))
        }
    }
    Ok(())
}

fn number(name: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .map_err(|_| format!("{name} must be a non-negative integer, not `{value}`"))
}

fn parse_query(raw: Option<&str>) -> Result<FilterQuery, String> {
    let mut query = FilterQuery {
        lo_ns: i128::MIN,
        hi_ns: i128::MAX,
        types: None,
        from: 0,
        size: DEFAULT_SIZE,
        descending: false,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" => query.from = number("from", &value)?,
            "size" => query.size = number("size", &value)?.min(MAX_SIZE),
            "sort" => {
                query.descending = match value.as_ref() {
                    "+analyticsEventCreatedAtNano" | "analyticsEventCreatedAtNano" => false,
                    "-analyticsEventCreatedAtNano" => true,
                    other => return Err(format!("the simulator does not sort by `{other}`")),
                }
            }
            "q" => {
                if value.contains(',') && !value.contains("=in=") {
                    return Err("the simulator does not take `,` (or) in q".into());
                }
                for text in value.split(';').filter(|c| !c.trim().is_empty()) {
                    clause(&mut query, text)?;
                }
            }
            _ => {}
        }
    }
    if query.from.saturating_add(query.size) > MAX_RESULT_WINDOW {
        return Err(format!(
            "from + size must not exceed {MAX_RESULT_WINDOW}; narrow the time range"
        ));
    }
    Ok(query)
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    (status, headers, body).into_response()
}

/// A refusal in the answer's envelope.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "serverResponseResult": {
            "serverResponseResultCode": code,
            "serverResponseResultMessage": message,
        },
        "serverResponseObject": null,
    });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

/// Over the rate limit: 429 (no wait is announced; Vicarius's scripts wait a minute).
fn rate_limited() -> Response {
    refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "API rate limit exceeded",
    )
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    refusal(status, "FAILURE", "Internal server error")
}

/// `GET /vicarius-external-data-api/incidentEvent/filter`.
async fn filter(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    let token = headers.get(TOKEN_HEADER).and_then(|h| h.to_str().ok());
    if token != Some(app.config.token.as_str()) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return refusal(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid token");
    }
    let query = match parse_query(raw_query.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message);
        }
    };
    let size = query.size.min(app.config.max_page_size.max(1));
    let config = &app.config;
    let timeline = &app.timeline;
    let lo = first_at_or_after_ns(timeline, query.lo_ns);
    let hi = first_at_or_after_ns(timeline, query.hi_ns).max(lo);
    let direction = if query.descending {
        Direction::Descending
    } else {
        Direction::Ascending
    };
    let listing = Listing::new(timeline, lo..hi, direction);
    let admit_type = |i: u64| {
        query
            .types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event_type(config, i)))
    };
    // `from` skips records visible now, as an offset into a live index does.
    let page = listing.page(listing.first_position(), query.from + size, admit_type);
    let indices: Vec<u64> = page.indices.into_iter().skip(query.from).collect();
    let body = events::render_page(config, timeline, &indices);
    let body = deliver(&app, fault, body, &indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

#[cfg(test)]
mod tests;
