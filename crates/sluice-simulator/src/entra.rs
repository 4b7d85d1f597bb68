//! Microsoft Entra ID profile: Microsoft Graph v1.0 `GET /v1.0/auditLogs/signIns` and
//! `GET /v1.0/auditLogs/directoryAudits`, and the identity platform's token endpoint
//! `POST /{tenant}/oauth2/v2.0/token` (see [`token`]).
//!
//! Built from Microsoft's Graph v1.0 reference ("List signIns", "List directoryAudits", the
//! `signIn` and `directoryAudit` resources, "Use query parameters", "Paging", "Microsoft Graph
//! error responses", "Microsoft Graph service-specific throttling limits") and the identity
//! platform's "Certificate credentials" and client-credentials pages:
//!
//! * Both lists take `$filter`, `$top` and `$skiptoken`. The time filter is on
//!   `createdDateTime` (sign-ins) or `activityDateTime` (directory audits) with `eq`, `ge` and
//!   `le`, combined with `and`; times are unquoted RFC 3339 literals. `ge` and `le` include
//!   their bound.
//! * Sign-ins: "The maximum and default page size is 1,000 objects and by default, the most
//!   recent sign-ins are returned first"; directory audits are listed newest first too.
//! * An answer is `{"@odata.context": ..., "value": [...], "@odata.nextLink": ...}`: the next
//!   page is an absolute URL repeating the query with a `$skiptoken`; the last page has no
//!   `@odata.nextLink`; with no records `value` is `[]`.
//! * Records have a unique `id` and their time with seven fractional digits.
//! * Graph wants `Authorization: Bearer <access token>`; without a valid one, `401` with
//!   `{"error": {"code": "InvalidAuthenticationToken", "message": ..., "innerError": {...}}}`
//!   and a `WWW-Authenticate: Bearer` challenge. Other errors use the same error object.
//! * Throttling: `429` with `Retry-After` (seconds); the reports APIs allow 5 requests per
//!   10 seconds per app and tenant.
//!
//! # Assumptions and simplifications (where the docs are silent, or on purpose)
//!
//! * One dataset dealt across the two logs: event `i` belongs to [`Stream::of`]`(i)`, so each
//!   log's records are known exactly ([`stream_ids`]). The data does not move with the clock.
//! * The filter understands only the time property with `eq`, `ge`, `le` and `and`; `gt`,
//!   `lt`, `or`, other properties and functions (`startswith`), a date without a time, and any
//!   `$orderby` other than `<time> desc` are refused with `400` ("Invalid filter clause" /
//!   "Unsupported query"), so a client relying on them notices. Graph accepts some of these.
//! * `$top` outside 1..=1000 is refused with `400` (Graph's answer to an oversized `$top` is not
//!   documented); a page holds at most `max_page_size` records, so a smaller server page is
//!   followed by a next link as Graph's are. An edited or foreign `$skiptoken` is a `400`.
//!   Other query parameters (`$select`, `$count`, ...) are ignored.
//! * Paths are matched with the case the reference writes them in (Graph itself does not care).
//! * `Retry-After` on a throttled answer is 1 second, so tests stay quick; Graph names longer
//!   waits. 5xx answers carry Graph's error object (503 with `Retry-After: 1`).
//! * The token endpoint is never faulted. Access tokens live [`token::TOKEN_LIFETIME`]; an
//!   expired one gets Graph's 401 ("Lifetime validation failed, the token is expired.").
//! * Licences and permissions are not modelled: every valid token may read both logs.
//! * AADSTS numbers: 90002, 700016, 7000215, 7000216, 700024, 700027 and 900144 are those Entra
//!   answers for each condition; 700021 (iss/sub not the client id) and 700023 (audience not the
//!   token endpoint) are assumed, from recorded answers rather than a Microsoft page. The
//!   descriptions are paraphrased.

mod events;
pub mod token;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, unique_uuid};
use super::timeline::{ceil_millis, Timeline};
use super::{request_base, AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};
pub(crate) use token::EntraState;

