//! Zoom profile: the account reports `GET /v2/report/operationlogs` and
//! `GET /v2/report/activities`, and the OAuth server's `POST /oauth/token` for
//! Server-to-Server OAuth apps.
//!
//! Built from Zoom's API reference ("Get operation logs report", "Get sign In / sign out
//! activity report"), its "Rate limits", "Error definitions" and "Server-to-Server OAuth"
//! pages:
//!
//! * Both reports take `from` and `to`, dates written `yyyy-mm-dd` (both days included; at most
//!   one month apart), `page_size` (at most 300, 30 without it) and `next_page_token`.
//! * An answer is `{"from", "to", "page_size", "next_page_token", "<records key>": [...]}`:
//!   `operation_logs` or `activity_logs`, newest first; `next_page_token` is `""` on the last
//!   page, and no records is `[]`. A page token expires after 15 minutes.
//! * Records have `time` (ISO 8601, whole seconds, `Z`) and no id.
//! * The API wants `Authorization: Bearer <access token>`; without a valid one, `401` with
//!   `{"code": 124, "message": "Invalid access token."}`. Errors are `{"code", "message"}`;
//!   validation errors are `400` with code 300. Over the rate limit (both reports are "Heavy"):
//!   `429` with `{"code": 429, "message": ...}` and `X-RateLimit-Category` / `-Type`.
//! * Tokens: `POST /oauth/token?grant_type=account_credentials&account_id=<id>` with HTTP
//!   Basic `client_id:client_secret`; the answer is `{"access_token", "token_type": "bearer",
//!   "expires_in": 3599, "scope"}` (as grove's recorded answer).
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * The dates are UTC days. One dataset is dealt across the two reports: event `i` belongs to
//!   [`Stream::of`]`(i)`. Every record differs in content (Sluice keys them on it).
//! * `grant_type` and `account_id` are read from the query (as Zoom writes them) or the form
//!   body. The OAuth refusals (`{"reason", "error"}`: `invalid_client` 401,
//!   `unsupported_grant_type` / `invalid_request` 400) follow recorded answers, not a Zoom page.
//!   The token endpoint is never faulted.
//! * A range over 31 days, `to` before `from`, a `page_size` outside 1..=300, a
//!   `category_type` other than `all`, and an edited, foreign or expired page token are refused
//!   with `400` code 300 (Zoom's wording differs), so a client relying on them notices.
//! * The 429 carries no `Retry-After` (Zoom sends one only for the daily cap), and 5xx answers
//!   carry `{"code", "message"}`.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3};
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// The simulated account's id (the `account_id` of the token request).
pub const ACCOUNT_ID: &str = "SimAcct0zoom00000001";
/// The Server-to-Server OAuth app's client id (its secret is the simulator's `token`).
pub const CLIENT_ID: &str = "simZoomClient0001";
/// Page size without `page_size`.
pub const DEFAULT_PAGE_SIZE: usize = 30;
/// Documented maximum of `page_size`.
pub const MAX_PAGE_SIZE: usize = 300;
/// Lifetime of an access token, as Zoom's answers give it.
pub const TOKEN_SECONDS: i64 = 3599;
/// How long a `next_page_token` stays valid.
pub const PAGE_TOKEN_SECONDS: i64 = 15 * 60;
/// The longest range one request may ask for, in days (a month).
pub const MAX_RANGE_DAYS: i64 = 31;

/// One of the two reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `GET /v2/report/operationlogs`, records under `operation_logs`.
    OperationLogs,
    /// `GET /v2/report/activities`, records under `activity_logs`.
    Activities,
}

impl Stream {
    /// Both, in the order events are dealt to them.
    pub const ALL: [Stream; 2] = [Stream::OperationLogs, Stream::Activities];

    /// The report event `index` belongs to.
    pub fn of(index: u64) -> Stream {
        Stream::ALL[(index % 2) as usize]
    }

    /// The endpoint's path.
    pub const fn path(self) -> &'static str {
        match self {
            Stream::OperationLogs => "/v2/report/operationlogs",
            Stream::Activities => "/v2/report/activities",
        }
    }

    /// The key of the records in an answer.
    pub const fn records_key(self) -> &'static str {
        match self {
            Stream::OperationLogs => "operation_logs",
            Stream::Activities => "activity_logs",
        }
    }

    fn number(self) -> u64 {
        match self {
            Stream::OperationLogs => 0,
            Stream::Activities => 1,
        }
    }
}

