//! Google Workspace Admin SDK Reports API profile: `activities.list` for every application,
//! behind a Google OAuth 2.0 token endpoint that verifies service-account JWT assertions.
//!
//! Built from Google's Reports API reference (`activities.list`, its `Activities` and
//! `Activity` resources, the "Limits and quotas" page), the Admin SDK discovery document
//! (enum of `applicationName`, parameter patterns, `maxResults` bounds), Google's OAuth 2.0
//! "Using OAuth 2.0 for Server to Server Applications" guide and the Workspace help page "Data
//! retention and lag times":
//!
//! * `GET /admin/reports/v1/activity/users/{userKey}/applications/{applicationName}`;
//!   `userKey` is `all` (or one user), `applicationName` one of [`APPLICATIONS`].
//! * `startTime` and `endTime` are RFC 3339 (`2010-10-28T10:26:35.000Z`, any offset, any
//!   fraction); `startTime` must be before `endTime` and before now, else an error. Without
//!   `endTime` the report runs to now.
//! * `maxResults` is 1 to 1000, 1000 by default; a page with more after it carries
//!   `nextPageToken`, which the next request sends as `pageToken`.
//! * Activities come newest first. The answer is `{"kind": "admin#reports#activities",
//!   "etag": ..., "items": [...], "nextPageToken": ...}`; `items` is LEFT OUT when there are
//!   none and `nextPageToken` on the last page.
//! * Each activity has `id: {time, uniqueQualifier, applicationName, customerId}`: `time` is
//!   RFC 3339 with milliseconds; `uniqueQualifier` is "unique qualifier if multiple events
//!   have the same time", so it is unique only together with the time. The reference calls
//!   the whole `id` object the "unique identifier for each activity record".
//! * Errors are `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}],
//!   "status"}}`. A missing or bad access token is 401 (`UNAUTHENTICATED`); quota answers are
//!   403 with reason `userRateLimitExceeded`/`rateLimitExceeded` or 429 `RESOURCE_EXHAUSTED`,
//!   neither with a `Retry-After`; Google advises exponential backoff.
//! * Auth: a service account with domain-wide delegation signs an RS256 JWT (`iss` =
//!   `client_email`, `aud` = the key's `token_uri`, `scope`, `sub` = the admin to act as,
//!   `iat`, `exp` at most an hour later) and posts it to the token endpoint with
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`; the answer is `{"access_token",
//!   "expires_in": 3599, "token_type": "Bearer"}`, or 400 `{"error": "invalid_grant",
//!   "error_description": ...}` (`unsupported_grant_type` for another grant).
//!
//! # Assumptions and simplifications (where the docs are silent)
//!
//! * Both `startTime` and `endTime` are inclusive (the reference does not say; inclusive is
//!   the harder case for a client that tiles windows). Times are compared at millisecond
//!   precision.
//! * The simulator knows one customer ([`CUSTOMER_ID`]), one service account
//!   ([`CLIENT_EMAIL`], key in `google_workspace/sim_key.pem`, a PUBLIC simulator-only key)
//!   and one delegated admin ([`ADMIN`]); another `sub`, or none, is refused with
//!   `invalid_grant` (Google would issue a token for the account itself and refuse the API
//!   call). The only scope is `admin.reports.audit.readonly`.
//! * Access tokens are stateless (a serial, an expiry and a check value) and expire after
//!   3599 s; `userKey` must be `all`; the filters (`eventName`, `filters`, `actorIpAddress`,
//!   `orgUnitID`, `groupIdFilter`, `resourceDetailsFilter`) are refused as not simulated, and
//!   unknown parameters as Google refuses them. A `pageToken` only continues the listing it
//!   came from (same application, `startTime`, `endTime` and `maxResults`).
//! * One dataset is dealt across the applications that still report: event `i` belongs to
//!   [`app_of`]`(i)`; the retired `gplus` and `jamboard` answer empty listings. The
//!   `uniqueQualifier` of two events of one application at different times can be equal (as
//!   the reference allows), so only the whole `id` identifies an activity.
//! * Rate-limit refusals alternate between Google's 429 and 403 forms; a 502 is Google's
//!   front end's HTML page, other 5xx are JSON errors.

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
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{admit, deliver, Refusal};
use super::listing::{Direction, Listing};
use super::rng::{domain, hash3, mix64};
use super::timeline::Timeline;
use super::{AppState, SimulatorConfig};

pub(crate) use events::{event, event_id};

/// The `applicationName`s of the reference's enum that still report, in the order events are
/// dealt to them. The enum also has [`RETIRED`] ones.
pub const APPLICATIONS: &[&str] = &[
    "access_evaluation",
    "access_transparency",
    "admin",
    "admin_data_action",
    "assignments",
    "calendar",
    "chat",
    "chrome",
    "classroom",
    "cloud_search",
    "context_aware_access",
    "data_migration",
    "data_studio",
    "directory_sync",
    "drive",
    "gcp",
    "gemini_in_workspace_apps",
    "gmail",
    "groups",
    "groups_enterprise",
    "keep",
    "ldap",
    "login",
    "meet",
    "meet_hardware",
    "mobile",
    "profile",
    "rules",
    "saml",
    "tasks",
    "token",
    "user_accounts",
    "vault",
];

/// Applications of the enum whose products Google has retired (Google+, Jamboard): still
/// accepted, always empty.
pub const RETIRED: &[&str] = &["gplus", "jamboard"];

/// Page size without `maxResults` (the reference's default).
pub const DEFAULT_MAX_RESULTS: usize = 1_000;
/// Documented maximum of `maxResults`.
pub const MAX_RESULTS: usize = 1_000;
/// The simulated customer (what `id.customerId` says).
pub const CUSTOMER_ID: &str = "C03az79cb";
/// The simulated service account's `client_email`.
pub const CLIENT_EMAIL: &str = "sluice-reader@acme-sim.iam.gserviceaccount.com";
/// The admin the service account acts as (the JWT's `sub`).
pub const ADMIN: &str = "admin@acme.example";
/// The scope the Reports API's audit activities need.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";
/// `private_key_id` of the simulator's key (sent back as the JWT's `kid`).
pub const KEY_ID: &str = "5e1c0ffee0d15ea5e5a1e0ddba11c0de5ca1ab1e";
/// Lifetime of an access token, as Google answers it.
const TOKEN_SECONDS: i64 = 3599;
/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/token";

/// The simulator's service-account private key: a PUBLIC, simulator-only key (see
/// `google_workspace/README.md`); it protects nothing.
const PRIVATE_KEY_PEM: &str = include_str!("google_workspace/sim_key.pem");
/// Its public half, which `POST /token` verifies assertions with.
const PUBLIC_KEY_PEM: &str = include_str!("google_workspace/sim_key.pub.pem");

/// The application event `index` belongs to (an index into [`APPLICATIONS`]).
pub fn app_of(index: u64) -> usize {
    (index % APPLICATIONS.len() as u64) as usize
}

/// The ids of every event application `app` serves, oldest first.
pub fn stream_ids(config: &SimulatorConfig, app: &str) -> Vec<String> {
    let Some(number) = APPLICATIONS.iter().position(|a| *a == app) else {
        return Vec::new();
    };
    (number as u64..config.events)
        .step_by(APPLICATIONS.len())
        .map(|i| event_id(config, i))
        .collect()
}

/// The service-account JSON key a client of the simulator at `base_url` uses: Google's key
/// file layout, with the simulator's public test key and `token_uri` pointing at the
/// simulator.
pub fn service_account_json(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    json!({
        "type": "service_account",
        "project_id": "acme-sim",
        "private_key_id": KEY_ID,
        "private_key": PRIVATE_KEY_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000042",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{base}{TOKEN_PATH}"),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/sluice-reader%40acme-sim.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com",
    })
    .to_string()
}

