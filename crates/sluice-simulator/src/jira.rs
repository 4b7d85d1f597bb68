//! Jira Cloud and Confluence Cloud audit records of one Atlassian site:
//! `GET /rest/api/3/auditing/record` (Jira) and `GET /wiki/rest/api/audit` (Confluence).
//!
//! Built from Atlassian's references (read 2026-12-07): Jira Cloud platform REST API v3,
//! "Audit records" group (developer.atlassian.com/cloud/jira/platform/rest/v3/
//! api-group-audit-records/), Jira's "Rate limiting" page, and the Confluence Cloud REST API's
//! "Get audit records" (developer.atlassian.com/cloud/confluence/rest/v1/api-group-audit/,
//! also in Atlassian's published Postman collection):
//!
//! * Jira: `offset` (records to skip, default 0), `limit` (default 1000), `filter`, `from`
//!   ("on or after which returned audit records must have been created") and `to` ("on or
//!   before"); if `from` is not before `to`, no records are returned. The answer is
//!   `{"offset","limit","total","records":[...]}`; each record has an integer `id`, `summary`,
//!   `remoteAddress`, `authorAccountId`, `created` (written `2014-03-19T18:45:42.967+0000`),
//!   `category`, `eventSource`, `objectItem`, `changedValues`, `associatedItems`. Needs the
//!   *Administer Jira* global permission; 401 and 403 answer an `ErrorCollection`
//!   (`{"errorMessages": [...], "errors": {}}`).
//! * Confluence: `startDate` ("on or after") and `endDate` ("on or before"), both epoch
//!   milliseconds, `searchString`, `start` (index of the first record) and `limit` ("may be
//!   restricted by fixed system limits"). The answer is `{"results":[...],"start","limit",
//!   "size","_links"}`; each record has `author`, `remoteAddress`, `creationDate` (epoch ms),
//!   `summary`, `description`, `category`, `sysAdmin`, `superAdmin`, `affectedObject`,
//!   `changedValues`, `associatedObjects`, and no id. Needs the *Confluence Administrator*
//!   global permission.
//! * Both take an Atlassian account's e-mail and API token as HTTP Basic credentials.
//! * Rate limits: a 429 may carry `Retry-After` (seconds) and `X-RateLimit-Reset`.
//!
//! # Differences from the real API (deliberate simplifications, and assumptions)
//!
//! * The order of records is not documented: both serve newest first (as the products'
//!   audit log screens do). The offset counts the records visible at the time of the request.
//! * `from`/`to` take ISO 8601 date-times with an offset (`Z`, `+00:00` or `+0000`); the
//!   formats Jira accepts besides are not listed. Anything else is refused with 400.
//! * `filter` and `searchString` are refused with 400 (not modelled), so a client relying on
//!   them notices.
//! * Page sizes: at most [`MAX_LIMIT`] (1000, Jira's default) for both; a larger `limit` is
//!   cut to it.
//! * 401 bodies: Jira's `ErrorCollection`; Confluence's `{"statusCode", "message"}` (its
//!   error shape as commonly seen, not in the reference). 429 carries `Retry-After: 1` (real
//!   waits are longer) and `X-RateLimit-Reset`.
//! * Records of the two products are dealt from one timeline ([`Product::of`]).

mod events;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// The Atlassian account whose API token is the simulator's `token`.
pub const EMAIL: &str = "audit-bot@acme.example";
/// Page size without `limit`, and the largest served.
pub const MAX_LIMIT: usize = 1000;

/// The product a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// `GET /rest/api/3/auditing/record`.
    Jira,
    /// `GET /wiki/rest/api/audit`.
    Confluence,
}

impl Product {
    /// Both products.
    pub const ALL: [Product; 2] = [Product::Jira, Product::Confluence];

    /// The product of record `index`.
    pub fn of(index: u64) -> Product {
        Product::ALL[(index % 2) as usize]
    }

    /// The endpoint's path.
    pub const fn path(self) -> &'static str {
        match self {
            Product::Jira => "/rest/api/3/auditing/record",
            Product::Confluence => "/wiki/rest/api/audit",
        }
    }
}

/// The ids (Sluice's ids: Jira's `id`, Confluence's content ids) of every record `product`
/// serves, oldest first.
pub fn product_ids(config: &SimulatorConfig, product: Product) -> Vec<String> {
    (0..config.events)
        .filter(|i| Product::of(*i) == product)
        .map(|i| event_id(config, i))
        .collect()
}

/// Routes of the profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for product in Product::ALL {
        router = router.route(
            product.path(),
            get(
                move |state: State<Arc<AppState>>, headers: HeaderMap, query: RawQuery| {
                    audit(state, product, headers, query)
                },
            ),
        );
    }
    router
}