/// The ids (Sluice's content ids) of every record `stream` serves, oldest first.
pub fn stream_ids(config: &SimulatorConfig, stream: Stream) -> Vec<String> {
    (stream.number()..config.events)
        .step_by(2)
        .map(|i| event_id(config, i))
        .collect()
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "Zoom account id {ACCOUNT_ID}, client id {CLIENT_ID}, client secret {}; token endpoint \
         {base_url}/oauth/token and reports under {base_url}/v2 (oauth_url = api_url = \
         \"{base_url}\")",
        config.token
    )
}

/// Routes of the Zoom profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new().route("/oauth/token", post(token_endpoint));
    for stream in Stream::ALL {
        router = router.route(
            stream.path(),
            get(
                move |state: State<Arc<AppState>>, headers: HeaderMap, query: RawQuery| {
                    report(state, stream, headers, query)
                },
            ),
        );
    }
    router
}

fn json_response(status: StatusCode, extra: HeaderMap, body: Vec<u8>) -> Response {
    let mut headers = extra;
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    (status, headers, body).into_response()
}

/// A Zoom API error: `{"code": ..., "message": ...}`.
fn api_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({ "code": code, "message": message });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

/// A validation failure: `400`, code 300.
fn invalid(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, 300, message)
}

/// An OAuth server refusal: `{"reason": ..., "error": ...}`.
fn oauth_error(status: StatusCode, error: &str, reason: &str) -> Response {
    let body = json!({ "reason": reason, "error": error });
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

/// The check value binding a token or page token to the seed.
fn check(seed: u64, text: &str) -> u32 {
    let mixed = text
        .bytes()
        .fold(0u64, |acc, b| super::rng::mix64(acc ^ u64::from(b)));
    hash3(seed, domain::TOKEN, mixed) as u32
}

/// An access token: its serial and expiry, bound to the seed.
fn issue_token(seed: u64, serial: u64, expires: i64) -> String {
    let body = format!("{serial:x}.{expires:x}");
    let text = format!("{body}.{:08x}", check(seed, &body));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// `Some(true)` for a valid token, `Some(false)` for an expired one, `None` for a forged one.
fn token_state(seed: u64, token: &str, now: i64) -> Option<bool> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (body, sum) = text.rsplit_once('.')?;
    let (_, expires) = body.split_once('.')?;
    let expires = i64::from_str_radix(expires, 16).ok()?;
    (u32::from_str_radix(sum, 16).ok()? == check(seed, body)).then_some(expires > now)
}

/// `POST /oauth/token`: the `account_credentials` grant of a Server-to-Server OAuth app.
async fn token_endpoint(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let counters = &app.counters;
    let mut fields: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    fields.extend(url::form_urlencoded::parse(&body).into_owned());
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let valid_client = client.as_deref().and_then(|c| c.split_once(':'))
        == Some((CLIENT_ID, app.config.token.as_str()));
    if !valid_client {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client_id or client_secret",
        );
    }
    if field("grant_type") != Some("account_credentials") {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant type",
        );
    }
    if field("account_id") != Some(ACCOUNT_ID) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid account_id",
        );
    }
    let serial = counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let now = Utc::now().timestamp();
    let body = json!({
        "access_token": issue_token(app.config.seed, serial, now + TOKEN_SECONDS),
        "token_type": "bearer",
        "expires_in": TOKEN_SECONDS,
        "scope": "report:read:operation_logs:admin report:read:user_activities:admin",
        "api_url": "https://api.zoom.us",
    });
    json_response(
        StatusCode::OK,
        HeaderMap::new(),
        body.to_string().into_bytes(),
    )
}

/// Where a listing stands: records of one report in `[lo, hi)` (timeline indices), those
/// below `before` still to come, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    lo: u64,
    hi: u64,
    before: u64,
    issued: i64,
}

fn encode_page_token(seed: u64, stream: Stream, p: Position) -> String {
    let body = format!(
        "{:x}.{:x}.{:x}.{:x}.{:x}",
        stream.number(),
        p.lo,
        p.hi,
        p.before,
        p.issued
    );
    format!("{body}.{:08x}", check(seed, &body))
        .replace('.', "x")
        .to_uppercase()
}

fn decode_page_token(seed: u64, stream: Stream, token: &str) -> Option<Position> {
    let text = token.to_lowercase();
    let parts: Vec<&str> = text.split('x').collect();
    let [number, lo, hi, before, issued, sum] = parts[..] else {
        return None;
    };
    let body = [number, lo, hi, before, issued].join(".");
    if u32::from_str_radix(sum, 16).ok()? != check(seed, &body)
        || u64::from_str_radix(number, 16).ok()? != stream.number()
    {
        return None;
    }
    Some(Position {
        lo: u64::from_str_radix(lo, 16).ok()?,
        hi: u64::from_str_radix(hi, 16).ok()?,
        before: u64::from_str_radix(before, 16).ok()?,
        issued: i64::from_str_radix(issued, 16).ok()?,
    })
}