/// Routes of the Google Workspace profile.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(TOKEN_PATH, post(token_handler)).route(
        "/admin/reports/v1/activity/users/{user_key}/applications/{application}",
        get(activities_handler),
    )
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    (status, headers, body).into_response()
}

/// Google's API error object.
fn api_error(code: u16, status: &str, message: &str, domain: &str, reason: &str) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "errors": [{ "message": message, "domain": domain, "reason": reason }],
            "status": status,
        }
    });
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, body.to_string().into_bytes())
}

fn bad_request(message: &str) -> Response {
    api_error(400, "INVALID_ARGUMENT", message, "global", "invalid")
}

/// The OAuth 2.0 error object of Google's token endpoint.
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    json_response(StatusCode::BAD_REQUEST, body.to_string().into_bytes())
}

// ---------------------------------------------------------------------------------------
// The token endpoint.

fn token_check(seed: u64, serial: u64, expiry: i64) -> u64 {
    hash3(
        seed,
        domain::TOKEN,
        mix64(serial) ^ mix64(expiry as u64 ^ 0x676f_6f67),
    )
}

/// A stateless access token: Google's `ya29.` prefix, then a serial, the expiry (Unix
/// seconds) and a check value bound to the seed, so an edited or foreign token is refused.
fn issue_token(seed: u64, serial: u64, expiry: i64) -> String {
    let text = format!(
        "{serial:x}.{expiry:x}.{:016x}",
        token_check(seed, serial, expiry)
    );
    format!(
        "ya29.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    )
}

/// Whether `token` is one this simulator issued and it has not expired at `now`.
fn token_is_valid(seed: u64, token: &str, now: i64) -> bool {
    let parse = || -> Option<(u64, i64, u64)> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.strip_prefix("ya29.")?)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        let serial = u64::from_str_radix(parts.next()?, 16).ok()?;
        let expiry = i64::from_str_radix(parts.next()?, 16).ok()?;
        let check = u64::from_str_radix(parts.next()?, 16).ok()?;
        parts.next().is_none().then_some((serial, expiry, check))
    };
    parse().is_some_and(|(serial, expiry, check)| {
        check == token_check(seed, serial, expiry) && now < expiry
    })
}

