//! Salesforce profile: an org's Setup Audit Trail through the REST API's SOQL query resource,
//! `GET /services/data/vXX.X/query?q=SELECT … FROM SetupAuditTrail …`, and the OAuth 2.0
//! Client Credentials Flow at `POST /services/oauth2/token`. The `salesforce_event_log`
//! vendor answers on the same routes with the EventLogFile object instead, and serves each
//! file's CSV ([`event_log`]).
//!
//! Built from Salesforce's references, read 2026-12-07: the Object Reference's
//! "SetupAuditTrail" (and the Field Reference's), the REST API Developer Guide's "Query" and
//! "Query More Results" resources and its status codes and error responses, the SOQL and
//! SOSL Reference's "Date Formats and Date Literals in WHERE", and the OAuth "Client
//! Credentials Flow for Server-to-Server Integration":
//!
//! * `q` is a SOQL query. Records come in batches of up to 2,000, possibly fewer; the answer
//!   is `{"totalSize", "done", "nextRecordsUrl"?, "records": [...]}` and, while `done` is
//!   false, `nextRecordsUrl` (a path, `/services/data/vXX.X/query/<locator>-<n>`) names the
//!   next batch. `Sforce-Query-Options: batchSize=N` asks for smaller batches (200 to 2,000).
//! * dateTime literals in `WHERE` are written `YYYY-MM-DDThh:mm:ssZ` (or with `±hh:mm`),
//!   unquoted; `CreatedDate` comes back as `2026-11-22T10:00:00.000+0000` (UTC).
//! * SetupAuditTrail keeps at least the last 180 days; each record has `Id`, `Action`,
//!   `Section`, `CreatedDate`, `CreatedById`, `Display`, `DelegateUser`,
//!   `ResponsibleNamespacePrefix`, `CreatedByContext`, `CreatedByIssuer` (see [`events`]).
//! * Requests carry `Authorization: Bearer <access token>`; a bad or expired one answers 401
//!   `[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`.
//!   Errors are arrays of `{"message", "errorCode"}`: `MALFORMED_QUERY` and `INVALID_FIELD`
//!   (400), `INVALID_QUERY_LOCATOR` (400), `NOT_FOUND` (404), `REQUEST_LIMIT_EXCEEDED` (403,
//!   the org's API request limit spent), `SERVER_UNAVAILABLE` (503). Responses carry
//!   `Sforce-Limit-Info: api-usage=<used>/<allowed>`.
//! * Tokens: `grant_type=client_credentials` with `client_id` and `client_secret` (form
//!   fields or HTTP Basic); the answer is `{"access_token", "signature", "instance_url",
//!   "id", "token_type": "Bearer", "issued_at"}` with no `expires_in`; a wrong client gets
//!   400 `{"error": "invalid_client", "error_description": "invalid client credentials"}`.
//!
//! # Assumptions and simplifications
//!
//! * Only the queries a Setup Audit Trail export sends are understood: `SELECT <fields> FROM
//!   SetupAuditTrail`, an optional `WHERE` of `CreatedDate` comparisons (`>`, `>=`, `<`,
//!   `<=`) joined by `AND`, and an optional `ORDER BY CreatedDate [ASC|DESC][, Id
//!   [ASC|DESC]]`. Anything else (`LIMIT`, `OR`, other objects, fractions of a second in a
//!   literal) is refused as `MALFORMED_QUERY`, counted as a bad request, so a preset relying
//!   on it notices. Every record carries every field whatever the `SELECT` list names, but a
//!   field the object does not have is refused as `INVALID_FIELD`.
//! * A query is a snapshot taken when it runs: its locator holds the query's range and time,
//!   and later batches serve what was visible then. Locators are refused after 15 minutes
//!   (`INVALID_QUERY_LOCATOR`), counted as expired cursors; real ones expire after 15 minutes
//!   of inactivity. The number after the locator's dash is the next record's index, not a
//!   count. Only API version [`API_VERSION`] is served (others: `NOT_FOUND`).
//! * Retention (180 days) and the 24-hour request allowance are not modelled; an injected
//!   rate-limit fault is the 403 `REQUEST_LIMIT_EXCEEDED`. Tokens never expire before two
//!   hours (the default session timeout) and are not tied to a session.

