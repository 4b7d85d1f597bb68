//! Generic profile: a configurable audit-log API, for exercising every pagination style,
//! sort order, time format and auth scheme a connector spec can describe.
//!
//! # HTTP surface
//!
//! The names are fixed so that test configs stay short.
//!
//! * `GET /v1/events?start=..&end=..&limit=..` for every pagination kind except
//!   [`SimPagination::CursorInBody`] and [`SimPagination::Graphql`], plus `cursor=`,
//!   `offset=` or `page=` depending on the kind. `start` is inclusive and `end` exclusive;
//!   both are required and written in the profile's [`SimTimeFormat`] (400 otherwise).
//!   `limit` defaults to `default_page_size` and is clamped to `max_page_size`. The answer
//!   is `{"data": [events...], "meta": {...}}` where `meta` depends on the kind:
//!   * `None`: the whole window in one response, `limit` ignored; more than
//!     [`NONE_MAX_EVENTS`] visible events in the window answer 400 `window too large`.
//!   * `LinkHeader`: `Link: <absolute url>; rel="next"` while more events follow.
//!   * `NextUrl`: `meta.next_url` is the next page's absolute URL, `null` at the end.
//!   * `Cursor`: `meta.next_cursor`, `""` at the end.
//!   * `CursorHasMore`: `meta.next_cursor` is always a non-empty string (even on the last
//!     page) and `meta.has_more` says whether to follow it.
//!   * `Offset`: `offset` (records to skip, default 0) and `limit`; `meta` echoes them but
//!     says nothing about what follows: a short page ends the window.
//!   * `PageNumber`: `page` (from 1, default 1) and `limit`; `meta.has_more` says whether
//!     another page follows.
//! * `POST /v1/events/search` for `CursorInBody`, with a JSON body `{"start", "end",
//!   "limit", "cursor"}` (cursor absent, null or empty on the first page); answered like
//!   `Cursor` except that `meta.next_cursor` is left out at the end.
//! * `POST /graphql` for `Graphql`, with `{"query": "...", "variables": {"start", "end",
//!   "first", "after"}}` (the query text is ignored), answered with
//!   `{"data": {"events": {"nodes": [...], "pageInfo": {"endCursor", "hasNextPage"}}}}`.
//!   Errors are HTTP 4xx with a GraphQL-style `errors` array.
//! * `POST /oauth/token` when the auth is [`SimAuth::OAuth2`] (see [`auth`]).
//!
//! In JSON bodies epoch times may be integers or strings of digits; `limit`/`first` may be
//! integers or strings.
//!
//! # Order, cursors and late events
//!
//! Events are served by time, ties by index ([`SimOrder::Ascending`]) or the exact reverse
//! ([`SimOrder::NewestFirst`]). A request sees only events whose `visible_at` (time plus
//! delay, see [`LateEvents`](super::LateEvents)) has passed on the wall clock, so events with a time in the
//! future are never served early and late events show up behind a client's frontier.
//! Cursors (and the cursors inside next-page URLs) hold a position in the (time, index)
//! order plus their issue time; with [`GenericProfile::cursor_ttl`] set, older ones answer
//! 400 `{"error": "cursor expired"}`.
//!
//! # Faults and errors
//!
//! Faults (429 with `Retry-After: 1`, 5xx, truncated bodies, slow responses) and `latency`
//! apply to the events endpoints exactly as for Okta; the token endpoint is never faulted.
//! The auth check comes after the fault decision and before parameters are read: 401
//! `{"error": "unauthorized"}`. Parameter problems answer 400 `{"error", "message"}`.

mod auth;
mod events;
mod paging;
mod profile;
mod request;
mod timing;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_TYPE, LINK, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::faults::{admit, deliver, FaultKind, Refusal};
use super::{request_base, AppState, SimulatorConfig};
use paging::{ApiError, PageQuery, Position, Selection};
pub use profile::{GenericProfile, SimAuth, SimOrder, SimPagination, SimTimeFormat};
use request::{json_object, parse_get, parse_json_fields, query_pairs, Request};

pub(crate) use auth::TokenStore;
pub(crate) use timing::GenericTimeline;
pub(crate) use timing::{to_datetime as timing_to_datetime, to_nanos as timing_to_nanos};

/// Path of the events listing (GET kinds).
pub const EVENTS_PATH: &str = "/v1/events";
/// Path of the search endpoint (`CursorInBody`).
pub const SEARCH_PATH: &str = "/v1/events/search";
/// Path of the GraphQL endpoint (`Graphql`).
pub const GRAPHQL_PATH: &str = "/graphql";
/// Path of the OAuth 2.0 token endpoint (`OAuth2` auth).
pub const TOKEN_PATH: &str = "/oauth/token";
/// Most events a `None`-paginated window may hold before the API refuses it.
pub const NONE_MAX_EVENTS: usize = 50_000;

