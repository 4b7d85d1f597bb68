//! Okta System Log profile: deterministic `LogEvent`s and `GET /api/v1/logs`.
//!
//! # Differences from the real API (all deliberate simplifications)
//!
//! * Only `sortOrder=ASCENDING` (the default) is supported; `DESCENDING` or any other
//!   value is rejected with a 400 so a client relying on it notices immediately.
//! * A missing `since` means "from the first event" (Okta defaults to 7 days ago); a
//!   missing `until` means "through the last event". `since >= until` yields `[]`.
//! * When no events remain, the `next` link is omitted even for polling queries without
//!   `until` (Okta keeps returning one so clients can poll it forever).
//! * All generated events are served regardless of the wall clock, even if the anchor
//!   lies in the future.
//! * `filter`, `q` and unknown parameters are ignored. For a repeated parameter the
//!   first occurrence wins.
//! * `limit=0` is rejected with a 400; a huge `limit` is clamped to the maximum page.
//! * Rate-limit headers are cosmetic: `X-Rate-Limit-Remaining` stays high except on
//!   injected 429s, so well-behaved clients are throttled only when a test asks for it.

mod data;
mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use super::faults::{admit, deliver, FaultKind, Refusal};
use super::listing::{Direction, Listing, Page};
use super::rng::{domain, hash3};
use super::timeline::ceil_millis;
use super::{request_base, AppState};
use events::{base62_of, render_page};

pub(crate) use events::{event, event_id};

/// Path of the System Log endpoint.
pub const LOGS_PATH: &str = "/api/v1/logs";

/// Routes of the Okta profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(LOGS_PATH, get(logs))
}

/// Nominal per-minute budget advertised in `X-Rate-Limit-Limit`.
const RATE_LIMIT: u64 = 600;

/// An Okta-style error response.
struct OktaError {
    status: StatusCode,
    code: &'static str,
    summary: String,
    causes: Vec<String>,
}

impl OktaError {
    fn invalid_param(name: &str, why: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "E0000001",
            summary: format!("Api validation failed: {name}"),
            causes: vec![format!("{name}: {why}")],
        }
    }

    fn invalid_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "E0000011",
            summary: "Invalid token provided".to_string(),
            causes: Vec::new(),
        }
    }

    fn rate_limited() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "E0000047",
            summary: "API call exceeded rate limit due to too many requests.".to_string(),
            causes: Vec::new(),
        }
    }

    fn body(&self, error_id: String) -> Vec<u8> {
        let causes: Vec<serde_json::Value> = self
            .causes
            .iter()
            .map(|c| serde_json::json!({ "errorSummary": c }))
            .collect();
        serde_json::json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id,
            "errorCauses": causes,
        })
        .to_string()
        .into_bytes()
    }
}

/// Parsed query of a `/api/v1/logs` request. Raw strings are kept so the `next` link
/// can repeat exactly what the client sent.
#[derive(Default)]
struct LogsQuery {
    since: Option<(String, DateTime<Utc>)>,
    until: Option<(String, DateTime<Utc>)>,
    limit: Option<(String, u64)>,
    after: Option<String>,
    sort_order: Option<String>,
}

impl LogsQuery {
    fn parse(raw: Option<&str>) -> Result<Self, OktaError> {
        let mut query = Self::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "since" if query.since.is_none() => query.since = Some(parse_time("since", value)?),
                "until" if query.until.is_none() => query.until = Some(parse_time("until", value)?),
                "limit" if query.limit.is_none() => {
                    let n = parse_limit(&value)?;
                    query.limit = Some((value, n));
                }
                "after" if query.after.is_none() => query.after = Some(value),
                "sortOrder" if query.sort_order.is_none() => {
                    if value != "ASCENDING" {
                        return Err(OktaError::invalid_param(
                            "sortOrder",
                            "the simulator only supports ASCENDING",
                        ));
                    }
                    query.sort_order = Some(value);
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

fn parse_time(name: &str, raw: String) -> Result<(String, DateTime<Utc>), OktaError> {
    match DateTime::parse_from_rfc3339(&raw) {
        Ok(t) => Ok((raw, t.with_timezone(&Utc))),
        Err(_) => Err(OktaError::invalid_param(
            name,
            "must be an RFC 3339 timestamp such as 2024-01-01T00:00:00.000Z",
        )),
    }
}

/// A positive decimal integer; values too large for u64 saturate (they are clamped to
/// the maximum page size anyway).
fn parse_limit(raw: &str) -> Result<u64, OktaError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OktaError::invalid_param(
            "limit",
            "must be a positive integer",
        ));
    }
    let n = raw.parse::<u64>().unwrap_or(u64::MAX);
    if n == 0 {
        return Err(OktaError::invalid_param("limit", "must be greater than 0"));
    }
    Ok(n)
}

/// Opaque `after` cursor for "continue at `index`": the index in hex plus a check value
/// bound to the seed, so garbage or hand-edited cursors are rejected instead of silently
/// jumping around the dataset.
fn encode_cursor(seed: u64, index: u64) -> String {
    format!(
        "{index:x}_{:08x}",
        hash3(seed, domain::CURSOR, index) as u32
    )
}

fn decode_cursor(seed: u64, events: u64, cursor: &str) -> Option<u64> {
    let (index, check) = cursor.split_once('_')?;
    if index.len() > 16 || check.len() != 8 {
        return None;
    }
    let index = u64::from_str_radix(index, 16).ok()?;
    let check = u32::from_str_radix(check, 16).ok()?;
    (index <= events && check == hash3(seed, domain::CURSOR, index) as u32).then_some(index)
}

