//! Workday user activity logging profile: `GET /ccx/api/privacy/v1/{tenant}/activityLogging`
//! and the tenant's OAuth token endpoint `POST /ccx/oauth2/{tenant}/token`.
//!
//! Built from Workday's REST API reference as it is published for the Privacy service
//! (resource `activityLogging`, "Retrieves all user activity log entries in a specified time
//! frame"; its text is quoted by the reference mirrors of API clients, e.g.
//! cdn.cdata.com/help/JWK/jp/jdbc/pg_resttable-activitylogging.htm), Workday's common REST
//! conventions (collection answers, `limit`/`offset`, error codes; e.g.
//! openapi.city/providers/workday-staffing) and the API-client setup pages of Workday
//! integrations (docs.runreveal.com/sources/source-types/workday,
//! xsoar.pan.dev/docs/reference/integrations/workday-event-collector):
//!
//! * `from` and `to` are required: ISO 8601 date-times, e.g. `2022-04-17T08:15:00Z`.
//! * `limit` (at most 1000: "the maximum value of the limit parameter has been increased
//!   from 100 to 1000") and `offset` (zero-based index of the first entry; 0, then +1000);
//!   `instancesReturned` ("a lower value is more performant. The value of 1 fetches 10,000
//!   records").
//! * The answer is Workday's collection: `{"total": N, "data": [...]}`; an empty window is
//!   `{"total": 0, "data": []}`.
//! * Entries: `requestTime` (milliseconds, `Z`), `systemAccount`, `sessionId`, `ipAddress`,
//!   `deviceType`, `userAgent`, `taskId`, `taskDisplayName`, `activityAction`, `target`
//!   (`descriptor`, `id`); no id.
//! * Errors are `{"error": "...", "errors": [{"error", "field"}]}`: 400 for an invalid
//!   request, 401, 403 (the account lacks the System Auditing domain), 404.
//! * Authentication: an API client for integrations with a non-expiring refresh token;
//!   `POST https://<host>/ccx/oauth2/<tenant>/token` with `grant_type=refresh_token`, the
//!   client id and secret (HTTP Basic), answers `{"access_token", "token_type": "Bearer",
//!   "refresh_token"}` (no lifetime; access tokens last an hour when the client enforces
//!   60-minute expiry); requests carry `Authorization: Bearer <access token>`.
//!
//! # Assumptions and simplifications (where the public pages are silent, or for tests)
//!
//! * Order: the reference does not state it; entries are served oldest first, as grove's
//!   recorded pages are. `from` is inclusive and `to` exclusive (the stricter reading for a
//!   client: one relying on an inclusive `to` loses entries here).
//! * `instancesReturned = n` is read as a cap of `n` × 10,000 entries per query: entries
//!   past it are not served (the page is short or empty), though `total` counts them.
//!   Without it, 1.
//! * `limit` defaults to 20 (Workday's usual default); a `limit` over 1000, a negative or
//!   malformed `offset`, a missing or malformed `from`/`to`, or `from` after `to` is a 400.
//!   Other query parameters (filters by user or task) are ignored.
//! * One secret, `config.token`, is both the refresh token and a long-lived access token;
//!   the API client is [`CLIENT_ID`] / [`CLIENT_SECRET`], the tenant [`TENANT`]. Issued
//!   access tokens carry their expiry and a check value, so they are verified without server
//!   state. The token endpoint is never faulted. Its errors follow RFC 6749 (`invalid_client`,
//!   `invalid_grant`); a bad access token gets `401 {"error": "invalid access token"}`.
//! * No rate limit is published: injected 429s carry `{"error": "Too Many Requests"}` and no
//!   headers. Retention and publication delay are not published; none is modelled.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use chrono::DateTime;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3};
use super::AppState;

pub(crate) use events::{event, event_id};

/// The tenant the simulator serves.
pub const TENANT: &str = "acme";
/// Path of the activity log, `{tenant}` being the tenant name.
pub const ACTIVITY_PATH: &str = "/ccx/api/privacy/v1/{tenant}/activityLogging";
/// Path of the tenant's OAuth token endpoint.
pub const TOKEN_PATH: &str = "/ccx/oauth2/{tenant}/token";
/// The API client id the token endpoint accepts.
pub const CLIENT_ID: &str = "sim-workday-client";
/// That client's secret.
pub const CLIENT_SECRET: &str = "sim-workday-secret";
/// `limit` without one.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1_000;
/// Entries a query serves per unit of `instancesReturned`.
pub const ENTRIES_PER_INSTANCE: usize = 10_000;
/// Lifetime of an issued access token (60-minute expiry).
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Routes of the Workday profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(ACTIVITY_PATH, get(activity_logging))
        .route(TOKEN_PATH, post(token))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    (status, headers, body.to_string()).into_response()
}

/// Workday's error answer: `{"error": ..., "errors": [{"error", "field"}]}`.
fn error(status: StatusCode, message: &str, field: Option<(&str, &str)>) -> Response {
    let mut body = json!({ "error": message });
    if let Some((field, detail)) = field {
        body["errors"] = json!([{ "error": detail, "field": field }]);
    }
    json_response(status, &body)
}

fn invalid(field: &str, detail: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid request",
        Some((field, detail)),
    )
}

/// An access token the token endpoint issues: its expiry (Unix seconds) and a check value.
pub(crate) fn issue_token(seed: u64, expires: i64) -> String {
    let check = hash3(seed, domain::TOKEN, expires as u64) as u32;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("wd:{expires:x}:{check:08x}"))
}