/// The simulated tenant's id.
pub const TENANT_ID: &str = "5f8c2b1e-3d4a-4c6b-9e7f-0a1b2c3d4e5f";
/// The simulated tenant's verified domain, accepted in place of its id.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The registered app's client id (its secret is the simulator's `token`).
pub const CLIENT_ID: &str = "8d2f4c6a-1b3e-4f5a-9c7d-2e4f6a8b0c1d";
/// The app's registered certificate (PEM). Public and simulator-only: it guards nothing.
pub const CERTIFICATE_PEM: &str = include_str!("entra/sim_cert.pem");
/// The private key of [`CERTIFICATE_PEM`] (PEM, PKCS#8). Public and simulator-only: checked in
/// so tests and the demo can sign client assertions the simulator accepts.
pub const PRIVATE_KEY_PEM: &str = include_str!("entra/sim_key.pem");
/// Default and maximum `$top`.
pub const MAX_TOP: usize = 1_000;

/// One of the two activity logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `GET /v1.0/auditLogs/signIns`, time `createdDateTime`.
    SignIns,
    /// `GET /v1.0/auditLogs/directoryAudits`, time `activityDateTime`.
    DirectoryAudits,
}

impl Stream {
    /// Both, in the order events are dealt to them.
    pub const ALL: [Stream; 2] = [Stream::SignIns, Stream::DirectoryAudits];

    /// The log event `index` belongs to.
    pub fn of(index: u64) -> Stream {
        Stream::ALL[(index % 2) as usize]
    }

    /// The endpoint's path.
    pub const fn path(self) -> &'static str {
        match self {
            Stream::SignIns => "/v1.0/auditLogs/signIns",
            Stream::DirectoryAudits => "/v1.0/auditLogs/directoryAudits",
        }
    }

    /// The property holding a record's time, the one `$filter` takes.
    pub const fn time_property(self) -> &'static str {
        match self {
            Stream::SignIns => "createdDateTime",
            Stream::DirectoryAudits => "activityDateTime",
        }
    }

    /// The `@odata.context` fragment.
    const fn context(self) -> &'static str {
        match self {
            Stream::SignIns => "auditLogs/signIns",
            Stream::DirectoryAudits => "auditLogs/directoryAudits",
        }
    }

    fn number(self) -> u64 {
        match self {
            Stream::SignIns => 0,
            Stream::DirectoryAudits => 1,
        }
    }
}

/// The `id`s of every record `stream` serves, oldest first.
pub fn stream_ids(config: &SimulatorConfig, stream: Stream) -> Vec<String> {
    (stream.number()..config.events)
        .step_by(2)
        .map(|i| event_id(config, i))
        .collect()
}

/// What a client needs to authenticate to a simulator of `config` served at `base_url`: the
/// tenant, the client id and the secret, or the certificate.
pub fn credentials_note(config: &SimulatorConfig, base_url: &str) -> String {
    format!(
        "Entra tenant {TENANT_ID} (or {TENANT_DOMAIN}), client id {CLIENT_ID}, client secret {}; \
         token endpoint {base_url}/{TENANT_ID}/oauth2/v2.0/token, scope {base_url}/.default; \
         the certificate and key it accepts are crates/sluice-simulator/src/entra/sim_cert.pem and sim_key.pem",
        config.token
    )
}

/// Routes of the Entra profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router =
        Router::new().route("/{tenant}/oauth2/v2.0/token", post(token::token_endpoint));
    for stream in Stream::ALL {
        router = router.route(
            stream.path(),
            get(
                move |state: State<Arc<AppState>>, headers: HeaderMap, query: RawQuery| {
                    list(state, stream, headers, query)
                },
            ),
        );
    }
    router
}

/// A Graph error answer.
struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn bad_request(code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: message.into(),
    }
}

fn error_response(app: &AppState, error: GraphError) -> Response {
    let sequence = app.error_seq.fetch_add(1, Ordering::Relaxed);
    let request_id = unique_uuid(hash3(app.config.seed, domain::ERROR_ID, 3), sequence);
    let body = json!({
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id.to_string(),
                "client-request-id": request_id.to_string(),
            },
        },
    });
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match error.status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        StatusCode::UNAUTHORIZED => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        _ => {}
    }
    (error.status, headers, body.to_string()).into_response()
}