/// The page one request serves: oldest first from `since` (or the `after` cursor) up to
/// `until`, visible events only.
fn page_window(app: &AppState, query: &LogsQuery) -> Result<Page, OktaError> {
    let timeline = &app.timeline;
    let index_of = |t: &DateTime<Utc>| timeline.first_at_or_after(ceil_millis(t));
    let since = query.since.as_ref().map_or(0, |(_, t)| index_of(t));
    let until = query
        .until
        .as_ref()
        .map_or(timeline.len(), |(_, t)| index_of(t));
    let after = match &query.after {
        Some(cursor) => decode_cursor(app.config.seed, timeline.len(), cursor)
            .ok_or_else(|| OktaError::invalid_param("after", "is not a valid cursor"))?,
        None => 0,
    };
    let limit = query
        .limit
        .as_ref()
        .map_or(app.config.default_page_size as u64, |(_, n)| *n)
        .min(app.config.max_page_size as u64);
    let listing = Listing::new(timeline, since..until, Direction::Ascending);
    Ok(listing.page(since.max(after), limit as usize, |_| true))
}

fn next_link(base: &str, query: &LogsQuery, cursor: &str) -> String {
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    let pairs = [
        ("since", query.since.as_ref().map(|(raw, _)| raw.as_str())),
        ("until", query.until.as_ref().map(|(raw, _)| raw.as_str())),
        ("limit", query.limit.as_ref().map(|(raw, _)| raw.as_str())),
        ("sortOrder", query.sort_order.as_deref()),
        ("after", Some(cursor)),
    ];
    for (key, value) in pairs {
        if let Some(value) = value {
            qs.append_pair(key, value);
        }
    }
    format!("<{base}{LOGS_PATH}?{}>; rel=\"next\"", qs.finish())
}

fn self_link(base: &str, raw_query: Option<&str>) -> String {
    match raw_query {
        Some(q) => format!("<{base}{LOGS_PATH}?{q}>; rel=\"self\""),
        None => format!("<{base}{LOGS_PATH}>; rel=\"self\""),
    }
}

fn now_epoch_secs() -> i64 {
    Utc::now().timestamp()
}

fn rate_limit_headers(headers: &mut HeaderMap, remaining: u64, reset: i64) {
    let pairs = [
        ("x-rate-limit-limit", RATE_LIMIT.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// Headers for a non-throttled response: nearly full budget, resetting at the next
/// minute boundary like Okta's per-minute windows.
fn normal_rate_limit_headers(headers: &mut HeaderMap) {
    let now = now_epoch_secs();
    rate_limit_headers(headers, RATE_LIMIT - 1, (now.div_euclid(60) + 1) * 60);
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

fn error_response(app: &AppState, error: OktaError) -> Response {
    let mut headers = HeaderMap::new();
    if error.status == StatusCode::TOO_MANY_REQUESTS {
        rate_limit_headers(&mut headers, 0, now_epoch_secs() + 1);
    } else {
        normal_rate_limit_headers(&mut headers);
    }
    let sequence = app.error_seq.fetch_add(1, Ordering::Relaxed);
    json_response(
        error.status,
        headers,
        error.body(error_id(app.config.seed, sequence)),
    )
}

fn server_error_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    normal_rate_limit_headers(&mut headers);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let body = format!("{status} (simulated)\n");
    (status, headers, body).into_response()
}

fn is_authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("SSWS "))
        .is_some_and(|t| t == token)
}

/// `GET /api/v1/logs`.
async fn logs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return error_response(&app, OktaError::rate_limited()),
        Err(Refusal::ServerError(status)) => return server_error_response(status),
    };
    let counters = &app.counters;
    if !is_authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_response(&app, OktaError::invalid_token());
    }
    let page = LogsQuery::parse(raw_query.as_deref())
        .and_then(|query| Ok((page_window(&app, &query)?, query)));
    let (window, query) = match page {
        Ok(page) => page,
        Err(error) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error_response(&app, error);
        }
    };
    serve_page(&app, &headers, raw_query.as_deref(), &query, &window, fault)
}

fn serve_page(
    app: &AppState,
    request_headers: &HeaderMap,
    raw_query: Option<&str>,
    query: &LogsQuery,
    window: &Page,
    fault: FaultKind,
) -> Response {
    let mut body = render_page(app.config.seed, &app.timeline, &window.indices);
    let mut headers = HeaderMap::new();
    normal_rate_limit_headers(&mut headers);
    let base = request_base(request_headers, app);
    let mut links = vec![self_link(&base, raw_query)];
    if let Some(next) = window.next {
        links.push(next_link(
            &base,
            query,
            &encode_cursor(app.config.seed, next),
        ));
    }
    for link in links {
        // A Link built from a request URI that hyper accepted is always a valid header
        // value; skipping instead of panicking keeps odd inputs harmless regardless.
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.append(LINK, value);
        }
    }
    body = deliver(app, fault, body, &window.indices);
    json_response(StatusCode::OK, headers, body)
}

/// An Okta-looking `errorId`, e.g. `oaeA1b2C3d4E5f6G7h8I9j0`, unique per error response.
fn error_id(seed: u64, sequence: u64) -> String {
    format!(
        "oae{}",
        base62_of(hash3(seed, domain::ERROR_ID, sequence), 19)
    )
}

#[cfg(test)]
mod tests;
