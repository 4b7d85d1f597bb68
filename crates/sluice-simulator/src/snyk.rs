//! Snyk audit logs profile (REST API): `GET /rest/orgs/{org_id}/audit_logs/search` and
//! `GET /rest/groups/{group_id}/audit_logs/search`.
//!
//! Built from Snyk's REST API reference (the OpenAPI description `rest-spec.json` published in
//! github.com/snyk/user-docs, operations `listOrgAuditLogs` and `listGroupAuditLogs`; the
//! "Audit Logs" reference page docs.snyk.io/snyk-api/reference/audit-logs), its "About the
//! REST API" page (docs.snyk.io/snyk-api/rest-api/about-the-rest-api) and "Retrieve audit logs
//! of user-initiated activity by API for an Org or Group", checked 2026-12-07:
//!
//! * `version` is required: a date, optionally with a stability (`2024-04-29`,
//!   `2023-09-11~beta`); the endpoints were released 2023-09-11 and 2024-04-29 (GA).
//! * `from`: "the start date (inclusive) ... If not specified, the start of yesterday is
//!   used", RFC 3339; `to`: "the end date (exclusive)", RFC 3339. `size`: 1 to 100, 100 by
//!   default. `sort_order`: `ASC` or `DESC`, `DESC` by default. `cursor`: "the ID for the next
//!   page of results". Filters: `user_id`, `project_id`, `events`, `exclude_events`.
//! * An answer is JSON:API: `{"jsonapi": {"version": "1.0"}, "data": {"items": [...]},
//!   "links": {"next": ...}}`; the next link is a path on the API host (`/rest/...`) holding
//!   the query and the cursor.
//! * Items have `created`, `event`, `org_id`, `group_id`, `project_id` and `content`; no id.
//! * Requests carry `Authorization: token <API token>`. Errors are JSON:API error documents
//!   `{"jsonapi", "errors": [{"status", "detail", "source"?}]}`; an unknown query
//!   parameter is a 400 naming it (`source.parameter`).
//! * Rate limit: 1,620 requests a minute per API key; over it `429` until requests stop for
//!   the rest of the minute.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * One dataset is dealt across the two levels ([`Level::of`]): the Organization endpoint
//!   ([`ORG_ID`]) serves the Organization's items, the Group endpoint ([`GROUP_ID`]) serves
//!   the Group's own items and its Organization's ("some Organization level events are
//!   supported as well").
//! * The next link repeats the request's query with a new `cursor`, which encodes the position,
//!   the range, the order and the level with a check value; an edited cursor, or one sent with
//!   another range or order, is refused with 400. The last page has no `next` link.
//! * The filters are refused with 400, so a client relying on one notices; `from` after `to`,
//!   a `size` outside 1..=100 and a malformed `version` are refused with 400, a version older
//!   than the first release with 404. Another Organization's or Group's id is refused with
//!   403 ("Permission denied for this resource").
//! * The 429 carries no `Retry-After` (Snyk documents none); 5xx answers are JSON:API errors.
//!   The 90-day retention is not modelled.

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::{AppState, SimulatorConfig};
use crate::sealed::{self, Alphabet};

pub(crate) use events::{event, event_id};

/// The simulated Organization's id.
pub const ORG_ID: &str = "4a72d1db-b465-4764-99e1-ecedad03b06a";
/// The simulated Group's id (the Organization belongs to it).
pub const GROUP_ID: &str = "e661d4ef-5ad5-4cef-ad16-5157cefa83f5";
/// The route of the Organization search.
pub const ORG_ROUTE: &str = "/rest/orgs/{org_id}/audit_logs/search";
/// The route of the Group search.
pub const GROUP_ROUTE: &str = "/rest/groups/{group_id}/audit_logs/search";
/// The documented default and maximum of `size`.
pub const MAX_SIZE: usize = 100;
/// The first release of the audit log endpoints.
pub const FIRST_VERSION: &str = "2023-09-11";

/// Whose audit log an item belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// An Organization event: served by both endpoints.
    Org,
    /// A Group event: served by the Group endpoint only.
    Group,
}

impl Level {
    /// The level of item `index`: every third item is the Group's own.
    pub fn of(index: u64) -> Level {
        if index % 3 == 2 {
            Level::Group
        } else {
            Level::Org
        }
    }