/// Checks `Authorization: Bearer <token>` against the issued tokens.
fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<(), GraphError> {
    let unauthorized = |message: &str| GraphError {
        status: StatusCode::UNAUTHORIZED,
        code: "InvalidAuthenticationToken",
        message: message.to_string(),
    };
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(unauthorized("Access token is empty."));
    };
    match app.entra.check(token) {
        Some(true) => Ok(()),
        Some(false) => Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        )),
        None => Err(unauthorized(
            "Access token validation failure. Invalid audience.",
        )),
    }
}

/// The global index range `[lo, hi)` a request covers, where it continues (its `$skiptoken`),
/// its page size, and the raw parameters a next link repeats.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    lo: u64,
    hi: u64,
    /// Serve records below this index (newest first); `hi` on a first page.
    before: u64,
    top: usize,
    filter: Option<String>,
    top_raw: Option<String>,
    orderby: Option<String>,
}

impl ListQuery {
    fn parse(app: &AppState, stream: Stream, raw: Option<&str>) -> Result<ListQuery, GraphError> {
        let timeline = &app.timeline;
        let mut query = ListQuery {
            lo: 0,
            hi: timeline.len(),
            before: timeline.len(),
            // Graph's default page is its maximum; `sluice simulate --page-size` can lower it.
            top: app.config.default_page_size.clamp(1, MAX_TOP),
            filter: None,
            top_raw: None,
            orderby: None,
        };
        let mut skiptoken = None;
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "$filter" => {
                    let (lo, hi) = parse_filter(timeline, stream, &value)?;
                    query.lo = query.lo.max(lo);
                    query.hi = query.hi.min(hi);
                    query.filter = Some(value);
                }
                "$top" => {
                    query.top = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            bad_request(
                                "BadRequest",
                                format!("Invalid $top value '{value}': it must be a whole number from 1 to {MAX_TOP}."),
                            )
                        })?;
                    query.top_raw = Some(value);
                }
                "$skiptoken" => skiptoken = Some(value),
                "$orderby" => {
                    let wanted = format!("{} desc", stream.time_property());
                    if value.trim() != wanted {
                        return Err(bad_request(
                            "Request_UnsupportedQuery",
                            format!("Unsupported $orderby '{value}': this simulator lists newest first only ('{wanted}')."),
                        ));
                    }
                    query.orderby = Some(value);
                }
                _ => {}
            }
        }
        query.before = query.hi;
        if let Some(token) = skiptoken {
            let position = decode_skiptoken(app.config.seed, stream, timeline.len(), &token)
                .ok_or_else(|| {
                    bad_request(
                        "BadRequest",
                        "Invalid $skiptoken: it is not one this API issued.",
                    )
                })?;
            query.before = position.min(query.hi);
        }
        query.top = query.top.min(app.config.max_page_size.max(1));
        Ok(query)
    }
}

fn invalid_filter(why: &str) -> GraphError {
    bad_request("BadRequest", format!("Invalid filter clause: {why}"))
}

/// Reads `<time property> (eq|ge|le) <RFC 3339>` clauses joined by `and` into the global index
/// range they select.
fn parse_filter(
    timeline: &Timeline,
    stream: Stream,
    filter: &str,
) -> Result<(u64, u64), GraphError> {
    let property = stream.time_property();
    let words: Vec<&str> = filter.split_whitespace().collect();
    if words.len() % 4 != 3 {
        return Err(invalid_filter(&format!(
            "expected clauses such as '{property} ge <time>' joined with 'and', found '{filter}'."
        )));
    }
    let (mut lo, mut hi) = (0, timeline.len());
    for (n, clause) in words.chunks(4).enumerate() {
        if n > 0 && words[4 * n - 1] != "and" {
            return Err(invalid_filter(&format!(
                "'{}' is not supported here: clauses are joined with 'and'.",
                words[4 * n - 1]
            )));
        }
        let (name, op, literal) = (clause[0], clause[1], clause[2]);
        if name != property {
            return Err(invalid_filter(&format!(
                "'{name}' cannot be filtered by this simulator; filter on '{property}'."
            )));
        }
        let time = DateTime::parse_from_rfc3339(literal)
            .map_err(|_| {
                invalid_filter(&format!(
                    "'{literal}' is not a DateTimeOffset literal such as 2026-12-01T00:00:00Z."
                ))
            })?
            .with_timezone(&Utc);
        // Events are whole milliseconds: `t` selects from the first event at or after it, and
        // up to (excluding) the first event after its millisecond.
        let first = timeline.first_at_or_after(ceil_millis(&time));
        let after = timeline.first_at_or_after(time.timestamp_millis().saturating_add(1));
        match op {
            "ge" => lo = lo.max(first),
            "le" => hi = hi.min(after),
            "eq" => {
                lo = lo.max(first);
                hi = hi.min(after);
            }
            other => {
                return Err(invalid_filter(&format!(
                    "the operator '{other}' is not supported on '{property}' (use eq, ge or le)."
                )))
            }
        }
    }
    Ok((lo, hi.max(lo)))
}

