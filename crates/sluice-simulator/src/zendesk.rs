//! Zendesk profile: the Support API's audit logs, `GET /api/v2/audit_logs`, with cursor
//! pagination.
//!
//! Built from Zendesk's API reference ("Audit Logs": List Audit Logs; "Pagination"; "Rate
//! limits"; "Security and authentication") and its guides "Paginating through lists using
//! cursor pagination" and "Best practices for avoiding rate limiting":
//!
//! * `GET /api/v2/audit_logs` (Enterprise plans, admins). `filter[created_at]` bounds the
//!   records by creation time and must be given twice, start then end (here as
//!   `filter[created_at][]`). `sort` (cursor pagination only) is `-created_at` by default
//!   (newest first); `created_at` lists oldest first.
//! * Cursor pagination: `page[size]` (at most 100) selects it; the answer is
//!   `{"audit_logs": [...], "meta": {"has_more", "after_cursor", "before_cursor"}, "links":
//!   {"next", "prev"}}`; the next page is `page[after]=<after_cursor>` with the same
//!   parameters (as `links.next` writes it); the listing ends when `has_more` is false.
//! * Records have an integer `id` and `created_at` (ISO 8601, whole seconds, `Z`); see
//!   [`events`].
//! * Authentication: an API token as HTTP Basic `{email}/token:{api_token}`, or an OAuth
//!   access token as `Bearer`. Without valid credentials: `401 {"error": "Couldn't
//!   authenticate you"}`.
//! * Over the account's rate limit (700 requests a minute on Enterprise): `429` with
//!   `Retry-After` (seconds).
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * Both `filter[created_at]` bounds are taken as inclusive, compared with the served
//!   (whole-second) times. Only the range filter and the two sort orders are simulated; the
//!   other filters, offset pagination (no `page[size]`), `page[before]`, a `page[size]`
//!   outside 1..=100, a range given other than exactly twice, an end before the start, and a
//!   cursor this listing did not hand out are refused with `400 {"error": "InvalidValue",
//!   "description": ...}` (Zendesk's wording may differ), so a client relying on them
//!   notices. Cursors never expire.
//! * The credentials are [`ADMIN_EMAIL`] with the API token `token`, or `token` as an OAuth
//!   bearer token. The 429 and 5xx bodies (`{"error": "APIRateLimitExceeded", ...}`,
//!   `{"error": "InternalError", ...}`) are assumed; `Retry-After` is one second so tests stay
//!   quick. No publication delay is documented; none is simulated (late events are, see
//!   [`super::LateEvents`]).

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
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::Timeline;
use super::AppState;

pub use events::FIRST_ID;
pub(crate) use events::{event, event_id};

/// Path of the audit logs.
pub const AUDIT_LOGS_PATH: &str = "/api/v2/audit_logs";
/// The admin whose API token the simulator accepts (the token is the simulator's `token`).
pub const ADMIN_EMAIL: &str = "admin@acme.example";
/// Documented maximum of `page[size]`.
pub const MAX_PAGE_SIZE: usize = 100;
/// The host records' `url` names.
const ACCOUNT_URL: &str = "https://acme.zendesk.com";

/// Routes of the Zendesk profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(AUDIT_LOGS_PATH, get(list_audit_logs))
}

fn json_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut headers = headers;
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body).into_response()
}

fn error(status: StatusCode, body: Value) -> Response {
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn invalid(app: &AppState, description: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    error(
        StatusCode::BAD_REQUEST,
        json!({ "error": "InvalidValue", "description": description }),
    )
}

/// Whether `Authorization` carries the admin's API token or the OAuth token.
fn authorized(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let token = app.config.token.as_str();
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return bearer.trim() == token;
    }
    value
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair == format!("{ADMIN_EMAIL}/token:{token}"))
}

/// A listing's range and order, which a cursor is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    lo: u64,
    hi: u64,
    direction: Direction,
}

fn cursor_check(seed: u64, range: Range, position: u64) -> u64 {
    let order = u64::from(range.direction == Direction::Descending);
    hash3(
        seed,
        domain::CURSOR,
        mix64(range.lo ^ mix64(range.hi ^ mix64(position ^ mix64(order)))),
    ) & 0xffff_ffff
}

fn encode_cursor(seed: u64, range: Range, position: u64) -> String {
    let text = format!("{position:x}.{:08x}", cursor_check(seed, range, position));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(seed: u64, range: Range, cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (position, check) = text.split_once('.')?;
    let position = u64::from_str_radix(position, 16).ok()?;
    let check = u64::from_str_radix(check, 16).ok()?;
    (check == cursor_check(seed, range, position) && (range.lo..=range.hi).contains(&position))
        .then_some(position)
}

/// A parsed request.
struct Query {
    range: Range,
    size: usize,
    after: Option<String>,
    /// The parameters other than `page[after]`, for `links.next`.
    kept: Vec<(String, String)>,
}

/// Milliseconds of the first whole second at or after `t`.
fn ceil_second_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    ms.div_euclid(1000) * 1000 + if ms.rem_euclid(1000) == 0 { 0 } else { 1000 }
}

