//! Duo Admin API log profile: `GET /admin/v2/logs/authentication`,
//! `GET /admin/v1/logs/administrator` and `GET /admin/v2/logs/telephony`.
//!
//! Built from Duo's Admin API reference (duo.com/docs/adminapi: "API Details" for the request
//! signature and the response envelope, and the "Logs" sections), its rate-limit page
//! (duo.com/docs/rate-limits) and Duo's own Python client (duosecurity/duo_client_python,
//! `admin.py`, `client.py`, `logs/telephony.py`), which documents the same parameters:
//!
//! * Every request is signed: `Date` (RFC 2822) and `Authorization: Basic
//!   base64(ikey:signature)`, where the signature is the lowercase hex HMAC of the canonical
//!   request (date, method, lowercase host, path, the parameters percent-encoded and sorted,
//!   one a line; version 5 adds the SHA-512 of the body and of the `X-Duo-*` headers and
//!   uses HMAC-SHA512, version 2 uses HMAC-SHA1). The profile recomputes it from the request
//!   as received, with the `Host` header lowercased, and refuses with `401`:
//!   40101 "Missing request credentials", 40102 "Invalid integration key in request
//!   credentials", 40103 "Invalid signature in request credentials".
//! * Answers are `{"stat": "OK", "response": ...}`; refusals `{"stat": "FAIL", "code": N,
//!   "message": "...", "message_detail": "..."}` (`code` is the HTTP status and two digits).
//! * Authentication logs (v2): `mintime` and `maxtime` (Unix milliseconds, both inclusive,
//!   `mintime` strictly below `maxtime`, both required), `limit` (1 to 1000, 100 by
//!   default), `sort` (`ts:desc` by default, or `ts:asc`), `next_offset`; records in
//!   `response.authlogs`, and `response.metadata.next_offset` is `[<ms>, <txid>]` (two
//!   strings) to send back as `next_offset=<ms>,<txid>`, or `null` after the last page, with
//!   `total_objects`. Each record has `txid`, `timestamp` (seconds) and `isotimestamp`.
//! * Telephony logs (v2): the same parameters; records in `response.items`, each with
//!   `telephony_id`, `txid` and `ts` (ISO 8601); `next_offset` is one string `"<ms>,<id>"`;
//!   `total_objects` is `{"relation": "eq", "value": N}`.
//! * Administrator logs (v1): only `mintime` (Unix seconds); at most the 1000 earliest
//!   entries at or after it, oldest first, in `response` (an array), no paging: "call this
//!   multiple times with mintime to page through the entire log". Entries have no id.
//! * Logs are kept 180 days (an older v2 `mintime` is refused); new entries appear two minutes
//!   late ("querying for results more recent than two minutes will return as empty").
//! * Rate limit: `429 {"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`; Duo
//!   asks that log endpoints be polled at most once a minute and names no rate header.
//!
//! # Assumptions and simplifications (where the docs are silent)
//!
//! * The integration key is [`INTEGRATION_KEY`] and the secret key is `config.token`.
//! * A `Date` more than five minutes from the server's clock (or missing, or unreadable) is
//!   refused with 401 and code 40105 "Request has expired" (the wording is assumed).
//! * `next_offset` names the last record served; the next page starts right after it. An
//!   offset naming no record of the stream is refused with 40002.
//! * The telephony offset names the entry by its `telephony_id`.
//! * Unknown parameters (Duo's authentication filters included) are refused with 40002 and
//!   the parameter's name in `message_detail`; missing required ones with 40001.
//! * v1 `mintime` is inclusive (the Python client says ">= mintime"; the reference says
//!   "after"): a client that also keeps a second of overlap is right either way.
//! * 5xx answers carry `{"code": 50001, "message": "Unknown internal server error"}` (the
//!   body Duo's rate-limit page shows for a 500), with the status's first digits as code.
//! * One dataset dealt across the three logs: event `i` belongs to [`Stream::of`]`(i)`.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha512};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::timeline::Timeline;
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// The integration key the profile accepts (a Duo ikey is `DI` and 18 characters).
pub const INTEGRATION_KEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
/// Page size of a v2 request without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Documented maximum of a v2 `limit`, and the most entries a v1 administrator log answer
/// holds.
pub const MAX_LIMIT: usize = 1_000;
/// How long after its time an entry is served (Duo's two-minute buffer): the profile's
/// [`SimulatorConfig::publication_delay`](super::SimulatorConfig::publication_delay).
pub const PUBLICATION_DELAY: std::time::Duration = std::time::Duration::from_secs(2 * 60);
/// How far back a v2 `mintime` may reach.
pub const RETENTION_DAYS: i64 = 180;
/// How far a request's `Date` may be from the server's clock.
const CLOCK_SKEW_SECONDS: i64 = 300;