/// The opaque `$skiptoken` for "continue below `before`", bound to the seed and the log by a
/// check value so an edited token, or one from the other log, is refused.
fn encode_skiptoken(seed: u64, stream: Stream, before: u64) -> String {
    let check = hash3(
        seed,
        domain::CURSOR,
        before.rotate_left(1) ^ stream.number(),
    ) as u32;
    format!("{before:016x}{check:08x}")
}

fn decode_skiptoken(seed: u64, stream: Stream, events: u64, token: &str) -> Option<u64> {
    if token.len() != 24 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let before = u64::from_str_radix(&token[..16], 16).ok()?;
    (before <= events && token == encode_skiptoken(seed, stream, before)).then_some(before)
}

/// `GET /v1.0/auditLogs/<log>`.
async fn list(
    State(app): State<Arc<AppState>>,
    stream: Stream,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => {
            return error_response(
                &app,
                GraphError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    code: "TooManyRequests",
                    message: "Too many requests.".to_string(),
                },
            )
        }
        Err(Refusal::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status {
                StatusCode::BAD_GATEWAY => "BadGateway",
                StatusCode::SERVICE_UNAVAILABLE => "ServiceNotAvailable",
                _ => "UnknownError",
            };
            return error_response(
                &app,
                GraphError {
                    status,
                    code,
                    message: "The service encountered an error (simulated).".to_string(),
                },
            );
        }
    };
    let counters = &app.counters;
    if let Err(error) = authenticate(&app, &headers) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return error_response(&app, error);
    }
    let query = match ListQuery::parse(&app, stream, raw.as_deref()) {
        Ok(query) => query,
        Err(error) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return error_response(&app, error);
        }
    };
    // Newest first below the skiptoken's position, published records only.
    let listing = Listing::new(&app.timeline, query.lo..query.before, Direction::Descending);
    let page = listing.page(query.before, query.top, |i| Stream::of(i) == stream);
    let (indices, more) = (page.indices, page.next.is_some());
    let base = request_base(&headers, &app);
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".to_string(),
        Value::String(format!("{base}/v1.0/$metadata#{}", stream.context())),
    );
    if let (true, Some(oldest)) = (more, indices.last()) {
        body.insert(
            "@odata.nextLink".to_string(),
            Value::String(next_link(&base, app.config.seed, stream, &query, *oldest)),
        );
    }
    let records: Vec<Value> = indices
        .iter()
        .map(|i| events::build(app.config.seed, &app.timeline, *i))
        .collect();
    body.insert("value".to_string(), Value::Array(records));
    let bytes = Value::Object(body).to_string().into_bytes();
    let bytes = deliver(&app, fault, bytes, &indices);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
    );
    (StatusCode::OK, headers, bytes).into_response()
}

/// The next page's URL: the same path and query, with a `$skiptoken` continuing below
/// `before`. OData's `$` is written as is, the values percent-encoded, as Graph writes them.
fn next_link(base: &str, seed: u64, stream: Stream, query: &ListQuery, before: u64) -> String {
    let encode =
        |v: &str| -> String { url::form_urlencoded::byte_serialize(v.as_bytes()).collect() };
    let mut parts = Vec::new();
    if let Some(filter) = &query.filter {
        parts.push(format!("$filter={}", encode(filter)));
    }
    if let Some(top) = &query.top_raw {
        parts.push(format!("$top={}", encode(top)));
    }
    if let Some(orderby) = &query.orderby {
        parts.push(format!("$orderby={}", encode(orderby)));
    }
    parts.push(format!(
        "$skiptoken={}",
        encode_skiptoken(seed, stream, before)
    ));
    format!("{base}{}?{}", stream.path(), parts.join("&"))
}

#[cfg(test)]
mod tests;
