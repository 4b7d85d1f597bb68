//! LastPass profile: the Enterprise API's event report, `POST /enterpriseapi.php` with
//! `cmd = "reporting"`.
//!
//! Built from LastPass's "Event Reporting via LastPass API" (support.lastpass.com/help/
//! event-reporting-via-lastpass-api) and its pages on the Enterprise API (read 2026-12-07):
//!
//! * One endpoint, `POST https://lastpass.com/enterpriseapi.php` (`lastpass.eu` for the EU
//!   data center), with a JSON body `{"cid": <account number>, "provhash": <API secret>,
//!   "cmd": "reporting", "data": {...}}`: the credential is in the body, not a header.
//! * `data.from` and `data.to` bound the report, `YYYY-MM-DD HH:MM:SS`; "all times should be
//!   represented in this time zone: US/Eastern" (daylight saving included). `data.user` is
//!   `allusers` (or one user name).
//! * Events are "sorted by time, in descending order", at most 10,000 per answer; `next` in
//!   the answer, sent back as `data.next`, pages further: "a timestamp with microsecond
//!   precision", meaning events at that time or earlier.
//! * The answer: `{"status": "OK", "next": ..., "data": {"Event1": {...}, "Event2": {...}}}`,
//!   the events the VALUES of an object, each `Time` (local, whole seconds), `Username`,
//!   `IP_Address`, `Action`, `Data`; no id.
//!
//! # Assumptions and simplifications (where the docs are silent)
//!
//! * `from` and `to` are both inclusive and compared with the local time the event's `Time`
//!   shows (a column of Eastern wall-clock times): in the repeated hour of November, a bound
//!   there matches events of both of its instants.
//! * `next` is written as Unix seconds with six decimals (`"1796598240.357001"`), the
//!   microsecond time of the first event not yet served. Events sharing a millisecond are
//!   told apart by their microseconds (the n-th of a millisecond at n µs), so a page never
//!   serves an event of the page before.
//! * Refusals are answered with HTTP 200 and `{"status": "FAIL", "error": [...]}`: a wrong
//!   provisioning hash or account number ("Authorization Error"), a body that is not the
//!   documented shape (counted as a bad request). Over the rate limit (not documented): 429
//!   with the same kind of body; server errors 5xx.
//! * An empty report is `"data": []` (PHP writes an empty object so).
//! * No two events are identical (the IP address varies with the event), so the set of
//!   content ids is known up front; identical events are a case of the client's own tests.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::timeline::Timeline;
use super::AppState;

pub(crate) use events::{event, event_id, shown_time};

/// The endpoint.
pub const PATH: &str = "/enterpriseapi.php";
/// The account number (CID) the simulator answers for.
pub const CID: u64 = 8_771_312;
/// Events per answer.
pub const MAX_EVENTS: usize = 10_000;
/// How `from`, `to` and `Time` are written.
pub const LAYOUT: &str = "%Y-%m-%d %H:%M:%S";

/// Routes of the profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH, post(reporting))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, body).into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    let body = json!({ "status": "FAIL", "error": [message] });
    json_response(status, body.to_string().into_bytes())
}

/// A report request: local bounds (inclusive), and the microsecond time paging continues at.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    from: NaiveDateTime,
    to: NaiveDateTime,
    next_us: Option<i64>,
}

enum Refused {
    Unauthorized,
    Bad(String),
}

fn read(body: &[u8], provhash: &str) -> Result<Report, Refused> {
    let fields: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => fields,
        _ => return Err(Refused::Bad("Invalid JSON".into())),
    };
    if fields.get("cid").and_then(Value::as_u64) != Some(CID)
        || fields.get("provhash").and_then(Value::as_str) != Some(provhash)
    {
        return Err(Refused::Unauthorized);
    }
    if fields.get("cmd").and_then(Value::as_str) != Some("reporting") {
        return Err(Refused::Bad("Unknown command".into()));
    }
    let data = fields
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| Refused::Bad("data is required".into()))?;
    let time = |name: &str| {
        data.get(name)
            .and_then(Value::as_str)
            .and_then(|text| NaiveDateTime::parse_from_str(text, LAYOUT).ok())
            .ok_or_else(|| Refused::Bad(format!("{name} must be a date like 2015-07-17 09:45:00")))
    };
    let (from, to) = (time("from")?, time("to")?);
    let mut next_us = None;
    for (key, value) in data {
        match key.as_str() {
            "from" | "to" => {}
            "user" if value.as_str() == Some("allusers") => {}
            "next" => {
                let text = value.as_str().unwrap_or_default();
                let parsed = parse_micros(text)
                    .ok_or_else(|| Refused::Bad(format!("next is not a timestamp: {text:?}")))?;
                next_us = Some(parsed);
            }
            other => {
                return Err(Refused::Bad(format!(
                    "the simulator does not support data.{other}"
                )))
            }
        }
    }
    Ok(Report { from, to, next_us })
}