    /// The items of the Organization search hold Organization events only; the Group search
    /// holds every item.
    fn serves(self, index: u64) -> bool {
        self == Level::Group || Level::of(index) == Level::Org
    }
}

/// The ids (Sluice's content ids) of every item the search of `level` serves, oldest first.
pub fn search_ids(config: &SimulatorConfig, level: Level) -> Vec<String> {
    (0..config.events)
        .filter(|i| level.serves(*i))
        .map(|i| event_id(config, i))
        .collect()
}

/// The path of the Organization search.
pub fn org_path() -> String {
    ORG_ROUTE.replace("{org_id}", ORG_ID)
}

/// The path of the Group search.
pub fn group_path() -> String {
    GROUP_ROUTE.replace("{group_id}", GROUP_ID)
}

/// Routes of the Snyk profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            ORG_ROUTE,
            get(
                |state: State<Arc<AppState>>,
                 id: Path<String>,
                 headers: HeaderMap,
                 query: RawQuery| async move {
                    search(state, Level::Org, id, headers, query).await
                },
            ),
        )
        .route(
            GROUP_ROUTE,
            get(
                |state: State<Arc<AppState>>,
                 id: Path<String>,
                 headers: HeaderMap,
                 query: RawQuery| async move {
                    search(state, Level::Group, id, headers, query).await
                },
            ),
        )
}

/// A JSON:API error document with one error.
fn error_document(status: StatusCode, detail: &str, parameter: Option<&str>) -> Response {
    let mut error = json!({
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(parameter) = parameter {
        error["source"] = json!({ "parameter": parameter });
    }
    let body = json!({ "jsonapi": { "version": "1.0" }, "errors": [error] });
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.api+json"),
    );
    (status, headers, body.to_string()).into_response()
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_document(status, "Internal Server Error", None)
}

/// A refused request: status, detail and the parameter at fault.
struct Refused {
    status: StatusCode,
    detail: String,
    parameter: Option<&'static str>,
}

fn bad(parameter: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        status: StatusCode::BAD_REQUEST,
        detail: detail.into(),
        parameter: Some(parameter),
    }
}

/// A parsed search: items whose timeline index lies in `lo..hi`, in `direction`.
struct SearchQuery {
    lo: u64,
    hi: u64,
    direction: Direction,
    size: usize,
    cursor: Option<String>,
}

/// Where a listing stands, as its cursor carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    at: u64,
    lo: u64,
    hi: u64,
    ascending: bool,
    group: bool,
}

/// `version`: a date (`YYYY-MM-DD`), optionally `~wip`, `~experimental` or `~beta`.
fn check_version(value: &str) -> Result<(), Refused> {
    let (date, stage) = value.split_once('~').unwrap_or((value, ""));
    let well_formed = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
        && ["", "wip", "work-in-progress", "experimental", "beta"].contains(&stage);
    if !well_formed {
        return Err(bad("version", format!("invalid version {value:?}")));
    }
    if date < FIRST_VERSION {
        return Err(Refused {
            status: StatusCode::NOT_FOUND,
            detail: format!("no matching version for {value:?}"),
            parameter: None,
        });
    }
    Ok(())
}

fn parse_time(name: &'static str, value: &str) -> Result<DateTime<Utc>, Refused> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(name, format!("{name} must be an RFC 3339 date-time")))
}