/// Verifies a JWT bearer assertion as Google's token endpoint does; `Err` is the
/// `error_description`. `audience` is the token URL the client was given.
fn verify_assertion(assertion: &str, audience: &str, now: i64) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY_PEM.as_bytes())
        .map_err(|_| "the simulator's public key does not parse".to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(err) => {
            use jsonwebtoken::errors::ErrorKind;
            return Err(match err.kind() {
                ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_string(),
                ErrorKind::InvalidAudience => {
                    format!("Invalid JWT: the audience must be the token URI {audience}.")
                }
                ErrorKind::InvalidIssuer => "Invalid JWT: unknown issuer (client_email).".into(),
                ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".into(),
                _ => format!("Invalid JWT: {err}"),
            });
        }
    };
    let iat = claims["iat"].as_i64().unwrap_or(i64::MIN);
    let exp = claims["exp"].as_i64().unwrap_or(i64::MAX);
    // A minute of clock skew either way, and no assertion longer than an hour.
    if iat > now + 60 || exp <= iat || exp - iat > 3600 {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".into());
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return Err(format!("Invalid OAuth scope or ID token audience provided: the service account is delegated {SCOPE} only."));
    }
    if claims.get("sub").and_then(Value::as_str) != Some(ADMIN) {
        return Err("Invalid email or User ID".into());
    }
    Ok(())
}

/// `POST /token`: the JWT bearer grant.
async fn token_handler(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let counters = &app.counters;
    match field("grant_type") {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {}
        Some(other) => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            return oauth_error(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            return oauth_error("unsupported_grant_type", "Invalid grant_type: ");
        }
    }
    let Some(assertion) = field("assertion") else {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let audience = format!("{}{TOKEN_PATH}", super::request_base(&headers, &app));
    let now = Utc::now().timestamp();
    if let Err(description) = verify_assertion(assertion, &audience, now) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error("invalid_grant", &description);
    }
    let serial = counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let token = issue_token(app.config.seed, serial, now + TOKEN_SECONDS);
    let body =
        json!({ "access_token": token, "expires_in": TOKEN_SECONDS, "token_type": "Bearer" });
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

// ---------------------------------------------------------------------------------------
// activities.list

/// Where a listing stands: events of `app` with index in `[low, next)` are still to come,
/// newest first, `limit` a page; `high` is the listing's original (exclusive) end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    app: usize,
    low: u64,
    high: u64,
    next: u64,
    limit: usize,
}