/// `"1796598240.357000"` as microseconds.
fn parse_micros(text: &str) -> Option<i64> {
    let (seconds, fraction) = text.split_once('.')?;
    if fraction.len() != 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seconds
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(fraction.parse::<i64>().ok()?)
}

fn write_micros(us: i64) -> String {
    format!(
        "{}.{:06}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000)
    )
}

/// The indices a report serves, newest first, and the next page's `next`.
fn page(timeline: &Timeline, report: &Report, limit: usize) -> (Vec<u64>, Option<String>) {
    // Every instant a local bound can name lies within a day of it read as UTC.
    let day = 86_400_000;
    let lo = timeline.first_at_or_after(report.from.and_utc().timestamp_millis() - day);
    let mut hi = timeline.first_at_or_after(report.to.and_utc().timestamp_millis() + 2 * day);
    if let Some(us) = report.next_us {
        // Events at the `next` time or earlier: of its millisecond, the first few.
        let ms = us.div_euclid(1000);
        let upto = timeline
            .first_at_or_after(ms)
            .saturating_add(us.rem_euclid(1000) as u64 + 1)
            .min(timeline.first_at_or_after(ms.saturating_add(1)));
        hi = hi.min(upto);
    }
    let listing = Listing::new(timeline, lo..hi.max(lo), Direction::Descending);
    let shown = |i: u64| {
        let label = events::local_time(timeline, i);
        report.from <= label && label <= report.to
    };
    let page = listing.page(listing.first_position(), limit, shown);
    // The next page holds the events at the first unserved one's time or earlier.
    let next = page
        .next
        .map(|position| write_micros(micros(timeline, position.saturating_sub(1))));
    (page.indices, next)
}

/// The microsecond time of event `index`: its millisecond, plus its rank among the events of
/// that millisecond (a handful at most) in microseconds.
fn micros(timeline: &Timeline, index: u64) -> i64 {
    let ms = timeline.published_ms(index);
    let rank = index
        .saturating_sub(timeline.first_at_or_after(ms))
        .min(999) as i64;
    ms.saturating_mul(1000).saturating_add(rank)
}

/// `POST /enterpriseapi.php`.
async fn reporting(
    State(app): State<Arc<AppState>>,
    _headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return failure(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return failure(status, "Internal server error");
        }
    };
    let counters = &app.counters;
    let report = match read(&body, &app.config.token) {
        Ok(report) => report,
        Err(Refused::Unauthorized) => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            return failure(StatusCode::OK, "Authorization Error");
        }
        Err(Refused::Bad(message)) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return failure(StatusCode::OK, &message);
        }
    };
    let limit = MAX_EVENTS.min(app.config.max_page_size).max(1);
    let (indices, next) = page(&app.timeline, &report, limit);
    let data: Value = if indices.is_empty() {
        // PHP's empty array.
        json!([])
    } else {
        let mut object = Map::new();
        for (n, i) in indices.iter().enumerate() {
            object.insert(
                format!("Event{}", n + 1),
                events::build(app.config.seed, &app.timeline, *i),
            );
        }
        Value::Object(object)
    };
    // `data` written in the order the events are listed (a JSON map would sort the keys).
    let body = format!(
        "{{\"status\":\"OK\",\"next\":{},\"data\":{}}}",
        json!(next),
        ordered(&data)
    );
    json_response(
        StatusCode::OK,
        deliver(&app, fault, body.into_bytes(), &indices),
    )
}

/// `data` with its events in listing order (`Event1`, `Event2`, ... `Event10`): a JSON map
/// without `preserve_order` would write `Event10` before `Event2`.
fn ordered(data: &Value) -> String {
    let Value::Object(object) = data else {
        return data.to_string();
    };
    let mut entries: Vec<(&String, &Value)> = object.iter().collect();
    entries.sort_by_key(|(key, _)| key.trim_start_matches("Event").parse::<u64>().unwrap_or(0));
    let fields: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{}:{}", json!(key), value))
        .collect();
    format!("{{{}}}", fields.join(","))
}

#[cfg(test)]
mod tests;