fn parse_query(
    app: &AppState,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SearchQuery, Refused> {
    let mut version = None;
    let mut from = None;
    let mut to = None;
    let mut size = MAX_SIZE;
    let mut direction = Direction::Descending;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "version" => version = Some(value.into_owned()),
            "from" => from = Some(parse_time("from", &value)?),
            "to" => to = Some(parse_time("to", &value)?),
            "size" => {
                size = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_SIZE).contains(n))
                    .ok_or_else(|| bad("size", format!("size must be from 1 to {MAX_SIZE}")))?;
            }
            "sort_order" => {
                direction = match value.as_ref() {
                    "ASC" => Direction::Ascending,
                    "DESC" => Direction::Descending,
                    _ => return Err(bad("sort_order", "sort_order must be ASC or DESC")),
                }
            }
            "cursor" => cursor = Some(value.into_owned()),
            "user_id" | "project_id" | "events" | "exclude_events" => {
                let name = match key.as_ref() {
                    "user_id" => "user_id",
                    "project_id" => "project_id",
                    "events" => "events",
                    _ => "exclude_events",
                };
                return Err(bad(
                    name,
                    format!("the simulator does not filter by {name}"),
                ));
            }
            other => {
                return Err(Refused {
                    status: StatusCode::BAD_REQUEST,
                    detail: format!("Unknown query parameter '{other}'"),
                    parameter: None,
                })
            }
        }
    }
    check_version(
        version
            .as_deref()
            .ok_or_else(|| bad("version", "version is required"))?,
    )?;
    // The start of yesterday, UTC.
    let yesterday = (now - chrono::TimeDelta::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    let from = from.unwrap_or(yesterday);
    let to = to.unwrap_or(now);
    if from > to {
        return Err(bad("from", "from must not be after to"));
    }
    let timeline = &app.timeline;
    let lo = timeline.first_at_or_after(super::timeline::ceil_millis(&from));
    let hi = timeline
        .first_at_or_after(super::timeline::ceil_millis(&to))
        .max(lo);
    Ok(SearchQuery {
        lo,
        hi,
        direction,
        size: size.min(app.config.max_page_size.max(1)),
        cursor,
    })
}

fn encode_cursor(seed: u64, p: Position) -> String {
    let flags = u64::from(p.ascending) | (u64::from(p.group) << 1);
    sealed::seal(seed, Alphabet::UrlSafe, &[p.at, p.lo, p.hi, flags])
}

fn decode_cursor(seed: u64, cursor: &str) -> Option<Position> {
    let [at, lo, hi, flags] = sealed::open(seed, Alphabet::UrlSafe, cursor)?;
    (flags <= 3).then_some(Position {
        at,
        lo,
        hi,
        ascending: flags & 1 == 1,
        group: flags & 2 == 2,
    })
}

/// `true` when the request carries the API token as `token <API token>`.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(scheme, given)| scheme.eq_ignore_ascii_case("token") && given == token)
}

/// The next link: the request's path and query, with `cursor` replaced.
fn next_link(path: &str, raw: Option<&str>, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{path}?{}", query.finish())
}

/// `GET /rest/{orgs,groups}/{id}/audit_logs/search`.
async fn search(
    State(app): State<Arc<AppState>>,
    level: Level,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error_document(StatusCode::TOO_MANY_REQUESTS, "Too many requests", None)
        }
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    if !authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_document(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: the request requires an authentication token",
            None,
        );
    }
    let (own_id, path) = match level {
        Level::Org => (ORG_ID, org_path()),
        Level::Group => (GROUP_ID, group_path()),
    };
    if id != own_id {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_document(
            StatusCode::FORBIDDEN,
            "Permission denied for this resource",
            None,
        );
    }
    let refuse = |refused: Refused| {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        error_document(refused.status, &refused.detail, refused.parameter)
    };
    let query = match parse_query(&app, raw_query.as_deref(), Utc::now()) {
        Ok(query) => query,
        Err(refused) => return refuse(refused),
    };
    let ascending = query.direction == Direction::Ascending;
    let group = level == Level::Group;
    let listing = Listing::new(&app.timeline, query.lo..query.hi, query.direction);
    let at = match &query.cursor {
        None => listing.first_position(),
        Some(cursor) => match decode_cursor(app.config.seed, cursor) {
            Some(p)
                if (p.lo, p.hi, p.ascending, p.group) == (query.lo, query.hi, ascending, group) =>
            {
                p.at
            }
            _ => return refuse(bad("cursor", "invalid cursor")),
        },
    };
    let page = listing.page(at, query.size, |i| level.serves(i));
    let items: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(app.config.seed, &app.timeline, *i))
        .collect();
    let mut links = json!({});
    if let Some(next) = page.next {
        let cursor = encode_cursor(
            app.config.seed,
            Position {
                at: next,
                lo: query.lo,
                hi: query.hi,
                ascending,
                group,
            },
        );
        links["next"] = json!(next_link(&path, raw_query.as_deref(), &cursor));
    }
    let body = json!({
        "jsonapi": { "version": "1.0" },
        "data": { "items": items },
        "links": links,
    });
    let body = deliver(&app, fault, body.to_string().into_bytes(), &page.indices);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.api+json"),
    );
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests;