/// A parsed request: records whose time lies in `[lo_ms, hi_ms]`.
struct AuditQuery {
    lo_ms: i64,
    hi_ms: i64,
    offset: usize,
    limit: usize,
}

fn iso_ms(name: &str, value: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("'{name}' is not a valid date-time: {value}"))
}

fn epoch_ms(name: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("{name} must be epoch time in milliseconds: {value}"))
}

fn count(name: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .map_err(|_| format!("'{name}' must be a non-negative integer: {value}"))
}

fn parse_query(product: Product, raw: Option<&str>) -> Result<AuditQuery, String> {
    let mut query = AuditQuery {
        lo_ms: i64::MIN,
        hi_ms: i64::MAX,
        offset: 0,
        limit: MAX_LIMIT,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match (product, key.as_ref()) {
            (Product::Jira, "from") => query.lo_ms = iso_ms("from", &value)?,
            (Product::Jira, "to") => query.hi_ms = iso_ms("to", &value)?,
            (Product::Jira, "offset") => query.offset = count("offset", &value)?,
            (Product::Confluence, "startDate") => query.lo_ms = epoch_ms("startDate", &value)?,
            (Product::Confluence, "endDate") => query.hi_ms = epoch_ms("endDate", &value)?,
            (Product::Confluence, "start") => query.offset = count("start", &value)?,
            (_, "limit") => query.limit = count("limit", &value)?.clamp(1, MAX_LIMIT),
            (Product::Jira, "filter") | (Product::Confluence, "searchString") => {
                return Err(format!("the simulator does not filter by {key}"))
            }
            _ => {}
        }
    }
    Ok(query)
}

fn json_response(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    (status, headers, body).into_response()
}

/// A refusal in the product's words.
fn refusal(product: Product, status: StatusCode, message: &str) -> Response {
    let body = match product {
        Product::Jira => serde_json::json!({ "errorMessages": [message], "errors": {} }),
        Product::Confluence => serde_json::json!({
            "statusCode": status.as_u16(),
            "message": message,
        }),
    };
    json_response(status, HeaderMap::new(), body.to_string().into_bytes())
}

fn rate_limited(product: Product) -> Response {
    let mut response = refusal(
        product,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded.",
    );
    let reset =
        (Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("retry-after"),
        HeaderValue::from_static("1"),
    );
    if let Ok(value) = HeaderValue::from_str(&reset) {
        headers.insert(HeaderName::from_static("x-ratelimit-reset"), value);
    }
    response
}

/// Whether `headers` carry Basic credentials of [`EMAIL`] and `token`.
fn is_authorized(headers: &HeaderMap, token: &str) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{token}"));
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .is_some_and(|given| given.trim() == expected)
}

/// Either audit endpoint.
async fn audit(
    State(app): State<Arc<AppState>>,
    product: Product,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(product),
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return refusal(product, status, "Internal server error");
        }
    };
    let counters = &app.counters;
    if !is_authorized(&headers, &app.config.token) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        let message = match product {
            Product::Jira => {
                "You are not authenticated. Authentication required to perform this operation."
            }
            Product::Confluence => "Client must be authenticated to access this resource.",
        };
        return refusal(product, StatusCode::UNAUTHORIZED, message);
    }
    let query = match parse_query(product, raw_query.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return refusal(product, StatusCode::BAD_REQUEST, &message);
        }
    };
    let limit = query.limit.min(app.config.max_page_size.max(1));
    let timeline = &app.timeline;
    // Both ends inclusive; `from` not before `to` answers nothing.
    let lo = timeline.first_at_or_after(query.lo_ms);
    let hi = timeline
        .first_at_or_after(query.hi_ms.saturating_add(1))
        .max(lo);
    let range = if query.lo_ms < query.hi_ms {
        lo..hi
    } else {
        lo..lo
    };
    let listing = Listing::new(timeline, range, Direction::Descending);
    let page = listing.page(listing.first_position(), query.offset + limit, |i| {
        Product::of(i) == product
    });
    let total = page.indices.len()
        + usize::from(page.next.is_some())
            * listing
                .page(page.next.unwrap_or(0), usize::MAX, |i| {
                    Product::of(i) == product
                })
                .indices
                .len();
    let indices: Vec<u64> = page.indices.into_iter().skip(query.offset).collect();
    let body = events::render_page(
        &app.config,
        timeline,
        product,
        &indices,
        query.offset,
        limit,
        total,
    );
    let body = deliver(&app, fault, body, &indices);
    json_response(StatusCode::OK, HeaderMap::new(), body)
}

#[cfg(test)]
mod tests;
