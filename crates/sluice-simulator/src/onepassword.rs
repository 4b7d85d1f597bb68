//! 1Password Events API profile: `POST /api/v1/{auditevents,itemusages,signinattempts}`.
//!
//! Built from 1Password's "Events API reference" (developer.1password.com/docs/events-api:
//! its reference, pagination, rate-limit and status-code pages) and the published OpenAPI
//! description of the API:
//!
//! * Three endpoints, one per event kind: `auditevents`, `itemusages`, `signinattempts`,
//!   all `POST` with a JSON body, on `events.1password.com` (or `.ca`, `.eu`,
//!   `events.ent.1password.com`).
//! * Authentication: `Authorization: Bearer <token>`, the JWT of an Events Reporting
//!   integration, scoped to the event kinds chosen when it was made; without a valid one,
//!   `401` with the documented error object `{"Error": {"Message": "Unauthorized"}}`.
//! * A listing starts with a "reset cursor" body, `{"limit": N, "start_time": "<RFC 3339>",
//!   "end_time": "<RFC 3339>"}` (every field optional, `limit` 1 to 1000, 100 by default);
//!   every later request sends only the "continuing cursor" `{"cursor": "..."}` from the
//!   previous answer.
//! * An answer is `{"cursor": "...", "has_more": bool, "items": [...]}`, oldest first; the
//!   cursor is always present (a client keeps it to poll later), so `has_more` says whether
//!   to go on. The reference warns that a page after `has_more: true` may be empty.
//! * Each item has a `uuid` (26 characters of base32) and a `timestamp` (RFC 3339).
//! * Rate limits: 600 requests a minute and 30,000 an hour; over either, `429`. The docs name
//!   no rate-limit header, so none is sent: a client must back off by itself. (The body is
//!   the error object with "Too many requests": the wording is assumed.)
//!
//! # Assumptions and simplifications (where the docs are silent)
//!
//! * A body mixing the two cursor kinds (`cursor` with `start_time`, `end_time` or `limit`),
//!   a body that is not a JSON object, an unknown field, a bad time or a `limit` outside
//!   1..=1000 is refused with `400 {"Error": {"Message": ...}}`; an unreadable or foreign
//!   cursor likewise.
//! * `start_time` and `end_time` are both inclusive (the docs do not say; inclusive is the
//!   harder case for a client that tiles windows).
//! * One dataset split across the endpoints: event `i` belongs to [`Stream::of`]`(i)`, so
//!   each stream's events are known exactly ([`stream_ids`]).
//! * The token grants every event kind; the data does not move with the clock.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use chrono::DateTime;
use serde_json::{Map, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::Timeline;
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// Page size of a reset cursor without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Documented maximum of `limit`.
pub const MAX_LIMIT: usize = 1_000;

/// One of the API's three event kinds, each its own endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `POST /api/v1/auditevents`: actions by team members.
    AuditEvents,
    /// `POST /api/v1/itemusages`: items used in shared vaults.
    ItemUsages,
    /// `POST /api/v1/signinattempts`: successful and failed sign-ins.
    SignInAttempts,
}

impl Stream {
    /// The three, in the order events are dealt to them.
    pub const ALL: [Stream; 3] = [
        Stream::AuditEvents,
        Stream::ItemUsages,
        Stream::SignInAttempts,
    ];

    /// The stream event `index` belongs to.
    pub fn of(index: u64) -> Stream {
        Stream::ALL[(index % 3) as usize]
    }

    /// The endpoint's path.
    pub const fn path(self) -> &'static str {
        match self {
            Stream::AuditEvents => "/api/v1/auditevents",
            Stream::ItemUsages => "/api/v1/itemusages",
            Stream::SignInAttempts => "/api/v1/signinattempts",
        }
    }

    fn number(self) -> u64 {
        match self {
            Stream::AuditEvents => 0,
            Stream::ItemUsages => 1,
            Stream::SignInAttempts => 2,
        }
    }
}

/// The `uuid`s of every event `stream` serves, in serving order.
pub fn stream_ids(config: &SimulatorConfig, stream: Stream) -> Vec<String> {
    (stream.number()..config.events)
        .step_by(3)
        .map(|i| event_id(config, i))
        .collect()
}

/// Routes of the 1Password profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for stream in Stream::ALL {
        router = router.route(
            stream.path(),
            post(
                move |state: State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Bytes| {
                    events_handler(state, stream, headers, body)
                },
            ),
        );
    }
    router
}

/// Where a listing stands: the next timeline index to look at, the end of the range
/// (exclusive index) and the page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    next: u64,
    end: u64,
    limit: usize,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// The documented error object, `{"Error": {"Message": ...}}`.
fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "Error": { "Message": message } });
    json_response(status, body.to_string().into_bytes())
}