fn page_check(seed: u64, p: Position) -> u32 {
    let mixed = mix64(p.low ^ mix64(p.high ^ mix64(p.next ^ mix64(p.limit as u64))));
    hash3(seed, domain::CURSOR, mixed ^ p.app as u64) as u32
}

fn encode_page_token(seed: u64, p: Position) -> String {
    let text = format!(
        "{:x}:{:x}:{:x}:{:x}:{:x}:{:08x}",
        p.app,
        p.low,
        p.high,
        p.next,
        p.limit,
        page_check(seed, p)
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_page_token(seed: u64, token: &str) -> Option<Position> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(':');
    let mut number = || u64::from_str_radix(parts.next()?, 16).ok();
    let p = Position {
        app: usize::try_from(number()?).ok()?,
        low: number()?,
        high: number()?,
        next: number()?,
        limit: usize::try_from(number()?).ok()?,
    };
    let given = u32::from_str_radix(parts.next()?, 16).ok()?;
    (given == page_check(seed, p)).then_some(p)
}

/// Parameters every Google API takes (ignored here: they change the encoding or the quota
/// accounting, not the data).
const SYSTEM_PARAMETERS: &[&str] = &[
    "$.xgafv",
    "alt",
    "callback",
    "fields",
    "key",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
];

/// `activities.list` filters the simulator does not implement.
const FILTERS: &[&str] = &[
    "actorIpAddress",
    "eventName",
    "filters",
    "groupIdFilter",
    "orgUnitID",
    "resourceDetailsFilter",
];

/// An RFC 3339 time as the reference's pattern has it (`T`, seconds, optional fraction, `Z`
/// or an offset).
fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    let shaped = value.as_bytes().get(10) == Some(&b'T');
    match DateTime::parse_from_rfc3339(value) {
        Ok(time) if shaped => Ok(time.to_utc()),
        _ => Err(format!(
            "Invalid value '{value}' for {name}: it must be an RFC 3339 time such as 2010-10-28T10:26:35.000Z"
        )),
    }
}

/// Reads the query of an `activities.list` request into the listing position it asks for.
fn parse_query(app: &AppState, number: usize, query: &str) -> Result<Position, String> {
    let mut start = None;
    let mut end = None;
    let mut limit = DEFAULT_MAX_RESULTS.min(app.config.max_page_size);
    let mut token = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "startTime" => start = Some(parse_time("startTime", &value)?),
            "endTime" => end = Some(parse_time("endTime", &value)?),
            "maxResults" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_RESULTS as u64).contains(n))
                    .ok_or_else(|| {
                        format!("Invalid value '{value}' for maxResults: it must be from 1 to 1000")
                    })?;
                limit = (n as usize).min(app.config.max_page_size);
            }
            "pageToken" => token = Some(value.into_owned()),
            "customerId" => {
                if value != CUSTOMER_ID && value != "my_customer" {
                    return Err(format!("Invalid value '{value}' for customerId: this account is {CUSTOMER_ID} (or my_customer)"));
                }
            }
            key if SYSTEM_PARAMETERS.contains(&key) => {}
            key if FILTERS.contains(&key) => {
                return Err(format!("the simulator does not implement the {key} filter"))
            }
            other => {
                return Err(format!(
                    "Invalid JSON payload received. Unknown name \"{other}\": Cannot bind query parameter. Field '{other}' could not be found in request message."
                ))
            }
        }
    }
    let now = Utc::now();
    if let Some(start) = start {
        if start >= now {
            return Err("Start time must be before the current time".into());
        }
        if end.is_some_and(|end| start >= end) {
            return Err("Start time must be before the end time".into());
        }
    }
    let timeline = &app.timeline;
    let low = start.map_or(0, |t| {
        timeline.first_at_or_after(super::timeline::ceil_millis(&t))
    });
    // Inclusive: an event at the end time itself is listed.
    let high = end.map_or(timeline.len(), |t| {
        timeline.first_at_or_after(t.timestamp_millis().saturating_add(1))
    });
    let high = high.max(low);
    let first = Position {
        app: number,
        low,
        high,
        next: high,
        limit,
    };
    match token {
        None => Ok(first),
        Some(token) => {
            let position = decode_page_token(app.config.seed, &token)
                .ok_or_else(|| "Invalid page token".to_string())?;
            let same_listing = Position {
                next: position.next,
                ..first
            } == position;
            if same_listing {
                Ok(position)
            } else {
                Err("Invalid page token: it belongs to another listing (the application, startTime, endTime and maxResults must stay as they were)".into())
            }
        }
    }
}