pub mod event_log;
mod events;
mod soql;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::late::now_ns;
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::{AppState, SimulatorConfig};

use event_log::is_event_log_query as event_log_query;
pub use events::format_time;
pub(crate) use events::{event, event_id};
use soql::parse_soql;

/// The API version served.
pub const API_VERSION: &str = "v64.0";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/services/oauth2/token";
/// The External Client App's consumer key (its secret is the simulator's `token`).
pub const CLIENT_ID: &str = "3MVG9simulatedSalesforceConsumerKey.0000000000000000000001";
/// Records per batch without `Sforce-Query-Options`, and the most a batch holds.
pub const MAX_BATCH: usize = 2_000;
/// The smallest `batchSize` accepted.
pub const MIN_BATCH: usize = 200;
/// How long a query locator is honoured.
pub const LOCATOR_SECONDS: i64 = 15 * 60;
/// Lifetime of an access token (the default session timeout).
pub const TOKEN_SECONDS: i64 = 2 * 3600;
/// The org's id, in token answers.
pub const ORG_ID: &str = "00D8c000000SiMuEAC";

/// Routes of the profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route(
            "/services/data/{version}/sobjects/EventLogFile/{id}/LogFile",
            get(event_log::log_file),
        )
        .route(TOKEN_PATH, post(token))
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "consumer key {CLIENT_ID}, consumer secret {}; token endpoint {base_url}{TOKEN_PATH}, \
         queries at {base_url}/services/data/{API_VERSION}/query (my_domain_url = \"{base_url}\")",
        config.token
    )
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let headers = [
        (
            CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        ),
        (
            axum::http::HeaderName::from_static("sforce-limit-info"),
            HeaderValue::from_static("api-usage=25/15000"),
        ),
    ];
    (status, headers, body).into_response()
}

/// An error as the REST API writes them: an array of `{message, errorCode}`.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!([{ "message": message, "errorCode": code }]);
    json_response(status, body.to_string().into_bytes())
}

fn bad_request(app: &AppState, code: &str, message: &str) -> Response {
    app.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    api_error(StatusCode::BAD_REQUEST, code, message)
}

fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::RateLimit => api_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        Refusal::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                api_error(
                    status,
                    "SERVER_UNAVAILABLE",
                    "Server temporarily unavailable",
                )
            } else {
                api_error(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred")
            }
        }
    }
}

/// An access token: the org id, then its expiry (Unix seconds) and a check value bound to
/// the seed.
fn issue_token(seed: u64, expires: i64) -> String {
    let check = hash3(seed, domain::TOKEN, expires as u64) as u32;
    format!("{ORG_ID}!{expires:x}.{check:08x}")
}

/// Whether `token` is one this profile issued and has not expired.
fn token_is_valid(seed: u64, token: &str, now: i64) -> bool {
    let Some(rest) = token.strip_prefix(ORG_ID).and_then(|t| t.strip_prefix('!')) else {
        return false;
    };
    let Some((expires, check)) = rest.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(check)) = (
        i64::from_str_radix(expires, 16),
        u32::from_str_radix(check, 16),
    ) else {
        return false;
    };
    check == hash3(seed, domain::TOKEN, expires as u64) as u32 && expires > now
}

/// The 401 for a request without a valid access token; `None` when it has one.
fn session_refusal(app: &AppState, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|t| token_is_valid(app.config.seed, t, Utc::now().timestamp())) {
        return None;
    }
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    Some(api_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    ))
}

/// The 404 for an API version this profile does not serve.
fn version_refusal(version: &str) -> Option<Response> {
    if version == API_VERSION {
        None
    } else {
        Some(api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ))
    }
}

/// A query locator: the query's range, direction and time, and a check value binding them.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Locator {
    lo: u64,
    hi: u64,
    descending: bool,
    queried_ms: i64,
}

impl Locator {
    fn check(&self, seed: u64) -> u64 {
        let mixed = mix64(self.lo ^ mix64(self.hi ^ mix64(self.queried_ms as u64)));
        hash3(seed, domain::CURSOR, mixed ^ u64::from(self.descending)) & 0xffff_ffff
    }

