//! Dropbox team log profile: `POST /2/team_log/get_events`, `POST
//! /2/team_log/get_events/continue` and the OAuth token endpoint `POST /oauth2/token`.
//!
//! Built from Dropbox's HTTP API reference (dropbox.com/developers/documentation/http/teams:
//! `team_log/get_events` and `/continue`, and the documentation's "Errors" section), its
//! OAuth guide and performance guide, and the reference's type docs as the official SDKs
//! publish them (`GetEventsBuilder`, `TimeRange`, `GetTeamEventsError`,
//! `GetTeamEventsContinueError`, `RateLimitReason`):
//!
//! * `get_events` takes a JSON body: `limit` (1 to 1000, 1000 by default), `time` with
//!   `start_time` (inclusive) and `end_time` (exclusive), both optional, written
//!   `%Y-%m-%dT%H:%M:%SZ` (whole seconds), and the filters `account_id`, `category` and
//!   `event_type` (category and event type not together).
//! * An answer is `{"events": [...], "cursor": "...", "has_more": bool}`, oldest first; while
//!   `has_more` is true the client posts `{"cursor": "..."}` to `get_events/continue`. A page
//!   may hold fewer than `limit` events, even none, with `has_more` true. The cursor is
//!   always returned: after a listing without `end_time` it polls for new events.
//! * Events have a `timestamp` in whole seconds and no id.
//! * Authentication: `Authorization: Bearer <access token>` of a team app with
//!   `events.read`. A bad token gets `401 {"error_summary": "invalid_access_token/...",
//!   "error": {".tag": "invalid_access_token"}}`, an expired one `expired_access_token`. A
//!   request without the header is a bad request (`400`, plain text), as is a body that does
//!   not match the route's argument type.
//! * Route errors are `409` with `{"error_summary": "<tag>/...", "error": {".tag": "<tag>"}}`:
//!   `invalid_time_range`, `invalid_filters`, `account_id_not_found`; for `continue`,
//!   `bad_cursor` and `reset` (the cursor is too old: start over).
//! * Rate limits: `429` with `Retry-After` (seconds) and `{"error_summary":
//!   "too_many_requests/...", "error": {"reason": {".tag": "too_many_requests"},
//!   "retry_after": N}}`. Server errors are 5xx with a plain-text body.
//! * Tokens: `POST /oauth2/token` with `grant_type=refresh_token` and `refresh_token`, the
//!   app's key and secret as HTTP Basic or as `client_id`/`client_secret` form fields, gives
//!   `{"access_token": "sl...", "token_type": "bearer", "expires_in": 14400}`; a bad refresh
//!   token gets `400 {"error": "invalid_grant", ...}`, a bad client `400 {"error":
//!   "invalid_client", ...}`.
//!
//! # Assumptions and simplifications (where the docs are silent, or for tests)
//!
//! * One secret, `config.token`, is both the refresh token and a long-lived access token;
//!   the app is [`APP_KEY`] / [`APP_SECRET`]. The token endpoint is never faulted. Issued access tokens carry their expiry and a
//!   check value (bound to the seed), so they are verified without server state.
//! * The filters are refused with `409 invalid_filters` (the profile serves one category of
//!   team, unfiltered), so a client relying on one notices. Cursors never expire, so `reset`
//!   is never answered; an edited or foreign cursor gets `409 bad_cursor`.
//! * A time with fractional seconds or without `Z` is a bad request (the reference's
//!   timestamp format has neither); a start not before the end is `invalid_time_range`.
//! * No publication delay is documented, so none is simulated (late events still are, see
//!   [`super::LateEvents`]); the data does not move with the clock.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime};
use serde_json::{json, Map, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::Timeline;
use super::AppState;

pub(crate) use events::{event, event_id};

/// Path of the first page of a listing.
pub const EVENTS_PATH: &str = "/2/team_log/get_events";
/// Path of every later page.
pub const CONTINUE_PATH: &str = "/2/team_log/get_events/continue";
/// Path of the OAuth token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The app key (client id) the token endpoint accepts.
pub const APP_KEY: &str = "sim-dropbox-app";
/// The app secret the token endpoint accepts.
pub const APP_SECRET: &str = "sim-dropbox-secret";
/// Documented default and maximum of `limit`.
pub const MAX_LIMIT: usize = 1_000;
/// Lifetime of an issued access token (Dropbox's short-lived tokens last four hours).
pub const TOKEN_LIFETIME_SECS: i64 = 4 * 3600;
/// How the reference writes times.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Routes of the Dropbox profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(EVENTS_PATH, post(get_events))
        .route(CONTINUE_PATH, post(get_events_continue))
        .route(TOKEN_PATH, post(token))
}

/// A time as the reference writes it.
pub(crate) fn format_time(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format(TIME_FORMAT)
        .to_string()
}

/// Where a listing stands: the next timeline index, the end of the range (exclusive index)
/// and the page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    next: u64,
    end: u64,
    limit: usize,
}

