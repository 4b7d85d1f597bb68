//! GitHub audit log profile: `GET /orgs/{org}/audit-log` and
//! `GET /enterprises/{enterprise}/audit-log`.
//!
//! Built from GitHub's REST reference ("Get the audit log for an organization") and its
//! guides on searching the audit log, pagination and rate limits:
//!
//! * Query parameters: `phrase` (search qualifiers; here `created:`), `include` (`web`, the
//!   default, `git` or `all`), `after` (a cursor from the `Link` header), `order` (`desc`, the
//!   default, or `asc`), `per_page` (default 30, at most 100).
//! * The next page is the `Link: <...>; rel="next"` header, absent after the last page.
//! * Entries carry `@timestamp` and `created_at` in epoch milliseconds and a unique
//!   `_document_id`.
//! * Authentication: `Authorization: Bearer <token>` (or the older `token <token>`); a bad
//!   token gets `401 {"message":"Bad credentials"}`. A request without `User-Agent` is
//!   refused with 403, as GitHub does.
//! * Rate limits: every answer carries `x-ratelimit-limit`, `-remaining`, `-used`, `-reset`
//!   (epoch seconds) and `-resource`. An exhausted primary limit is `403` (or `429`) with
//!   `x-ratelimit-remaining: 0`; a secondary limit is `403`/`429` with `retry-after`. The
//!   injected rate-limit faults alternate between the two.
//!
//! # Differences from the real API (deliberate simplifications)
//!
//! * One organization and one enterprise, both `acme` ([`events::ORG`]), serving the same
//!   entries; any other is `404 Not Found`.
//! * `phrase` understands only the `created:` qualifier: `created:D`, `created:>D`, `>=`,
//!   `<`, `<=`, and ranges `created:A..B`, `A..*`, `*..B` (inclusive), where a time is a date
//!   `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` with `Z` or `±HH:MM` (UTC without). A time is
//!   compared at its own precision: `<=2026-01-01T10:00:00Z` includes 10:00:00.999. Any other
//!   qualifier is refused with 422 so a client relying on a filter notices.
//! * `before` cursors and `page` numbers are refused with 422; only `after` is served.
//! * The data does not move with the clock: every generated event is served at once.

mod events;
mod phrase;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing, Page};
use super::rng::{domain, hash3};
use super::{request_base, AppState};

pub(crate) use events::{event, event_id};

/// Documented default of `per_page`.
pub const DEFAULT_PER_PAGE: usize = 30;
/// Documented maximum of `per_page`.
pub const MAX_PER_PAGE: usize = 100;
/// The primary rate limit advertised in `x-ratelimit-limit`.
const RATE_LIMIT: u64 = 5_000;

/// Routes of the GitHub profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orgs/{org}/audit-log", get(audit_log))
        .route("/enterprises/{enterprise}/audit-log", get(audit_log))
}

/// Which events a request includes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Include {
    Web,
    Git,
    All,
}

impl Include {
    fn admits(self, seed: u64, index: u64) -> bool {
        match self {
            Include::All => true,
            Include::Git => events::is_git(seed, index),
            Include::Web => !events::is_git(seed, index),
        }
    }
}

/// A parsed request.
struct AuditQuery {
    /// Events whose time lies in `[from_ms, to_ms)`.
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    include: Include,
    ascending: bool,
    per_page: usize,
    after: Option<String>,
    /// The query as sent, minus `after`, repeated in the next link.
    kept: Vec<(String, String)>,
}

/// A GitHub-style error answer.
struct GitHubError {
    status: StatusCode,
    message: String,
}

impl GitHubError {
    fn unprocessable(message: impl Into<String>) -> Self {
        GitHubError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }
}