/// One of Duo's three logs, each its own endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `GET /admin/v2/logs/authentication`.
    Authentication,
    /// `GET /admin/v1/logs/administrator`.
    Administrator,
    /// `GET /admin/v2/logs/telephony`.
    Telephony,
}

impl Stream {
    /// The three, in the order events are dealt to them.
    pub const ALL: [Stream; 3] = [
        Stream::Authentication,
        Stream::Administrator,
        Stream::Telephony,
    ];

    /// The log event `index` belongs to.
    pub fn of(index: u64) -> Stream {
        Stream::ALL[(index % 3) as usize]
    }

    /// The endpoint's path.
    pub const fn path(self) -> &'static str {
        match self {
            Stream::Authentication => "/admin/v2/logs/authentication",
            Stream::Administrator => "/admin/v1/logs/administrator",
            Stream::Telephony => "/admin/v2/logs/telephony",
        }
    }

    fn number(self) -> u64 {
        match self {
            Stream::Authentication => 0,
            Stream::Administrator => 1,
            Stream::Telephony => 2,
        }
    }

    /// Where a v2 answer keeps its records.
    fn records_key(self) -> &'static str {
        match self {
            Stream::Telephony => "items",
            _ => "authlogs",
        }
    }
}

/// The ids Sluice stores for every event of `stream`, in serving order.
pub fn stream_ids(config: &SimulatorConfig, stream: Stream) -> Vec<String> {
    (stream.number()..config.events)
        .step_by(3)
        .map(|i| event_id(config, i))
        .collect()
}

/// The time of event `index` as its log writes it: whole seconds in the administrator log,
/// milliseconds elsewhere.
pub(crate) fn served_ms(timeline: &Timeline, index: u64) -> i64 {
    let ms = timeline.published_ms(index);
    match Stream::of(index) {
        Stream::Administrator => ms.div_euclid(1000) * 1000,
        _ => ms,
    }
}

/// Routes of the Duo profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for stream in Stream::ALL {
        router = router.route(
            stream.path(),
            get(
                move |state: State<Arc<AppState>>,
                      method: Method,
                      uri: Uri,
                      headers: HeaderMap,
                      query: RawQuery| {
                    logs_handler(state, stream, method, uri, headers, query)
                },
            ),
        );
    }
    router
}

/// A refusal in Duo's words.
#[derive(Debug, PartialEq)]
struct Fail {
    status: StatusCode,
    code: u32,
    message: &'static str,
    detail: Option<String>,
}

fn fail(status: StatusCode, code: u32, message: &'static str) -> Fail {
    Fail {
        status,
        code,
        message,
        detail: None,
    }
}

/// 40002 naming what is wrong.
fn invalid(detail: impl Into<String>) -> Fail {
    Fail {
        detail: Some(detail.into()),
        ..fail(StatusCode::BAD_REQUEST, 40002, "Invalid request parameters")
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

fn fail_response(fail: Fail) -> Response {
    let mut body = json!({ "stat": "FAIL", "code": fail.code, "message": fail.message });
    if let Some(detail) = fail.detail {
        body["message_detail"] = Value::String(detail);
    }
    json_response(fail.status, body.to_string().into_bytes())
}

/// Everything but RFC 3986 unreserved characters is percent-encoded, uppercase hex.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical request as Duo defines it, from what was received. `sha512` selects
/// version 5 (body and `X-Duo-*` header hashes appended) over version 2.
fn canonical_request(
    sha512: bool,
    date: &str,
    method: &Method,
    host: &str,
    path: &str,
    params: &[(String, String)],
    x_duo: &[(String, String)],
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, UNRESERVED).to_string(),
                utf8_percent_encode(v, UNRESERVED).to_string(),
            )
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut lines = vec![
        date.to_string(),
        method.as_str().to_ascii_uppercase(),
        host.to_ascii_lowercase(),
        path.to_string(),
        query.join("&"),
    ];
    if sha512 {
        // A GET has no body: the hash of nothing.
        lines.push(lower_hex(&Sha512::digest(b"")));
        let mut headers: Vec<(String, String)> = x_duo
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.sort();
        let joined: Vec<&str> = headers
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .collect();
        lines.push(lower_hex(&Sha512::digest(joined.join("\0").as_bytes())));
    }
    lines.join("\n")
}