fn json_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut headers = headers;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// Dropbox's plain-text answers (bad requests and server errors).
fn text_response(status: StatusCode, text: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (status, headers, text).into_response()
}

/// `400`: the request does not match the route (Dropbox answers these in plain text).
fn bad_request(route: &str, message: &str) -> Response {
    text_response(
        StatusCode::BAD_REQUEST,
        format!("Error in call to API function \"{route}\": {message}"),
    )
}

/// The documented error object: `{"error_summary": "<tag>/...", "error": {".tag": <tag>}}`.
fn tagged_error(status: StatusCode, tag: &str) -> Response {
    // Dropbox appends characters to the summary; clients must match on the prefix.
    let body = json!({ "error_summary": format!("{tag}/.."), "error": { ".tag": tag } });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn rate_limited() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    let body = json!({
        "error_summary": "too_many_requests/..",
        "error": { "reason": { ".tag": "too_many_requests" }, "retry_after": 1 },
    });
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        headers,
        body.to_string().into_bytes(),
    )
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    text_response(status, "An error occurred on the Dropbox servers.".into())
}

fn check(seed: u64, position: Position) -> u32 {
    let mixed = mix64(position.next ^ mix64(position.end ^ mix64(position.limit as u64)));
    hash3(seed, domain::CURSOR, mixed) as u32
}

/// The opaque cursor, bound to the seed by a check value so an edited one is refused.
fn encode_cursor(seed: u64, position: Position) -> String {
    let text = format!(
        "{:x}:{:x}:{:x}:{:08x}",
        position.next,
        position.end,
        position.limit,
        check(seed, position)
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(seed: u64, cursor: &str) -> Option<Position> {
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
    (given == check(seed, position)).then_some(position)
}

/// An access token the token endpoint issues: its expiry (Unix seconds) and a check value.
pub(crate) fn issue_token(seed: u64, expires: i64) -> String {
    let check = hash3(seed, domain::TOKEN, expires as u64) as u32;
    let text = format!("{expires:x}:{check:08x}");
    format!(
        "sl.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    )
}

/// The expiry of an access token this profile issued, or `None` for any other string.
fn issued_expiry(seed: u64, token: &str) -> Option<i64> {
    let encoded = token.strip_prefix("sl.")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (expires, check) = text.split_once(':')?;
    let expires = i64::from_str_radix(expires, 16).ok()?;
    let check = u32::from_str_radix(check, 16).ok()?;
    (check == hash3(seed, domain::TOKEN, expires as u64) as u32).then_some(expires)
}

/// Checks `Authorization`: `None` when it is good, else the refusal.
fn refuse_auth(app: &AppState, route: &str, headers: &HeaderMap) -> Option<Response> {
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return Some(bad_request(
            route,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        ));
    };
    if given == app.config.token {
        return None;
    }
    match issued_expiry(app.config.seed, given) {
        Some(expires) if expires > chrono::Utc::now().timestamp() => None,
        Some(_) => Some(tagged_error(
            StatusCode::UNAUTHORIZED,
            "expired_access_token",
        )),
        None => Some(tagged_error(
            StatusCode::UNAUTHORIZED,
            "invalid_access_token",
        )),
    }
}

/// A request's JSON object body; `Err` is the 400 message.
fn object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with("application/json"));
    if !json {
        return Err("Bad HTTP \"Content-Type\" header. Expecting \"application/json\".".into());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err("request body: could not decode input as JSON".into()),
    }
}

/// A time as the reference writes it, in Unix seconds.
fn seconds(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    let time = NaiveDateTime::parse_from_str(text, TIME_FORMAT).ok()?;
    Some(time.and_utc().timestamp())
}

