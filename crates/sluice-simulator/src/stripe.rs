//! Stripe profile: an account's events, `GET /v1/events`, newest first, paged with
//! `starting_after=<the last event's id>` while `has_more`.
//!
//! Built from Stripe's API reference ("List all events", docs.stripe.com/api/events/list;
//! "The Event object"; "Pagination", docs.stripe.com/api/pagination; "Authentication";
//! "Errors") and its "Rate limits" page (docs.stripe.com/rate-limits):
//!
//! * `GET https://api.stripe.com/v1/events` lists events "going back up to 30 days", newest
//!   first, as every Stripe list does ("return objects in reverse chronological order").
//! * `created` filters by creation time, in Unix seconds: `created[gt]` and `created[lt]`
//!   exclusive, `created[gte]` and `created[lte]` inclusive (or `created=<seconds>`, that
//!   second).
//! * `limit` 1 to 100, 10 by default. `starting_after=<object id>` lists the objects after
//!   that one in the list's order (older ones here); `ending_before` goes the other way.
//!   The answer: `{"object": "list", "url": "/v1/events", "has_more": bool, "data": [...]}`;
//!   `has_more` false means this set "comprises the end of the list".
//! * Events: `id` (`evt_...`), `object` `"event"`, `api_version`, `created` (Unix seconds),
//!   `data` (`object`, and `previous_attributes` on `*.updated`), `livemode`,
//!   `pending_webhooks`, `request` (`id` and `idempotency_key`, null ids for automatic
//!   events) and `type`; see [`events`].
//! * Authentication: the secret key (`sk_live_...`) or a restricted key (`rk_live_...`) as
//!   `Authorization: Bearer <key>` (HTTP Basic with the key as the user name works too).
//!   Without a valid key: `401` with `{"error": {"message": "Invalid API Key provided: ...",
//!   "type": "invalid_request_error"}}`.
//! * Over the rate limits (100 requests a second in live mode, 25 in a sandbox, 25 a second
//!   per endpoint by default): `429`.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * The 429 and 5xx bodies (`{"error": {"type": "invalid_request_error", "code":
//!   "rate_limit", ...}}`, `{"error": {"type": "api_error", ...}}`) are assumed from the
//!   error codes page; no `Retry-After` is sent on a 429, as the rate-limit page documents
//!   none.
//! * A `starting_after` that names no event of the account is refused with `400`
//!   `resource_missing` ("No such event"); Stripe's exact status may differ. `ending_before`,
//!   `type`, `types`, `delivery_success` and `expand` are refused with `400` as not
//!   simulated, and so is any other unknown parameter (Stripe refuses those with "Received
//!   unknown parameter"). Events of the same second are listed by their index (Stripe's
//!   order inside a second is not documented).
//! * Events older than 30 days are never listed; the simulator's spans are shorter than that.
//!   No publication delay is documented; none is simulated (late events are, see
//!   [`super::LateEvents`]).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::timeline::Timeline;
use super::AppState;

pub(crate) use events::{event, event_id};
pub use events::{index_of, API_VERSION};

/// Path of the events list.
pub const EVENTS_PATH: &str = "/v1/events";
/// Documented maximum of `limit`.
pub const MAX_LIMIT: usize = 100;
/// Documented default of `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// How far back events are listed.
pub const RETENTION_DAYS: i64 = 30;

/// Routes of the Stripe profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(EVENTS_PATH, get(list_events))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

fn error(status: StatusCode, error: Value) -> Response {
    json_response(status, json!({ "error": error }).to_string().into_bytes())
}

fn invalid(app: &AppState, param: &str, message: &str, code: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    let mut body = json!({
        "type": "invalid_request_error",
        "message": message,
        "param": param,
    });
    if !code.is_empty() {
        body["code"] = Value::String(code.to_string());
    }
    error(StatusCode::BAD_REQUEST, body)
}

/// The key in `Authorization`: `Bearer <key>`, or HTTP Basic with the key as the user name.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return Some(bearer.trim().to_string());
    }
    let pair = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?.trim())
        .ok()?;
    let pair = String::from_utf8(pair).ok()?;
    Some(
        pair.split_once(':')
            .map_or(pair.as_str(), |(user, _)| user)
            .to_string(),
    )
}