fn hmac_hex(sha512: bool, key: &str, text: &str) -> Option<String> {
    if sha512 {
        let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).ok()?;
        mac.update(text.as_bytes());
        Some(lower_hex(&mac.finalize().into_bytes()))
    } else {
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).ok()?;
        mac.update(text.as_bytes());
        Some(lower_hex(&mac.finalize().into_bytes()))
    }
}

/// Checks the request's credentials and date; `Err` is the 401.
fn verify(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<(), Fail> {
    let unauthorized = |code, message| fail(StatusCode::UNAUTHORIZED, code, message);
    let missing = || unauthorized(40101, "Missing request credentials");
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .ok_or_else(missing)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(missing)?;
    let (ikey, signature) = decoded.split_once(':').ok_or_else(missing)?;
    if ikey != INTEGRATION_KEY {
        return Err(unauthorized(
            40102,
            "Invalid integration key in request credentials",
        ));
    }
    let expired = || unauthorized(40105, "Request has expired");
    let date = headers
        .get(DATE)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(expired)?;
    let sent = DateTime::parse_from_rfc2822(date).map_err(|_| expired())?;
    if (Utc::now() - sent.to_utc()).num_seconds().abs() > CLOCK_SKEW_SECONDS {
        return Err(expired());
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(&app.fallback_authority);
    let x_duo: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-duo-"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    // HMAC-SHA512 is 128 hex digits, HMAC-SHA1 40: the length says which version was sent.
    let sha512 = signature.len() == 128;
    let canonical = canonical_request(sha512, date, method, host, uri.path(), params, &x_duo);
    let expected = hmac_hex(sha512, &app.config.token, &canonical);
    if expected.as_deref() != Some(signature) {
        return Err(unauthorized(
            40103,
            "Invalid signature in request credentials",
        ));
    }
    Ok(())
}

/// A v2 request, read.
#[derive(Debug)]
struct V2Query {
    min_ms: i64,
    max_ms: i64,
    limit: usize,
    ascending: bool,
    offset: Option<(i64, String)>,
}

fn integer(params: &[(String, String)], name: &str) -> Result<Option<i64>, Fail> {
    match params.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.parse::<i64>().map(Some).map_err(|_| invalid(name)),
    }
}

fn refuse_unknown(params: &[(String, String)], known: &[&str]) -> Result<(), Fail> {
    match params.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(invalid(k.clone())),
        None => Ok(()),
    }
}

fn parse_v2(params: &[(String, String)], now_ms: i64) -> Result<V2Query, Fail> {
    refuse_unknown(
        params,
        &["mintime", "maxtime", "limit", "sort", "next_offset"],
    )?;
    let required = |name: &'static str| Fail {
        detail: Some(name.to_string()),
        ..fail(
            StatusCode::BAD_REQUEST,
            40001,
            "Missing required request parameters",
        )
    };
    let min_ms = integer(params, "mintime")?.ok_or_else(|| required("mintime"))?;
    let max_ms = integer(params, "maxtime")?.ok_or_else(|| required("maxtime"))?;
    if min_ms >= max_ms {
        return Err(invalid("mintime must be less than maxtime"));
    }
    if min_ms < now_ms - RETENTION_DAYS * 86_400_000 {
        return Err(invalid("mintime must be within the past 180 days"));
    }
    let limit = match integer(params, "limit")? {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => return Err(invalid("limit")),
    };
    let ascending = match params.iter().find(|(k, _)| k == "sort") {
        None => false,
        Some((_, v)) if v == "ts:asc" => true,
        Some((_, v)) if v == "ts:desc" => false,
        Some(_) => return Err(invalid("sort")),
    };
    let offset = match params.iter().find(|(k, _)| k == "next_offset") {
        None => None,
        Some((_, v)) => {
            let (ms, id) = v.split_once(',').ok_or_else(|| invalid("next_offset"))?;
            let ms = ms.parse::<i64>().map_err(|_| invalid("next_offset"))?;
            Some((ms, id.to_string()))
        }
    };
    Ok(V2Query {
        min_ms,
        max_ms,
        limit,
        ascending,
        offset,
    })
}

/// The first index of `stream` at or after `from`.
fn align(stream: Stream, from: u64) -> u64 {
    from + (stream.number() + 3 - from % 3) % 3
}

/// The index of `stream`'s record served at `ms` with id `id`, if any.
fn find(timeline: &Timeline, seed: u64, stream: Stream, ms: i64, id: &str) -> Option<u64> {
    let mut i = align(stream, timeline.first_at_or_after(ms));
    while i < timeline.len() && timeline.published_ms(i) == ms {
        if events::txid(seed, i) == id {
            return Some(i);
        }
        i += 3;
    }
    None
}