/// Why a `get_events` body is refused.
enum Refused {
    /// 400, with the message.
    BadRequest(String),
    /// 409, with the tag.
    Route(&'static str),
}

/// Reads a `get_events` body into the first position of its range.
fn parse_arg(app: &AppState, fields: &Map<String, Value>) -> Result<Position, Refused> {
    let bad = |message: &str| Refused::BadRequest(format!("request body: {message}"));
    let timeline = &app.timeline;
    let mut position = Position {
        next: 0,
        end: timeline.len(),
        limit: MAX_LIMIT.min(app.config.max_page_size),
    };
    let (mut start, mut end) = (None, None);
    for (key, value) in fields {
        match key.as_str() {
            "limit" => {
                let limit = value
                    .as_u64()
                    .filter(|l| (1..=MAX_LIMIT as u64).contains(l))
                    .ok_or_else(|| bad("limit: must be an integer from 1 to 1000"))?;
                position.limit = (limit as usize).min(app.config.max_page_size);
            }
            "time" => {
                let range = value
                    .as_object()
                    .ok_or_else(|| bad("time: expected object"))?;
                for (key, value) in range {
                    let at = seconds(value).ok_or_else(|| {
                        bad(&format!(
                            "time.{key}: expected a timestamp like \"2026-01-01T00:00:00Z\""
                        ))
                    })?;
                    match key.as_str() {
                        "start_time" => start = Some(at),
                        "end_time" => end = Some(at),
                        _ => return Err(bad(&format!("time: unknown field '{key}'"))),
                    }
                }
            }
            "account_id" | "category" | "event_type" => {
                return Err(Refused::Route("invalid_filters"))
            }
            _ => return Err(bad(&format!("unknown field '{key}'"))),
        }
    }
    if let (Some(start), Some(end)) = (start, end) {
        if start >= end {
            return Err(Refused::Route("invalid_time_range"));
        }
    }
    // Served times are whole seconds: `start_time` includes its second, `end_time` excludes
    // its own.
    if let Some(start) = start {
        position.next = timeline.first_at_or_after(start.saturating_mul(1000));
    }
    if let Some(end) = end {
        position.end = timeline.first_at_or_after(end.saturating_mul(1000));
    }
    Ok(position)
}

/// The visible events from `position`: at most `limit` indices, where the next page starts,
/// and whether visible events of the range remain.
fn page(timeline: &Timeline, position: Position) -> (Vec<u64>, u64, bool) {
    let listing = Listing::new(timeline, position.next..position.end, Direction::Ascending);
    let page = listing.page(position.next, position.limit, |_| true);
    // With nothing more to read the cursor stays after the last event served, so a client
    // polling with it later picks up what was published since.
    let next = page
        .next
        .unwrap_or_else(|| page.indices.last().map_or(position.next, |last| last + 1));
    (page.indices, next, page.next.is_some())
}

/// Serves the page at `position`.
fn serve(app: &AppState, fault: super::faults::FaultKind, position: Position) -> Response {
    let (indices, next, has_more) = page(&app.timeline, position);
    let cursor = encode_cursor(app.config.seed, Position { next, ..position });
    let events: Vec<Value> = indices
        .iter()
        .map(|i| events::build(app.config.seed, &app.timeline, *i))
        .collect();
    let body = json!({ "events": events, "cursor": cursor, "has_more": has_more });
    let body = deliver(app, fault, body.to_string().into_bytes(), &indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

/// `POST /2/team_log/get_events`.
async fn get_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    const ROUTE: &str = "team_log/get_events";
    if let Some(refusal) = refuse_auth(&app, ROUTE, &headers) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return refusal;
    }
    let position = match object(&headers, &body)
        .map_err(Refused::BadRequest)
        .and_then(|fields| parse_arg(&app, &fields))
    {
        Ok(position) => position,
        Err(refused) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return match refused {
                Refused::BadRequest(message) => bad_request(ROUTE, &message),
                Refused::Route(tag) => tagged_error(StatusCode::CONFLICT, tag),
            };
        }
    };
    serve(&app, fault, position)
}

/// `POST /2/team_log/get_events/continue`.
async fn get_events_continue(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(),
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    const ROUTE: &str = "team_log/get_events/continue";
    if let Some(refusal) = refuse_auth(&app, ROUTE, &headers) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return refusal;
    }
    let fields = match object(&headers, &body) {
        Ok(fields) => fields,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return bad_request(ROUTE, &message);
        }
    };
    // The argument is exactly `{"cursor": "..."}`.
    let cursor = match (fields.get("cursor").and_then(Value::as_str), fields.len()) {
        (Some(cursor), 1) => cursor,
        _ => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return bad_request(ROUTE, "request body: expected exactly the field 'cursor'");
        }
    };
    match decode_cursor(app.config.seed, cursor) {
        Some(position) => serve(&app, fault, position),
        None => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            tagged_error(StatusCode::CONFLICT, "bad_cursor")
        }
    }
}

/// An OAuth error answer, `{"error": ..., "error_description": ...}`.
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    json_response(
        StatusCode::BAD_REQUEST,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

/// The app key and secret of a token request: HTTP Basic (form-encoded parts, RFC 6749
/// section 2.3.1) or form fields.
fn client_of(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(basic) = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (id, secret) = text.split_once(':')?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((decode(id)?, decode(secret)?));
    }
    Some((field("client_id")?, field("client_secret")?))
}

/// `POST /oauth2/token`: the refresh token grant. Not faulted (as the other profiles' token
/// endpoints): the faults exercise the listing.
async fn token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let refuse = |error, description| {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        oauth_error(error, description)
    };
    if field("grant_type") != Some("refresh_token") {
        return refuse(
            "unsupported_grant_type",
            "this app only uses refresh tokens",
        );
    }
    match client_of(&headers, &form) {
        Some((id, secret)) if id == APP_KEY && secret == APP_SECRET => {}
        _ => return refuse("invalid_client", "Invalid client_id or client_secret"),
    }
    if field("refresh_token") != Some(app.config.token.as_str()) {
        return refuse("invalid_grant", "refresh token is invalid or revoked");
    }
    let expires = chrono::Utc::now().timestamp() + TOKEN_LIFETIME_SECS;
    let body = json!({
        "access_token": issue_token(app.config.seed, expires),
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
    });
    json_response(
        StatusCode::OK,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests;