/// A key shown in an error, as Stripe masks it: its first characters and its last four.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// A parsed request.
struct Query {
    /// Timeline indices the `created` filters and the retention leave.
    lo: u64,
    hi: u64,
    limit: usize,
    starting_after: Option<String>,
}

/// The first index whose whole second is at or after `seconds`.
fn first_at_second(timeline: &Timeline, seconds: i64) -> u64 {
    timeline.first_at_or_after(seconds.saturating_mul(1000))
}

fn parse_query(
    timeline: &Timeline,
    raw: Option<&str>,
    now_ms: i64,
) -> Result<Query, (String, String)> {
    let retained = (now_ms.div_euclid(1000) - RETENTION_DAYS * 86_400).max(0);
    let (mut lo, mut hi) = (first_at_second(timeline, retained), timeline.len());
    let mut limit = DEFAULT_LIMIT;
    let mut starting_after = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let seconds = || {
            value
                .parse::<i64>()
                .map_err(|_| (key.to_string(), format!("Invalid integer: {value}")))
        };
        match key.as_ref() {
            "created[gte]" => lo = lo.max(first_at_second(timeline, seconds()?)),
            "created[gt]" => lo = lo.max(first_at_second(timeline, seconds()?.saturating_add(1))),
            "created[lt]" => hi = hi.min(first_at_second(timeline, seconds()?)),
            "created[lte]" => hi = hi.min(first_at_second(timeline, seconds()?.saturating_add(1))),
            "created" => {
                let second = seconds()?;
                lo = lo.max(first_at_second(timeline, second));
                hi = hi.min(first_at_second(timeline, second.saturating_add(1)));
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        (
                            "limit".to_string(),
                            format!("Invalid limit: must be between 1 and 100 (got {value})"),
                        )
                    })?;
            }
            "starting_after" => starting_after = Some(value.into_owned()),
            "ending_before" | "type" | "types[]" | "types" | "delivery_success" | "expand[]" => {
                return Err((key.to_string(), format!("{key} is not simulated")))
            }
            other => {
                return Err((
                    other.to_string(),
                    format!("Received unknown parameter: {other}"),
                ))
            }
        }
    }
    Ok(Query {
        lo,
        hi: hi.max(lo),
        limit,
        starting_after,
    })
}

/// `GET /v1/events`.
async fn list_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                }),
            );
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                status,
                json!({ "type": "api_error", "message": "An unknown error occurred (simulated)" }),
            );
        }
    };
    let key = presented_key(&headers);
    if key.as_deref() != Some(app.config.token.as_str()) {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        let message = match key {
            Some(key) => format!("Invalid API Key provided: {}", masked(&key)),
            None => "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".to_string(),
        };
        return error(
            StatusCode::UNAUTHORIZED,
            json!({ "type": "invalid_request_error", "message": message }),
        );
    }
    let seed = app.config.seed;
    let timeline = &app.timeline;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let query = match parse_query(timeline, raw.as_deref(), now_ms) {
        Ok(query) => query,
        Err((param, message)) => return invalid(&app, &param, &message, ""),
    };
    let listing = Listing::new(timeline, query.lo..query.hi, Direction::Descending);
    let start = match &query.starting_after {
        None => listing.first_position(),
        // The objects after it in the list: the older ones, below its index.
        Some(id) => match index_of(seed, id).filter(|i| *i < timeline.len()) {
            Some(index) => index,
            None => {
                return invalid(
                    &app,
                    "starting_after",
                    &format!("No such event: '{id}'"),
                    "resource_missing",
                )
            }
        },
    };
    let size = query.limit.min(app.config.max_page_size.max(1));
    let page = listing.page(start, size, |_| true);
    let data: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    let body = json!({
        "object": "list",
        "url": EVENTS_PATH,
        "has_more": page.next.is_some(),
        "data": data,
    });
    let bytes = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    json_response(StatusCode::OK, bytes)
}

#[cfg(test)]
mod tests;