/// The published indices of `p.app`'s events below `p.next` (and at or above `p.low`),
/// newest first: at most `limit`; and the position of the next page, if any remain.
fn page(timeline: &Timeline, p: Position) -> (Vec<u64>, Option<u64>) {
    let listing = Listing::new(timeline, p.low..p.high, Direction::Descending);
    let page = listing.page(p.next, p.limit, |i| app_of(i) == p.app);
    (page.indices, page.next)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The quota refusal: Google's 429 and 403 forms in turn.
fn rate_limited(app: &AppState) -> Response {
    if app
        .error_seq
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(2)
    {
        api_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
            "global",
            "rateLimitExceeded",
        )
    } else {
        api_error(
            403,
            "PERMISSION_DENIED",
            "User Rate Limit Exceeded",
            "usageLimits",
            "userRateLimitExceeded",
        )
    }
}

fn server_error(status: u16) -> Response {
    match status {
        // Google's front end answers a bad gateway with its own HTML page.
        502 => {
            let mut headers = HeaderMap::new();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            );
            let body = "<!DOCTYPE html>\n<html lang=en><title>Error 502 (Server Error)!!1</title><p><b>502.</b> <ins>That's an error.</ins><p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That's all we know.</ins></html>";
            (StatusCode::BAD_GATEWAY, headers, body).into_response()
        }
        503 => api_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            "global",
            "backendError",
        ),
        other => api_error(
            other,
            "INTERNAL",
            "Internal error encountered.",
            "global",
            "backendError",
        ),
    }
}

/// `GET /admin/reports/v1/activity/users/{userKey}/applications/{applicationName}`.
async fn activities_handler(
    State(app): State<Arc<AppState>>,
    Path((user_key, application)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(Refusal::RateLimit) => return rate_limited(&app),
        Err(Refusal::ServerError(status)) => return server_error(status),
    };
    let counters = &app.counters;
    let authorized = bearer(&headers)
        .is_some_and(|t| token_is_valid(app.config.seed, t, Utc::now().timestamp()));
    if !authorized {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        let (message, reason) = if headers.contains_key(AUTHORIZATION) {
            ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "authError")
        } else {
            ("Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "required")
        };
        return api_error(401, "UNAUTHENTICATED", message, "global", reason);
    }
    // A retired application is numbered past the live ones, which [`page`] lists as empty.
    let number = APPLICATIONS
        .iter()
        .chain(RETIRED)
        .position(|a| *a == application);
    let Some(number) = number else {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return bad_request(&format!(
            "Invalid value at 'application_name' ({application}): not one of the Reports API's applications"
        ));
    };
    if user_key != "all" {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        return bad_request("the simulator lists userKey `all` only");
    }
    let position = match parse_query(&app, number, query.as_deref().unwrap_or_default()) {
        Ok(position) => position,
        Err(message) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return bad_request(&message);
        }
    };
    let (indices, next) = page(&app.timeline, position);
    let following = Position {
        next: next.unwrap_or(position.low),
        ..position
    };
    let more = next.is_some();
    let seed = app.config.seed;
    let items: Vec<Value> = indices
        .iter()
        .map(|i| events::build(seed, &app.timeline, *i))
        .collect();
    let mut body = serde_json::Map::new();
    body.insert("kind".into(), json!("admin#reports#activities"));
    body.insert(
        "etag".into(),
        json!(format!(
            "\"{:016x}/{:08x}\"",
            hash3(seed, domain::OBJECT, following.next),
            number
        )),
    );
    // Google leaves `items` out of an empty page, and `nextPageToken` out of the last.
    if !items.is_empty() {
        body.insert("items".into(), Value::Array(items));
    }
    if more {
        body.insert(
            "nextPageToken".into(),
            json!(encode_page_token(seed, following)),
        );
    }
    let body = Value::Object(body).to_string().into_bytes();
    json_response(StatusCode::OK, deliver(&app, fault, body, &indices))
}

#[cfg(test)]
mod tests;
