//! SentinelOne activities profile (Management API 2.1): `GET /web/api/v2.1/activities`.
//!
//! SentinelOne's API reference is served only inside each management console
//! (`https://<console>/api-doc/`). Built from that reference as integrations built on it show
//! it (SentinelOne's Postman workspace as quoted by docs.logrhythm.com/OCbeats/docs/
//! sentinelone-beat, with a real answer; github.com/elastic/integrations
//! packages/sentinel_one/data_stream/activity; docs.onum.com's SentinelOne web API pages),
//! checked 2026-12-08:
//!
//! * Requests carry `Authorization: ApiToken <API token>`.
//! * `createdAt__gt`, `createdAt__gte`, `createdAt__lt` and `createdAt__lte` filter on the
//!   activity's `createdAt`, ISO 8601 UTC, written with microseconds in answers
//!   (`2024-12-17T05:04:46.489699Z`).
//! * `sortBy=createdAt` with `sortOrder=asc` or `desc`; `limit` caps the activities of a page;
//!   `cursor` is the previous answer's `pagination.nextCursor`, sent with the same filters.
//! * An answer is `{"data": [...], "pagination": {"nextCursor": "<opaque>" | null,
//!   "totalItems": n}}`; a null cursor ends the listing.
//! * Each activity has a unique `id` (a string of digits), `activityType` (a number),
//!   `createdAt`, `updatedAt`, `primaryDescription`, `secondaryDescription`, `userId`, the
//!   account, site and group ids and names, `agentId`, `threatId`, `activityUuid` and `data`.
//! * Errors are `{"errors": [{"code", "detail", "title"}]}`; a wrong token is `401`
//!   "Authentication Failed".
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * `limit` is 1 to 1000 ([`MAX_LIMIT`]) and 10 without one ([`DEFAULT_LIMIT`]), as the
//!   console reference is quoted; anything else is refused with 400 "Validation Error".
//! * Without `sortOrder` the listing is newest first (the default is not stated).
//! * `createdAt` is the timeline's millisecond written with six digits (the last three
//!   zero): comparisons are exact, so `__gte`/`__lt` windows tile the time line.
//! * The cursor encodes the position, the query's range and direction, with a check value; an
//!   edited one, or one sent with other filters, is refused with 400.
//! * The other filters (`activityTypes`, `accountIds`, `siteIds`, ...), `skip` and
//!   `countOnly` are refused with 400, so a client relying on one notices.
//! * Rate limits are per token and endpoint in the console reference and not modelled; an
//!   injected 429 carries the same error shape ("Too Many Requests", code 4290010, assumed)
//!   and no `Retry-After` (none is known). 5xx is "Server Error".
//! * Retention is not modelled: every generated activity is available.

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
use crate::sealed::{Alphabet, Position};

/// Its cursors are standard base64, `+`, `/` and `=` included, which a client must
/// percent-encode in the query.
const ALPHABET: Alphabet = Alphabet::Standard;

pub(crate) use events::{event, event_id};

/// The activities endpoint.
pub const ACTIVITIES_PATH: &str = "/web/api/v2.1/activities";
/// Activities per page without `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1_000;

/// Routes of the SentinelOne profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(ACTIVITIES_PATH, get(list))
}