/// Per-server state of the generic profile.
#[derive(Debug)]
pub(crate) struct GenericState {
    pub(crate) timeline: GenericTimeline,
    pub(crate) tokens: TokenStore,
}

impl GenericState {
    pub(crate) fn new(config: &SimulatorConfig) -> Self {
        Self {
            timeline: timeline_of(config),
            tokens: TokenStore::default(),
        }
    }
}

pub(crate) fn timeline_of(config: &SimulatorConfig) -> GenericTimeline {
    GenericTimeline::new(
        super::timeline_of(config),
        config.seed,
        config.generic.time_format,
    )
}

/// The id of event `index`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    events::event_id(config.seed, index)
}

/// Event `index` as served.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    events::event(config.seed, &timeline_of(config), index)
}

/// Routes of the generic profile.
pub(crate) fn routes(profile: &GenericProfile) -> Router<Arc<AppState>> {
    let router = match profile.pagination {
        SimPagination::CursorInBody => Router::new().route(SEARCH_PATH, post(search_events)),
        SimPagination::Graphql => Router::new().route(GRAPHQL_PATH, post(graphql)),
        _ => Router::new().route(EVENTS_PATH, get(list_events)),
    };
    match profile.auth {
        SimAuth::OAuth2 { .. } => router.route(TOKEN_PATH, post(auth::token_endpoint)),
        _ => router,
    }
}

// ---- responses ---------------------------------------------------------------------

pub(super) fn json_ok(mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body).into_response()
}

pub(super) fn json_error(status: StatusCode, error: &str, message: &str) -> Response {
    let body = json!({ "error": error, "message": message }).to_string();
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// How errors are written: plain JSON, or GraphQL-style with an `errors` array.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Rest,
    Graphql,
}

fn api_error(app: &AppState, dialect: Dialect, error: &ApiError) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    if error.is_expired_cursor() {
        app.counters.cursors_expired.fetch_add(1, Ordering::Relaxed);
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    match dialect {
        Dialect::Rest => json_error(status, error.error, &error.message),
        Dialect::Graphql => {
            let body = json!({
                "errors": [{"message": error.message, "extensions": {"code": error.error}}],
                "error": error.error,
            })
            .to_string();
            (
                status,
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response()
        }
    }
}

/// Counts the request, applies latency and the fault decision. `Err` is the faulted
/// response to send instead of a page.
async fn prelude(app: &AppState) -> Result<FaultKind, Response> {
    match admit(app).await {
        Ok(fault) => Ok(fault),
        Err(Refusal::RateLimit) => {
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry after the time in Retry-After",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err((
                status,
                [(CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
                format!("{status} (simulated)\n"),
            )
                .into_response())
        }
    }
}

fn check_auth(app: &AppState, headers: &HeaderMap, query: &[(String, String)]) -> Option<Response> {
    if auth::is_authorized(
        &app.config.generic.auth,
        &app.generic.tokens,
        headers,
        query,
    ) {
        return None;
    }
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    Some(json_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or invalid credentials",
    ))
}

// ---- handlers ------------------------------------------------------------------------

/// `GET /v1/events`.
async fn list_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match prelude(&app).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    let pairs = query_pairs(raw_query.as_deref());
    if let Some(denied) = check_auth(&app, &headers, &pairs) {
        return denied;
    }
    match parse_get(&app, &pairs) {
        Ok(request) => serve(&app, &headers, &request, fault, Dialect::Rest),
        Err(error) => api_error(&app, Dialect::Rest, &error),
    }
}

/// `POST /v1/events/search`.
async fn search_events(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    let fault = match prelude(&app).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if let Some(denied) = check_auth(&app, &headers, &query_pairs(raw_query.as_deref())) {
        return denied;
    }
    let request =
        json_object(&body).and_then(|fields| parse_json_fields(&app, &fields, "limit", "cursor"));
    match request {
        Ok(request) => serve(&app, &headers, &request, fault, Dialect::Rest),
        Err(error) => api_error(&app, Dialect::Rest, &error),
    }
}

/// `POST /graphql`.
async fn graphql(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    let fault = match prelude(&app).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if let Some(denied) = check_auth(&app, &headers, &query_pairs(raw_query.as_deref())) {
        return denied;
    }
    let request = json_object(&body).and_then(|mut fields| match fields.remove("variables") {
        Some(Value::Object(variables)) => parse_json_fields(&app, &variables, "first", "after"),
        _ => Err(ApiError::bad_request(
            "invalid body",
            "variables must be an object with start and end",
        )),
    });
    match request {
        Ok(request) => serve(&app, &headers, &request, fault, Dialect::Graphql),
        Err(error) => api_error(&app, Dialect::Graphql, &error),
    }
}