fn check(seed: u64, stream: Stream, position: Position) -> u32 {
    let mixed = mix64(position.next ^ mix64(position.end ^ mix64(position.limit as u64)));
    hash3(seed, domain::CURSOR, mixed ^ stream.number()) as u32
}

/// The opaque continuing cursor, bound to the seed and the endpoint by a check value so an
/// edited cursor, or one from another endpoint, is refused.
fn encode_cursor(seed: u64, stream: Stream, position: Position) -> String {
    let text = format!(
        "{:x}:{:x}:{:x}:{:08x}",
        position.next,
        position.end,
        position.limit,
        check(seed, stream, position)
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(seed: u64, stream: Stream, cursor: &str) -> Option<Position> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(':');
    let mut number = || u64::from_str_radix(parts.next()?, 16).ok();
    let position = Position {
        next: number()?,
        end: number()?,
        limit: usize::try_from(number()?).ok()?,
    };
    let given = u32::from_str_radix(parts.next()?, 16).ok()?;
    (given == check(seed, stream, position)).then_some(position)
}

/// Reads a request body: a continuing cursor, or a reset cursor turned into the first
/// position of its range. `Err` is the 400 message.
fn parse_body(app: &AppState, stream: Stream, body: &[u8]) -> Result<Position, &'static str> {
    let fields: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => fields,
        _ => return Err("the request body must be a JSON object"),
    };
    if let Some(cursor) = fields.get("cursor") {
        if fields.len() > 1 {
            return Err("a cursor request takes only the cursor: start_time, end_time and limit belong to a reset cursor");
        }
        let cursor = cursor.as_str().ok_or("cursor must be a string")?;
        return decode_cursor(app.config.seed, stream, cursor).ok_or("invalid cursor");
    }
    let timeline = &app.timeline;
    let mut position = Position {
        next: 0,
        end: timeline.len(),
        limit: DEFAULT_LIMIT.min(app.config.max_page_size),
    };
    for (key, value) in &fields {
        match key.as_str() {
            "limit" => {
                let limit = value
                    .as_u64()
                    .filter(|l| (1..=MAX_LIMIT as u64).contains(l))
                    .ok_or("limit must be a number from 1 to 1000")?;
                position.limit = (limit as usize).min(app.config.max_page_size);
            }
            "start_time" => position.next = timeline.first_at_or_after(millis(value)?),
            // Inclusive: events at the end time itself are served.
            "end_time" => {
                position.end = timeline.first_at_or_after(millis(value)?.saturating_add(1))
            }
            _ => return Err("unknown field: a reset cursor has limit, start_time and end_time"),
        }
    }
    Ok(position)
}

/// An RFC 3339 time as Unix milliseconds, rounded up (a start at 10.0005 s excludes an event
/// at 10.000 s).
fn millis(value: &Value) -> Result<i64, &'static str> {
    let text = value
        .as_str()
        .ok_or("start_time and end_time must be RFC 3339 strings")?;
    let time = DateTime::parse_from_rfc3339(text)
        .map_err(|_| "start_time and end_time must be RFC 3339 times")?;
    Ok(super::timeline::ceil_millis(&time.to_utc()))
}

/// The visible indices of `stream`'s events from `position`: at most `limit` of them,
/// where the next page starts, and whether visible events of the range remain.
fn page(timeline: &Timeline, stream: Stream, position: Position) -> (Vec<u64>, u64, bool) {
    let range = position.next..position.end;
    let listing = Listing::new(timeline, range, Direction::Ascending);
    let page = listing.page(position.next, position.limit, |i| Stream::of(i) == stream);
    // With nothing more to read, the cursor stays after the last event served, so a
    // client polling with it later picks up what was published since.
    let next = page
        .next
        .unwrap_or_else(|| page.indices.last().map_or(position.next, |last| last + 1));
    (page.indices, next, page.next.is_some())
}

fn is_authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| given == token)
}

/// `POST /api/v1/<stream>`.
async fn events_handler(
    State(app): State<Arc<AppState>>,
    stream: Stream,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "Internal Server Error");
        }
    };
    let counters = &app.counters;
    if !is_authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let position = match parse_body(&app, stream, &body) {
        Ok(position) => position,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    let (indices, next, has_more) = page(&app.timeline, stream, position);
    let following = Position { next, ..position };
    let cursor = encode_cursor(app.config.seed, stream, following);
    let body = render_page(
        app.config.seed,
        &app.timeline,
        stream,
        &indices,
        &cursor,
        has_more,
    );
    json_response(StatusCode::OK, deliver(&app, fault, body, &indices))
}

fn render_page(
    seed: u64,
    timeline: &Timeline,
    stream: Stream,
    indices: &[u64],
    cursor: &str,
    has_more: bool,
) -> Vec<u8> {
    let items: Vec<Value> = indices
        .iter()
        .map(|i| events::build(seed, timeline, stream, *i))
        .collect();
    let body = serde_json::json!({ "cursor": cursor, "has_more": has_more, "items": items });
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests;