    /// `01g` (the key prefix of query locators), the fields in hex, then `-<next index>`.
    fn encode(&self, seed: u64, next: u64) -> String {
        format!(
            "01g{:x}g{:x}g{}g{:x}g{:x}-{next}",
            self.lo,
            self.hi,
            u8::from(self.descending),
            self.queried_ms,
            self.check(seed)
        )
    }

    fn decode(seed: u64, text: &str) -> Option<(Locator, u64)> {
        let (head, next) = text.strip_prefix("01g")?.split_once('-')?;
        let parts: Vec<&str> = head.split('g').collect();
        let [lo, hi, descending, queried, check] = parts.as_slice() else {
            return None;
        };
        let locator = Locator {
            lo: u64::from_str_radix(lo, 16).ok()?,
            hi: u64::from_str_radix(hi, 16).ok()?,
            descending: match *descending {
                "0" => false,
                "1" => true,
                _ => return None,
            },
            queried_ms: i64::from_str_radix(queried, 16).ok()?,
        };
        let next: u64 = next.parse().ok()?;
        let valid = u64::from_str_radix(check, 16).ok()? == locator.check(seed)
            && (locator.lo..=locator.hi).contains(&next);
        valid.then_some((locator, next))
    }
}

/// The batch size a request asks for with `Sforce-Query-Options: batchSize=N`.
fn batch_size(headers: &HeaderMap) -> Result<usize, String> {
    let Some(options) = headers
        .get("sforce-query-options")
        .and_then(|h| h.to_str().ok())
    else {
        return Ok(MAX_BATCH);
    };
    for option in options.split(',') {
        if let Some((name, value)) = option.split_once('=') {
            if name.trim().eq_ignore_ascii_case("batchSize") {
                return match value.trim().parse::<usize>() {
                    Ok(n) if (MIN_BATCH..=MAX_BATCH).contains(&n) => Ok(n),
                    _ => Err(format!(
                        "batchSize must be between {MIN_BATCH} and {MAX_BATCH}: {value}"
                    )),
                };
            }
        }
    }
    Ok(MAX_BATCH)
}

/// One batch of the query `locator` from index `position`.
fn batch(
    app: &AppState,
    fault: super::faults::FaultKind,
    locator: Locator,
    position: u64,
    size: usize,
) -> Response {
    let seed = app.config.seed;
    let timeline = &app.timeline;
    let direction = if locator.descending {
        Direction::Descending
    } else {
        Direction::Ascending
    };
    let queried_ns = i128::from(locator.queried_ms) * 1_000_000;
    let listing = Listing::at(timeline, locator.lo..locator.hi, direction, queried_ns);
    let total = listing
        .page(listing.first_position(), usize::MAX, |_| true)
        .indices
        .len();
    // The server returns fewer records than asked for now and then ("based on the size and
    // complexity of records queried"), decided by where the batch starts.
    let size = size.min(app.config.max_page_size.max(1));
    let size = if hash3(seed, domain::CURSOR, position).is_multiple_of(4) {
        size.div_ceil(2)
    } else {
        size
    };
    let page = listing.page(position, size, |_| true);
    let records: Vec<Value> = page
        .indices
        .iter()
        .map(|i| events::build(seed, timeline, *i))
        .collect();
    let mut body = json!({
        "totalSize": total,
        "done": page.next.is_none(),
        "records": records,
    });
    if let Some(next) = page.next {
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/{API_VERSION}/query/{}",
            locator.encode(seed, next)
        ));
    }
    let body = deliver(app, fault, body.to_string().into_bytes(), &page.indices);
    json_response(StatusCode::OK, body)
}