/// `GET` of one of the three logs.
async fn logs_handler(
    State(app): State<Arc<AppState>>,
    stream: Stream,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return fail_response(fail(
                StatusCode::TOO_MANY_REQUESTS,
                42901,
                "Too Many Requests",
            ))
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // 50001 for a 500, as Duo numbers its codes: the status, then two digits.
            let code = u32::from(status.as_u16()) * 100 + 1;
            return fail_response(fail(status, code, "Unknown internal server error"));
        }
    };
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let counters = &app.counters;
    if let Err(refusal) = verify(&app, &method, &uri, &headers, &params) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return fail_response(refusal);
    }
    let now_ms = Utc::now().timestamp_millis();
    let answer = match stream {
        Stream::Administrator => administrator_page(&app, &params),
        _ => v2_page(&app, stream, &params, now_ms),
    };
    match answer {
        Ok((body, indices)) => json_response(StatusCode::OK, deliver(&app, fault, body, &indices)),
        Err(refusal) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            fail_response(refusal)
        }
    }
}

/// The administrator log: the 1000 earliest entries at or after `mintime` (seconds) that
/// are published.
fn administrator_page(
    app: &AppState,
    params: &[(String, String)],
) -> Result<(Vec<u8>, Vec<u64>), Fail> {
    refuse_unknown(params, &["mintime"])?;
    let min_seconds = integer(params, "mintime")?.unwrap_or(0);
    let timeline = &app.timeline;
    let seed = app.config.seed;
    let from = timeline.first_at_or_after(min_seconds.saturating_mul(1000));
    let listing = Listing::new(timeline, from..timeline.len(), Direction::Ascending);
    let indices = listing
        .page(from, MAX_LIMIT, |i| Stream::of(i) == Stream::Administrator)
        .indices;
    let records: Vec<Value> = indices
        .iter()
        .map(|i| events::build(seed, timeline, Stream::Administrator, *i))
        .collect();
    let body = json!({ "stat": "OK", "response": records });
    Ok((body.to_string().into_bytes(), indices))
}

/// A page of the authentication or telephony log.
fn v2_page(
    app: &AppState,
    stream: Stream,
    params: &[(String, String)],
    now_ms: i64,
) -> Result<(Vec<u8>, Vec<u64>), Fail> {
    let query = parse_v2(params, now_ms)?;
    let timeline = &app.timeline;
    let seed = app.config.seed;
    // Both ends inclusive; what is not published yet (the two-minute buffer, late entries)
    // the listing leaves out.
    let lo = timeline.first_at_or_after(query.min_ms);
    let hi = timeline
        .first_at_or_after(query.max_ms.saturating_add(1))
        .max(lo);
    let ours = |i: u64| Stream::of(i) == stream;
    let direction = if query.ascending {
        Direction::Ascending
    } else {
        Direction::Descending
    };
    let listing = Listing::new(timeline, lo..hi, direction);
    let total = (lo..hi)
        .filter(|i| ours(*i) && timeline.is_visible(*i, super::late::now_ns()))
        .count() as u64;
    let limit = query.limit.min(app.config.max_page_size);
    // Ascending pages start after the offset's record, descending ones below it.
    let position = match &query.offset {
        None => listing.first_position(),
        Some((ms, id)) => {
            let at = find(timeline, seed, stream, *ms, id).ok_or_else(|| invalid("next_offset"))?;
            if query.ascending {
                at + 1
            } else {
                at
            }
        }
    };
    let page = listing.page(position, limit, ours);
    let next_offset = match (page.indices.last(), page.next) {
        (Some(last), Some(_)) => {
            let ms = timeline.published_ms(*last).to_string();
            let id = events::txid(seed, *last);
            match stream {
                Stream::Telephony => Value::String(format!("{ms},{id}")),
                _ => json!([ms, id]),
            }
        }
        _ => Value::Null,
    };
    let total_objects = match stream {
        Stream::Telephony => json!({ "relation": "eq", "value": total }),
        _ => json!(total),
    };
    let records: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, stream, *i))
        .collect();
    let body = json!({
        "stat": "OK",
        "response": {
            stream.records_key(): records,
            "metadata": { "next_offset": next_offset, "total_objects": total_objects },
        },
    });
    Ok((body.to_string().into_bytes(), page.indices))
}

#[cfg(test)]
mod tests;