/// A parsed report request.
struct ReportQuery {
    from: NaiveDate,
    to: NaiveDate,
    page_size: usize,
    token: Option<String>,
}

fn parse_query(raw: Option<&str>) -> Result<ReportQuery, String> {
    let (mut from, mut to, mut page_size, mut token) = (None, None, DEFAULT_PAGE_SIZE, None);
    let date = |name: &str, value: &str| {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| format!("Invalid field: {name}. Use the yyyy-mm-dd format."))
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" => from = Some(date("from", &value)?),
            "to" => to = Some(date("to", &value)?),
            "page_size" => {
                page_size = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                    .ok_or_else(|| "Invalid field: page_size (1 to 300).".to_string())?;
            }
            "next_page_token" if !value.is_empty() => token = Some(value.into_owned()),
            "category_type" if value != "all" => {
                return Err("category_type other than all is not simulated.".to_string())
            }
            _ => {}
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err("from and to are required.".to_string());
    };
    if to < from {
        return Err("The to date cannot be before the from date.".to_string());
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err("The date range cannot exceed one month.".to_string());
    }
    Ok(ReportQuery {
        from,
        to,
        page_size,
        token,
    })
}

/// Milliseconds since the epoch of the start of `day` (UTC).
fn day_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// `GET /v2/report/<report>`.
async fn report(
    State(app): State<Arc<AppState>>,
    stream: Stream,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            let mut extra = HeaderMap::new();
            extra.insert(
                HeaderName::from_static("x-ratelimit-category"),
                HeaderValue::from_static("Heavy"),
            );
            extra.insert(
                HeaderName::from_static("x-ratelimit-type"),
                HeaderValue::from_static("QPS"),
            );
            let body = json!({
                "code": 429,
                "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
            });
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                extra,
                body.to_string().into_bytes(),
            );
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(
                status,
                u32::from(status.as_u16()),
                "Internal server error (simulated).",
            );
        }
    };
    let counters = &app.counters;
    let seed = app.config.seed;
    let now = Utc::now().timestamp();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match bearer.and_then(|t| token_state(seed, t, now)) {
        Some(true) => {}
        Some(false) => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            return api_error(StatusCode::UNAUTHORIZED, 124, "Access token is expired.");
        }
        None => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            return api_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token.");
        }
    }
    let query = match parse_query(raw.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return invalid(&message);
        }
    };
    let timeline = &app.timeline;
    // Both days included: up to the start of the day after `to`. Times are whole seconds and
    // days start on a whole second, so the millisecond timeline splits days exactly.
    let lo = timeline.first_at_or_after(day_ms(query.from));
    let hi = query
        .to
        .succ_opt()
        .map_or(timeline.len(), |next| {
            timeline.first_at_or_after(day_ms(next))
        })
        .max(lo);
    let position = match &query.token {
        None => Position {
            lo,
            hi,
            before: hi,
            issued: now,
        },
        Some(token) => match decode_page_token(seed, stream, token) {
            Some(p) if p.lo == lo && p.hi == hi && now - p.issued <= PAGE_TOKEN_SECONDS => p,
            _ => {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                return invalid("The next page token is invalid or expired.");
            }
        },
    };
    let listing = Listing::new(
        timeline,
        position.lo..position.before,
        Direction::Descending,
    );
    // A server page is at most `max_page_size` (tests shrink it); the token says the rest.
    let limit = query.page_size.min(app.config.max_page_size.max(1));
    let page = listing.page(position.before, limit, |i| Stream::of(i) == stream);
    let next = page.next.map_or_else(String::new, |before| {
        encode_page_token(seed, stream, Position { before, ..position })
    });
    let records: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    let mut body = serde_json::Map::new();
    body.insert(
        "from".into(),
        json!(query.from.format("%Y-%m-%d").to_string()),
    );
    body.insert("to".into(), json!(query.to.format("%Y-%m-%d").to_string()));
    body.insert("page_size".into(), json!(query.page_size));
    body.insert("next_page_token".into(), json!(next));
    body.insert(stream.records_key().into(), Value::Array(records));
    let bytes = Value::Object(body).to_string().into_bytes();
    let bytes = deliver(&app, fault, bytes, &page.indices);
    json_response(StatusCode::OK, HeaderMap::new(), bytes)
}

#[cfg(test)]
mod tests;