/// The expiry of an access token this profile issued, or `None` for any other string.
fn issued_expiry(seed: u64, token: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (expires, check) = text.strip_prefix("wd:")?.split_once(':')?;
    let expires = i64::from_str_radix(expires, 16).ok()?;
    let check = u32::from_str_radix(check, 16).ok()?;
    (check == hash3(seed, domain::TOKEN, expires as u64) as u32).then_some(expires)
}

/// Whether `Authorization` carries a good access token.
fn authorized(app: &AppState, headers: &HeaderMap) -> bool {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match given {
        Some(given) if given == app.config.token => true,
        Some(given) => issued_expiry(app.config.seed, given)
            .is_some_and(|expires| expires > chrono::Utc::now().timestamp()),
        None => false,
    }
}

/// A parsed query: entries whose time lies in `[from_ms, to_ms)`.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    from_ms: i64,
    to_ms: i64,
    limit: usize,
    offset: usize,
    instances: usize,
}

/// Why a query is refused: the field and what is wrong with it.
type Refused = (&'static str, &'static str);

fn parse_query(raw: Option<&str>) -> Result<Query, Refused> {
    let (mut from, mut to) = (None, None);
    let mut limit = DEFAULT_LIMIT;
    let mut offset = 0;
    let mut instances = 1;
    let time = |field: &'static str, value: &str| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.to_utc())
            .map_err(|_| (field, "not a valid ISO 8601 date-time"))
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" => from = Some(time("from", &value)?),
            "to" => to = Some(time("to", &value)?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or(("limit", "must be an integer from 1 to 1000"))?;
            }
            "offset" => {
                offset = value
                    .parse::<usize>()
                    .map_err(|_| ("offset", "must be a non-negative integer"))?;
            }
            "instancesReturned" => {
                instances = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(("instancesReturned", "must be a positive integer"))?;
            }
            _ => {}
        }
    }
    let from = from.ok_or(("from", "required"))?;
    let to = to.ok_or(("to", "required"))?;
    if from > to {
        return Err(("from", "must not be after to"));
    }
    let ceil_ms = |t: DateTime<chrono::Utc>| {
        t.timestamp_millis() + i64::from(!t.timestamp_subsec_nanos().is_multiple_of(1_000_000))
    };
    Ok(Query {
        from_ms: ceil_ms(from),
        to_ms: ceil_ms(to),
        limit,
        offset,
        instances,
    })
}

/// `GET /ccx/api/privacy/v1/{tenant}/activityLogging`.
async fn activity_logging(
    State(app): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", None)
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "An error occurred.", None);
        }
    };
    let counters = &app.counters;
    if !authorized(&app, &headers) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "invalid access token", None);
    }
    if tenant != TENANT {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::NOT_FOUND, "Resource not found.", None);
    }
    let query = match parse_query(raw_query.as_deref()) {
        Ok(query) => query,
        Err((field, detail)) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return invalid(field, detail);
        }
    };
    let limit = query.limit.min(app.config.max_page_size.max(1));
    let timeline = &app.timeline;
    let lo = timeline.first_at_or_after(query.from_ms);
    let hi = timeline.first_at_or_after(query.to_ms).max(lo);
    let listing = Listing::new(timeline, lo..hi, Direction::Ascending);
    // Everything visible in the range, in order: `total`, and the slice the offset names.
    let visible = listing.page(listing.first_position(), usize::MAX, |_| true);
    let total = visible.indices.len();
    let cap = query.instances.saturating_mul(ENTRIES_PER_INSTANCE);
    let start = query.offset.min(cap).min(total);
    let end = query.offset.saturating_add(limit).min(cap).min(total);
    let indices = &visible.indices[start..end.max(start)];
    let data: Vec<Value> = indices
        .iter()
        .map(|i| events::build(app.config.seed, timeline, *i))
        .collect();
    let body = json!({ "total": total, "data": data });
    let body = deliver(&app, fault, body.to_string().into_bytes(), indices);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    (StatusCode::OK, headers, body).into_response()
}

/// An OAuth error answer (RFC 6749 section 5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// The client id and secret of a token request: HTTP Basic or form fields.
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
        return Some((id.to_string(), secret.to_string()));
    }
    Some((field("client_id")?, field("client_secret")?))
}

/// `POST /ccx/oauth2/{tenant}/token`: the refresh token grant. Not faulted: the faults
/// exercise the listing.
async fn token(
    State(app): State<Arc<AppState>>,
    Path(tenant): Path<String>,
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
    let refuse = |status, error, description| {
        app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        oauth_error(status, error, description)
    };
    if tenant != TENANT {
        return refuse(StatusCode::NOT_FOUND, "invalid_request", "unknown tenant");
    }
    if field("grant_type") != Some("refresh_token") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this client only uses refresh tokens",
        );
    }
    match client_of(&headers, &form) {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
        _ => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client id or secret",
            )
        }
    }
    let refresh_token = app.config.token.as_str();
    if field("refresh_token") != Some(refresh_token) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token",
        );
    }
    app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let expires = chrono::Utc::now().timestamp() + TOKEN_LIFETIME_SECS;
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": issue_token(app.config.seed, expires),
            "token_type": "Bearer",
            "refresh_token": refresh_token,
        }),
    )
}

#[cfg(test)]
mod tests;