/// A parsed request: activities whose timeline index lies in `lo..hi`, in `direction`.
#[derive(Debug)]
struct ActivitiesQuery {
    lo: u64,
    hi: u64,
    direction: Direction,
    limit: usize,
    cursor: Option<String>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// `{"errors": [{"code", "detail", "title"}]}`.
fn error(status: StatusCode, code: u32, title: &str, detail: Option<&str>) -> Response {
    let body = json!({ "errors": [{ "code": code, "detail": detail, "title": title }] });
    json_response(status, body.to_string().into_bytes())
}

/// A time as the `createdAt__*` filters take it, in microseconds since the epoch.
fn parse_micros(name: &str, value: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
        .map_err(|_| format!("{name} must be an ISO 8601 timestamp, got {value:?}"))
}

/// The filters the reference lists that the profile does not serve.
const UNSERVED: &[&str] = &[
    "activityTypes",
    "accountIds",
    "siteIds",
    "groupIds",
    "agentIds",
    "threatIds",
    "userIds",
    "userEmails",
    "ids",
    "includeHidden",
    "skip",
    "skipCount",
    "countOnly",
];

/// The first millisecond at or after `micros`, and the first one strictly after it.
fn ceil_ms(micros: i64) -> i64 {
    micros.div_euclid(1000) + i64::from(micros.rem_euclid(1000) != 0)
}

fn parse_query(app: &AppState, raw: Option<&str>) -> Result<ActivitiesQuery, String> {
    // Bounds in milliseconds of the timeline: `from` inclusive, `to` exclusive.
    let mut from_ms = i64::MIN;
    let mut to_ms = i64::MAX;
    let mut direction = Direction::Descending;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            // A served time is `ms * 1000` microseconds.
            "createdAt__gte" => from_ms = from_ms.max(ceil_ms(parse_micros(&key, &value)?)),
            "createdAt__gt" => {
                from_ms = from_ms.max(parse_micros(&key, &value)?.div_euclid(1000) + 1)
            }
            "createdAt__lt" => to_ms = to_ms.min(ceil_ms(parse_micros(&key, &value)?)),
            "createdAt__lte" => to_ms = to_ms.min(parse_micros(&key, &value)?.div_euclid(1000) + 1),
            "sortBy" if !matches!(value.as_ref(), "createdAt" | "id") => {
                return Err(format!(
                    "the simulator sorts by createdAt or id, not {value:?}"
                ));
            }
            "sortOrder" => {
                direction = match value.as_ref() {
                    "asc" => Direction::Ascending,
                    "desc" => Direction::Descending,
                    other => return Err(format!("sortOrder must be asc or desc, got {other:?}")),
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
            key if UNSERVED.contains(&key) => {
                return Err(format!("the simulator does not filter by {key}"));
            }
            _ => {}
        }
    }
    let timeline = &app.timeline;
    let lo = if from_ms == i64::MIN {
        0
    } else {
        timeline.first_at_or_after(from_ms)
    };
    let hi = if to_ms == i64::MAX {
        timeline.len()
    } else {
        timeline.first_at_or_after(to_ms)
    }
    .max(lo);
    Ok(ActivitiesQuery {
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

/// `true` when the request carries the token as `ApiToken <token>`.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("ApiToken "))
        .is_some_and(|given| given == token)
}

/// `{"data": [...], "pagination": {"nextCursor": ..., "totalItems": n}}`.
fn render_page(app: &AppState, indices: &[u64], cursor: Option<&str>, total: u64) -> Vec<u8> {
    let mut body = b"{\"data\":[".to_vec();
    for (n, index) in indices.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        let activity = events::build(app.config.seed, &app.timeline, *index);
        // Writing a JSON value into a Vec cannot fail.
        serde_json::to_writer(&mut body, &activity).expect("a JSON value serializes into a Vec");
    }
    let pagination = json!({
        "nextCursor": cursor.map_or(Value::Null, Value::from),
        "totalItems": total,
    });
    body.extend_from_slice(b"],\"pagination\":");
    body.extend_from_slice(pagination.to_string().as_bytes());
    body.push(b'}');
    body
}

/// `GET /web/api/v2.1/activities`.
async fn list(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                4_290_010,
                "Too Many Requests",
                Some("API rate limit exceeded"),
            )
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, 5_000_010, "Server Error", None);
        }
    };
    let counters = &app.counters;
    if !authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNAUTHORIZED,
            4_010_010,
            "Authentication Failed",
            None,
        );
    }
    let bad_request = |message: &str| {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        error(
            StatusCode::BAD_REQUEST,
            4_000_010,
            "Validation Error",
            Some(message),
        )
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
            Some(_) => return bad_request("the cursor belongs to other filters"),
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
    let body = render_page(&app, &page.indices, cursor.as_deref(), query.hi - query.lo);
    let body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, body)
}

#[cfg(test)]
mod tests;