fn parse_query(timeline: &Timeline, raw: Option<&str>) -> Result<Query, String> {
    let mut created = Vec::new();
    let (mut size, mut after, mut direction) = (None, None, Direction::Descending);
    let mut kept = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "filter[created_at][]" | "filter[created_at]" => {
                let time = DateTime::parse_from_rfc3339(&value).map_err(|_| {
                    format!("filter[created_at] must be an ISO 8601 time, got '{value}'")
                })?;
                created.push(time.to_utc());
            }
            "page[size]" => {
                size = Some(
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| format!("page[size] must be 1 to 100, got '{value}'"))?,
                );
            }
            "page[after]" => {
                after = Some(value.into_owned());
                continue;
            }
            "sort" => {
                direction = match value.as_ref() {
                    "-created_at" => Direction::Descending,
                    "created_at" => Direction::Ascending,
                    other => return Err(format!("sort '{other}' is not supported")),
                }
            }
            other if other.starts_with("filter[") || other.starts_with("page[") => {
                return Err(format!("{other} is not simulated"))
            }
            "sort_by" | "sort_order" | "page" | "per_page" => {
                return Err("offset pagination is not simulated: send page[size]".into())
            }
            _ => {}
        }
        kept.push((key.into_owned(), value.into_owned()));
    }
    let size = size.ok_or("offset pagination is not simulated: send page[size]")?;
    let (lo, hi) = match created[..] {
        [] => (0, timeline.len()),
        [start, end] if start <= end => {
            // Both bounds inclusive, on whole seconds.
            let lo = timeline.first_at_or_after(ceil_second_ms(start));
            let after_end = (end.timestamp_millis().div_euclid(1000) + 1) * 1000;
            (lo, timeline.first_at_or_after(after_end).max(lo))
        }
        [_, _] => return Err("filter[created_at]: the end is before the start".into()),
        _ => {
            return Err(
                "filter[created_at] must be given twice: the start time, then the end time".into(),
            )
        }
    };
    Ok(Query {
        range: Range { lo, hi, direction },
        size,
        after,
        kept,
    })
}

/// `GET /api/v2/audit_logs`.
async fn list_audit_logs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            let mut extra = HeaderMap::new();
            extra.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            let body = json!({
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            });
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                extra,
                body.to_string().into_bytes(),
            );
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                status,
                json!({ "error": "InternalError", "description": "Something went wrong (simulated)" }),
            );
        }
    };
    if !authorized(&app, &headers) {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "Couldn't authenticate you" }),
        );
    }
    let seed = app.config.seed;
    let timeline = &app.timeline;
    let query = match parse_query(timeline, raw.as_deref()) {
        Ok(query) => query,
        Err(message) => return invalid(&app, &message),
    };
    let range = query.range;
    let listing = Listing::new(timeline, range.lo..range.hi, range.direction);
    let start = match &query.after {
        None => listing.first_position(),
        Some(cursor) => match decode_cursor(seed, range, cursor) {
            Some(position) => position,
            None => return invalid(&app, "page[after] is not a cursor of this listing"),
        },
    };
    let size = query.size.min(app.config.max_page_size.max(1));
    let page = listing.page(start, size, |_| true);
    let records: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i, ACCOUNT_URL))
        .collect();
    let after_cursor = page.next.map(|next| encode_cursor(seed, range, next));
    let before_cursor = (!page.indices.is_empty()).then(|| encode_cursor(seed, range, start));
    let base = super::request_base(&headers, &app);
    let link = |param: &str, cursor: &Option<String>| -> Value {
        cursor.as_ref().map_or(Value::Null, |cursor| {
            let mut url = url::Url::parse(&format!("{base}{AUDIT_LOGS_PATH}"))
                .expect("request_base gives a base that parses as a URL");
            url.query_pairs_mut()
                .extend_pairs(&query.kept)
                .append_pair(param, cursor);
            Value::String(url.to_string())
        })
    };
    let body = json!({
        "audit_logs": records,
        "meta": {
            "has_more": page.next.is_some(),
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
        },
        "links": {
            "next": link("page[after]", &after_cursor),
            "prev": link("page[before]", &before_cursor),
        },
    });
    let bytes = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), bytes)
}

#[cfg(test)]
mod tests;