/// `GET /services/data/vXX.X/query?q=…`.
async fn query(
    State(app): State<Arc<AppState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(refused) => return refusal(refused),
    };
    if let Some(refused) = version_refusal(&version).or_else(|| session_refusal(&app, &headers)) {
        return refused;
    }
    let size = match batch_size(&headers) {
        Ok(size) => size,
        Err(message) => return bad_request(&app, "INVALID_QUERY_FILTER_OPERATOR", &message),
    };
    let soql = url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.into_owned());
    let Some(soql) = soql else {
        return bad_request(
            &app,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    // The audit trail's profile serves SetupAuditTrail, the event log's EventLogFile: each
    // timeline is one object's records.
    let event_log = app.config.vendor == super::Vendor::SalesforceEventLog;
    if event_log_query(&soql) != event_log {
        let object = if event_log {
            "SetupAuditTrail"
        } else {
            "EventLogFile"
        };
        return bad_request(
            &app,
            "INVALID_TYPE",
            &format!("sObject type '{object}' is not supported by this simulator profile"),
        );
    }
    if event_log {
        return match event_log::parse(&soql) {
            Ok(query) => event_log::first_batch(&app, fault, query, size),
            Err((code, message)) => bad_request(&app, code, &message),
        };
    }
    let parsed = match parse_soql(&app.timeline, &soql) {
        Ok(parsed) => parsed,
        Err((code, message)) => return bad_request(&app, code, &message),
    };
    let locator = Locator {
        lo: parsed.lo,
        hi: parsed.hi,
        descending: parsed.direction == Direction::Descending,
        queried_ms: (now_ns() / 1_000_000) as i64,
    };
    let first = match parsed.direction {
        Direction::Ascending => parsed.lo,
        Direction::Descending => parsed.hi,
    };
    batch(&app, fault, locator, first, size)
}

/// `GET /services/data/vXX.X/query/<locator>-<n>`: the next batch of a query.
async fn query_more(
    State(app): State<Arc<AppState>>,
    Path((version, text)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(refused) => return refusal(refused),
    };
    if let Some(refused) = version_refusal(&version).or_else(|| session_refusal(&app, &headers)) {
        return refused;
    }
    let size = match batch_size(&headers) {
        Ok(size) => size,
        Err(message) => return bad_request(&app, "INVALID_QUERY_FILTER_OPERATOR", &message),
    };
    if app.config.vendor == super::Vendor::SalesforceEventLog {
        return event_log::next_batch(&app, fault, &text, size);
    }
    let Some((locator, next)) = Locator::decode(app.config.seed, &text) else {
        return bad_request(&app, "INVALID_QUERY_LOCATOR", "invalid query locator");
    };
    let age_ms = (now_ns() / 1_000_000) as i64 - locator.queried_ms;
    if age_ms > LOCATOR_SECONDS * 1000 {
        app.counters.cursors_expired.fetch_add(1, Ordering::Relaxed);
        return bad_request(&app, "INVALID_QUERY_LOCATOR", "invalid query locator");
    }
    batch(&app, fault, locator, next, size)
}

/// `400 {"error", "error_description"}`, as the token endpoint refuses.
fn oauth_error(app: &AppState, error: &str, description: &str) -> Response {
    app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    let body = json!({ "error": error, "error_description": description });
    json_response(StatusCode::BAD_REQUEST, body.to_string().into_bytes())
}

/// The client id and secret of a token request: HTTP Basic or form fields.
fn client_of(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    use base64::Engine as _;
    if let Some(basic) = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((id.to_string(), secret.to_string()));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    Some((field("client_id")?, field("client_secret")?))
}

/// `POST /services/oauth2/token`: the Client Credentials Flow. Not faulted (as the other
/// profiles' token endpoints): the faults exercise the listing.
async fn token(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    if grant != Some("client_credentials") {
        return oauth_error(&app, "unsupported_grant_type", "grant type not supported");
    }
    match client_of(&headers, &form) {
        Some((id, secret)) if id == CLIENT_ID && secret == app.config.token => {}
        _ => return oauth_error(&app, "invalid_client", "invalid client credentials"),
    }
    app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let now = Utc::now();
    let base = super::request_base(&headers, &app);
    let body = json!({
        "access_token": issue_token(app.config.seed, now.timestamp() + TOKEN_SECONDS),
        "signature": format!("{:016x}", hash3(app.config.seed, domain::TOKEN, now.timestamp() as u64)),
        "instance_url": base,
        "id": format!("{base}/id/{ORG_ID}/0058c00000A1xQeAAJ"),
        "token_type": "Bearer",
        "issued_at": now.timestamp_millis().to_string(),
    });
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

#[cfg(test)]
mod tests;