fn serve(
    app: &AppState,
    request_headers: &HeaderMap,
    request: &Request,
    fault: FaultKind,
    dialect: Dialect,
) -> Response {
    let profile = &app.config.generic;
    let timeline = &app.generic.timeline;
    let all_at_once = profile.pagination == SimPagination::None;
    let selection = match paging::select(
        timeline,
        profile.order,
        &request.query,
        all_at_once,
        paging::now_ns(),
    ) {
        Ok(selection) => selection,
        Err(error) => return api_error(app, dialect, &error),
    };
    let cursor = paging::encode_cursor(
        app.config.seed,
        profile.order,
        selection.boundary,
        Utc::now().timestamp_millis(),
    );
    let count = selection.indices.len();
    let mut headers = HeaderMap::new();
    let echoed = match &profile.auth {
        SimAuth::ApiKeyQuery {
            param,
            key,
            echo_in_links: true,
        } => Some((param.as_str(), key.as_str())),
        _ => None,
    };
    let next_url = || {
        next_url(
            &request_base(request_headers, app),
            request,
            &cursor,
            echoed,
        )
    };
    let meta = match profile.pagination {
        SimPagination::None => json!({ "count": count }),
        SimPagination::LinkHeader => {
            if selection.more {
                let link = format!("<{}>; rel=\"next\"", next_url());
                // Built from a request hyper accepted, so always a valid header value.
                if let Ok(value) = HeaderValue::from_str(&link) {
                    headers.insert(LINK, value);
                }
            }
            json!({ "count": count })
        }
        SimPagination::NextUrl => {
            json!({ "count": count, "next_url": selection.more.then(next_url) })
        }
        SimPagination::Cursor => json!({
            "count": count,
            "next_cursor": if selection.more { cursor.as_str() } else { "" },
        }),
        SimPagination::CursorHasMore => {
            json!({ "count": count, "next_cursor": cursor, "has_more": selection.more })
        }
        SimPagination::CursorInBody => {
            if selection.more {
                json!({ "count": count, "next_cursor": cursor })
            } else {
                json!({ "count": count })
            }
        }
        SimPagination::Offset => {
            json!({ "count": count, "offset": request.offset, "limit": request.query.limit })
        }
        SimPagination::PageNumber => {
            json!({ "count": count, "page": request.page, "has_more": selection.more })
        }
        SimPagination::Graphql => json!({
            "endCursor": (count > 0).then_some(cursor.as_str()),
            "hasNextPage": selection.more,
        }),
    };
    let body = deliver(
        app,
        fault,
        render(app, &selection, &meta, dialect),
        &selection.indices,
    );
    json_ok(headers, body)
}

/// The page body: `{"data": [...], "meta": ...}`, or the GraphQL connection.
fn render(app: &AppState, selection: &Selection, meta: &Value, dialect: Dialect) -> Vec<u8> {
    let count = selection.indices.len();
    let mut body = Vec::with_capacity(count.min(4096) * 640 + 128);
    body.extend_from_slice(match dialect {
        Dialect::Rest => b"{\"data\":[".as_slice(),
        Dialect::Graphql => b"{\"data\":{\"events\":{\"nodes\":[".as_slice(),
    });
    for (n, index) in selection.indices.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        events::write_event(&mut body, app.config.seed, &app.generic.timeline, *index);
    }
    body.extend_from_slice(match dialect {
        Dialect::Rest => b"],\"meta\":".as_slice(),
        Dialect::Graphql => b"],\"pageInfo\":".as_slice(),
    });
    // Writing a Value into a Vec cannot fail.
    serde_json::to_writer(&mut body, meta).expect("JSON values serialize");
    body.extend_from_slice(match dialect {
        Dialect::Rest => b"}".as_slice(),
        Dialect::Graphql => b"}}}".as_slice(),
    });
    body
}

/// The next page's absolute URL: the client's bounds and limit plus the cursor, and the
/// credential when the profile echoes it (`echoed`: parameter and key).
fn next_url(base: &str, request: &Request, cursor: &str, echoed: Option<(&str, &str)>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some((param, key)) = echoed {
        query.append_pair(param, key);
    }
    query.append_pair("start", &request.raw_start);
    query.append_pair("end", &request.raw_end);
    if let Some(limit) = &request.raw_limit {
        query.append_pair("limit", limit);
    }
    query.append_pair("cursor", cursor);
    format!("{base}{EVENTS_PATH}?{}", query.finish())
}

#[cfg(test)]
mod tests;