/// Parses a request's query; `per_page` defaults to `default` and is capped at `max` (the
/// simulator config's page sizes, GitHub's 30 and 100 unless a test changes them).
fn parse_query(raw: Option<&str>, default: usize, max: usize) -> Result<AuditQuery, GitHubError> {
    let mut query = AuditQuery {
        from_ms: None,
        to_ms: None,
        include: Include::Web,
        ascending: false,
        per_page: default,
        after: None,
        kept: Vec::new(),
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let (key, value) = (key.into_owned(), value.into_owned());
        match key.as_str() {
            "after" => {
                query.after = Some(value);
                continue;
            }
            "phrase" => {
                let range = phrase::parse(&value).map_err(GitHubError::unprocessable)?;
                query.from_ms = range.from_ms;
                query.to_ms = range.to_ms;
            }
            "include" => {
                query.include = match value.as_str() {
                    "web" => Include::Web,
                    "git" => Include::Git,
                    "all" => Include::All,
                    _ => {
                        return Err(GitHubError::unprocessable(format!(
                            "include must be one of web, git, all; got {value:?}"
                        )))
                    }
                }
            }
            "order" => {
                query.ascending = match value.as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => {
                        return Err(GitHubError::unprocessable(format!(
                            "order must be asc or desc; got {value:?}"
                        )))
                    }
                }
            }
            // GitHub ignores a per_page it cannot read and caps a large one.
            "per_page" => {
                query.per_page = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map_or(default, |n| n.min(max));
            }
            "before" | "page" => {
                return Err(GitHubError::unprocessable(format!(
                    "the simulator serves `after` cursors only, not `{key}`"
                )))
            }
            _ => {}
        }
        query.kept.push((key, value));
    }
    Ok(query)
}

/// The opaque cursor for "go on at listing position `position`": the position, the direction
/// and a check value bound to the seed, so a forged or edited cursor is refused.
fn encode_cursor(seed: u64, ascending: bool, position: u64) -> String {
    let direction = if ascending { 'a' } else { 'd' };
    format!(
        "{direction}{position:x}_{:08x}",
        hash3(seed, domain::CURSOR, position) as u32
    )
}

fn decode_cursor(seed: u64, ascending: bool, cursor: &str) -> Option<u64> {
    let rest = cursor.strip_prefix(if ascending { 'a' } else { 'd' })?;
    let (position, check) = rest.split_once('_')?;
    if position.len() > 16 || check.len() != 8 {
        return None;
    }
    let position = u64::from_str_radix(position, 16).ok()?;
    let check = u32::from_str_radix(check, 16).ok()?;
    (check == hash3(seed, domain::CURSOR, position) as u32).then_some(position)
}

/// Ascending pages walk positions up from the query's first index; descending pages walk
/// down from its end (a position is then the exclusive upper index).
fn page(app: &AppState, query: &AuditQuery) -> Result<Page, GitHubError> {
    let timeline = &app.timeline;
    let seed = app.config.seed;
    let lo = query.from_ms.map_or(0, |ms| timeline.first_at_or_after(ms));
    let hi = query
        .to_ms
        .map_or(timeline.len(), |ms| timeline.first_at_or_after(ms))
        .max(lo);
    let start = match &query.after {
        Some(cursor) => decode_cursor(seed, query.ascending, cursor).ok_or_else(|| {
            GitHubError::unprocessable("after is not a valid cursor for this order")
        })?,
        None if query.ascending => lo,
        None => hi,
    };
    let direction = if query.ascending {
        Direction::Ascending
    } else {
        Direction::Descending
    };
    let listing = Listing::new(timeline, lo..hi, direction);
    Ok(listing.page(start, query.per_page, |i| query.include.admits(seed, i)))
}

fn next_link(base: &str, path: &str, query: &AuditQuery, cursor: &str) -> String {
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &query.kept {
        qs.append_pair(key, value);
    }
    qs.append_pair("after", cursor);
    format!("<{base}{path}?{}>; rel=\"next\"", qs.finish())
}

