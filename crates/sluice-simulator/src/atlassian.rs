//! Atlassian organization audit log profile: `GET /admin/v1/orgs/{orgId}/events`.
//!
//! Built from the Atlassian Organizations REST API reference ("Query audit log events", its
//! authentication, pagination and rate-limit pages):
//!
//! * Query parameters: `from` and `to` (UNIX epoch milliseconds), `cursor` (from
//!   `meta.next` of the previous page), and the filters `q` and `action`.
//! * Events come most recent first, as JSON:API resources in `data`; `meta.next` holds the
//!   next page's cursor and `links.next` its URL, both absent (or null) on the last page.
//! * Each event has an `id` and `attributes.time` (ISO 8601 UTC, milliseconds when not whole).
//! * Authentication: an organization API key sent as `Authorization: Bearer <key>`; without
//!   a valid one, `401`.
//! * Rate limits: over the limit, `429` with `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//!   `X-RateLimit-Reset` (the reset's time, ISO 8601 UTC); every answer carries the three.
//!
//! # Differences from the real API (deliberate simplifications)
//!
//! * Both `from` and `to` are inclusive (the reference does not say; a client must cope with
//!   either, and inclusive is the harder case).
//! * One organization ([`events::ORG_ID`]); another id is `404`.
//! * `q` and `action` are refused with `400`, so a client relying on a filter notices.
//! * The data does not move with the clock: every generated event is served at once.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{SecondsFormat, Utc};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3};
use super::{request_base, AppState};

pub use events::ORG_ID;
pub(crate) use events::{event, event_id};

/// Events per page.
pub const PAGE_SIZE: usize = 100;
/// Requests a minute advertised in `X-RateLimit-Limit`.
const RATE_LIMIT: u64 = 1_000;

/// Routes of the Atlassian profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/admin/v1/orgs/{org}/events", get(events_handler))
}

struct EventsQuery {
    /// Events whose time lies in `[from_ms, to_ms)`.
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    cursor: Option<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "status": status.as_u16().to_string(), "title": status.canonical_reason(), "detail": message }],
    });
    json_response(
        status,
        rate_limit_headers(RATE_LIMIT - 1),
        body.to_string().into_bytes(),
    )
}

/// The query, or the reason it is refused (400).
fn parse_query(raw: Option<&str>) -> Result<EventsQuery, &'static str> {
    let mut query = EventsQuery {
        from_ms: None,
        to_ms: None,
        cursor: None,
    };
    let millis = |value: &str| {
        value
            .parse::<i64>()
            .map_err(|_| "from and to must be UNIX epoch times in milliseconds")
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" => query.from_ms = Some(millis(&value)?),
            // Inclusive.
            "to" => query.to_ms = Some(millis(&value)?.saturating_add(1)),
            "cursor" if !value.is_empty() => query.cursor = Some(value.into_owned()),
            "q" | "action" => return Err("the simulator does not filter events"),
            _ => {}
        }
    }
    Ok(query)
}

/// The opaque cursor for "go on below index `position`", bound to the seed.
fn encode_cursor(seed: u64, position: u64) -> String {
    format!(
        "{position:x}.{:08x}",
        hash3(seed, domain::CURSOR, position) as u32
    )
}

fn decode_cursor(seed: u64, cursor: &str) -> Option<u64> {
    let (position, check) = cursor.split_once('.')?;
    if position.len() > 16 || check.len() != 8 {
        return None;
    }
    let position = u64::from_str_radix(position, 16).ok()?;
    let check = u32::from_str_radix(check, 16).ok()?;
    (check == hash3(seed, domain::CURSOR, position) as u32).then_some(position)
}

fn rate_limit_headers(remaining: u64) -> HeaderMap {
    let reset =
        (Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

fn is_authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| given == key)
}

/// `GET /admin/v1/orgs/{orgId}/events`.
async fn events_handler(
    State(app): State<Arc<AppState>>,
    Path(org): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            let body = serde_json::json!({ "errors": [{ "status": "429", "title": "Too Many Requests" }] });
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                rate_limit_headers(0),
                body.to_string().into_bytes(),
            );
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "simulated server error");
        }
    };
    let counters = &app.counters;
    if !is_authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if org != ORG_ID {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::NOT_FOUND, "organization not found");
    }
    let query = match parse_query(raw_query.as_deref()) {
        Ok(query) => query,
        Err(reason) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, reason);
        }
    };
    let seed = app.config.seed;
    let timeline = &app.timeline;
    let lo = query.from_ms.map_or(0, |ms| timeline.first_at_or_after(ms));
    let hi = query
        .to_ms
        .map_or(timeline.len(), |ms| timeline.first_at_or_after(ms))
        .max(lo);
    let listing = Listing::new(timeline, lo..hi, Direction::Descending);
    let top = match &query.cursor {
        Some(cursor) => match decode_cursor(seed, cursor) {
            Some(position) => position,
            None => {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                return error(StatusCode::BAD_REQUEST, "invalid cursor");
            }
        },
        None => listing.first_position(),
    };
    let page = listing.page(top, app.config.default_page_size, |_| true);
    let base = request_base(&headers, &app);
    let self_url = format!("{base}{}", uri);
    let cursor = page.next.map(|bottom| encode_cursor(seed, bottom));
    let next_url = cursor.as_ref().map(|cursor| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in
            url::form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes())
        {
            if key != "cursor" {
                qs.append_pair(&key, &value);
            }
        }
        qs.append_pair("cursor", cursor);
        format!("{base}{}?{}", uri.path(), qs.finish())
    });
    let next = cursor.as_deref().zip(next_url.as_deref());
    let mut body = events::render_page(
        seed,
        timeline,
        page.indices.iter().copied(),
        next,
        &self_url,
    );
    body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, rate_limit_headers(RATE_LIMIT - 1), body)
}

#[cfg(test)]
mod tests;