fn rate_limit_headers(headers: &mut HeaderMap, remaining: u64) {
    let reset = (Utc::now().timestamp().div_euclid(3600) + 1) * 3600;
    let pairs = [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", (RATE_LIMIT - remaining).to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body).into_response()
}

fn error_response(error: GitHubError) -> Response {
    let mut headers = HeaderMap::new();
    rate_limit_headers(&mut headers, RATE_LIMIT - 1);
    let body = serde_json::json!({
        "message": error.message,
        "documentation_url": "https://docs.github.com/rest/orgs/orgs#get-the-audit-log-for-an-organization",
        "status": error.status.as_u16().to_string(),
    });
    json_response(error.status, headers, body.to_string().into_bytes())
}

/// A rate-limit answer: a primary limit used up (403, `x-ratelimit-remaining: 0`, reset in
/// a second) or a secondary limit (429, `retry-after: 1`), alternately.
fn rate_limited(app: &AppState) -> Response {
    let sequence = app.error_seq.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    if sequence.is_multiple_of(2) {
        rate_limit_headers(&mut headers, 0);
        let reset = Utc::now().timestamp() + 1;
        if let Ok(value) = HeaderValue::from_str(&reset.to_string()) {
            headers.insert(HeaderName::from_static("x-ratelimit-reset"), value);
        }
        let body = serde_json::json!({
            "message": "API rate limit exceeded for user ID 583231.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        });
        json_response(
            StatusCode::FORBIDDEN,
            headers,
            body.to_string().into_bytes(),
        )
    } else {
        rate_limit_headers(&mut headers, RATE_LIMIT - 1);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        let body = serde_json::json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        });
        json_response(
            StatusCode::TOO_MANY_REQUESTS,
            headers,
            body.to_string().into_bytes(),
        )
    }
}

fn server_error_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    rate_limit_headers(&mut headers, RATE_LIMIT - 1);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    (status, headers, "<h1>Server Error</h1>\n").into_response()
}

fn is_authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("token "))
        })
        .is_some_and(|t| t == token)
}

/// `GET /orgs/{org}/audit-log`.
async fn audit_log(
    State(app): State<Arc<AppState>>,
    Path(org): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(&app),
        Err(Refusal::ServerError(status)) => return server_error_response(status),
    };
    let counters = &app.counters;
    if headers.get(USER_AGENT).is_none() {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error_response(GitHubError {
            status: StatusCode::FORBIDDEN,
            message: "Request forbidden by administrative rules. Please make sure your request has a User-Agent header".to_string(),
        });
    }
    if !is_authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_response(GitHubError {
            status: StatusCode::UNAUTHORIZED,
            message: "Bad credentials".to_string(),
        });
    }
    if org != events::ORG {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error_response(GitHubError {
            status: StatusCode::NOT_FOUND,
            message: "Not Found".to_string(),
        });
    }
    let config = &app.config;
    let served = parse_query(
        raw_query.as_deref(),
        config.default_page_size,
        config.max_page_size,
    )
    .and_then(|query| Ok((page(&app, &query)?, query)));
    let (page, query) = match served {
        Ok(served) => served,
        Err(error) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error_response(error);
        }
    };
    let mut body =
        events::render_page(app.config.seed, &app.timeline, page.indices.iter().copied());
    let mut answer = HeaderMap::new();
    rate_limit_headers(&mut answer, RATE_LIMIT - 1);
    if let Some(next) = page.next {
        let link = next_link(
            &request_base(&headers, &app),
            uri.path(),
            &query,
            &encode_cursor(app.config.seed, query.ascending, next),
        );
        // Built from parts hyper accepted and url-encoding: always a valid header value;
        // skipping instead of panicking keeps odd inputs harmless regardless.
        if let Ok(value) = HeaderValue::from_str(&link) {
            answer.insert(LINK, value);
        }
    }
    body = deliver(&app, fault, body, &page.indices);
    json_response(StatusCode::OK, answer, body)
}

#[cfg(test)]
mod tests;
