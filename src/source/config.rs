//! A source's settings (`[[sources]]`): the connector spec (request templates, auth,
//! pagination, record layout, order) and how it runs (window, HTTP, rate limits, breaker).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::auth::config::AuthConfig;
use super::path::JsonPath;
use crate::model::schedule::ScheduleConfig;
use crate::model::{Deferred, SortOrder, TimeFormat};

/// One `[[sources]]` entry: an HTTP API that serves audit events, described as a connector
/// spec (request templates, auth, pagination, record layout, order) plus run settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; used in checkpoints, lake paths and logs.
    pub name: String,
    // `connector = "file.toml"` is merged into the table before this struct is read (see
    // `load::merge_connectors`), so it has no field here.
    /// Scheme, host and port of the API, e.g. `https://acme.okta.com`. Credentials are only
    /// ever sent to this origin.
    pub base_url: String,
    /// HTTP method of page requests.
    #[serde(default)]
    pub method: HttpMethod,
    /// Path of the endpoint, e.g. `/api/v1/logs`.
    pub path: String,
    /// Query parameters; values are templates (see [`crate::source::template`]), e.g.
    /// `{ since = "{start}", until = "{end}", limit = "{limit}" }`. An array of templates
    /// sends the parameter once per element, in order.
    #[serde(default)]
    pub query: BTreeMap<String, QueryValue>,
    /// Extra request headers (not secrets: use `auth`); values are templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body template for POST APIs (GraphQL, search APIs). A string that is exactly one
    /// placeholder becomes a typed value, or is removed when the placeholder has no value.
    #[serde(default)]
    pub body: Option<String>,
    /// JSON body template for every page after a window's first (cursor pagination, POST):
    /// for APIs whose later requests carry nothing but the cursor (1Password's Events API
    /// refuses a continuing request that repeats the first one's time range). Must contain
    /// `{cursor}`; `body` is still sent for the first page.
    #[serde(default)]
    pub next_body: Option<String>,
    /// Path of every page after a window's first (cursor pagination), for APIs whose
    /// continuing requests go to another endpoint (Dropbox's `.../get_events/continue`);
    /// `path` is still used for the first page. Joined to `base_url` like `path`.
    #[serde(default)]
    pub next_path: Option<String>,
    /// Records per page, sent as `{limit}`; offset and page-number pagination need it to
    /// know when a window ends.
    #[serde(default)]
    pub page_size: Option<u64>,
    /// How the request is authenticated.
    #[serde(default)]
    pub auth: AuthConfig,
    /// How the next page is found.
    pub pagination: PaginationConfig,
    /// Order of events in a window's pages.
    #[serde(default)]
    pub order: SortOrder,
    /// Path of the array of records in the response body; empty for a root array.
    #[serde(default)]
    pub records_path: JsonPath,
    /// What a page without the records array means: an error (the default) or, for APIs
    /// that leave the array out when a window is empty, an empty page.
    #[serde(default)]
    pub records_missing: RecordsMissing,
    /// What the value at `records_path` is: an array of records (the default), or an object
    /// whose values are the records (LastPass: `{"Event1": {...}, "Event2": {...}}`).
    #[serde(default)]
    pub records_shape: RecordsShape,
    /// Where each record keeps its event time.
    pub event_time: EventTimeConfig,
    /// Where each record keeps its unique id.
    #[serde(default)]
    pub event_id: EventIdConfig,
    /// Each listed record names a file whose rows are the events (Salesforce's event log
    /// files): the listing's records are files, windows, dedup and the checkpoint work on
    /// them, and their rows are what is delivered (see [`super::files`]).
    #[serde(default)]
    pub files: Option<super::files::FilesConfig>,
    /// How time windows are planned.
    #[serde(default)]
    pub window: WindowConfig,
    /// HTTP behaviour: timeouts, retries, caps, TLS.
    #[serde(default)]
    pub http: HttpConfig,
    /// Request budget and the API's rate-limit headers.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// When to stop calling an API that keeps failing.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// How many windows of a backlog (a first run's lookback, a catch-up after downtime, a
    /// `sluice backfill`) are worked at once. 1 lists the backlog one window after another;
    /// more splits it into `window.max_window` windows, each with its own checkpoint. Raise
    /// it only for APIs that allow parallel time-range queries within their rate limit.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Names of the `[[sinks]]` this source delivers to.
    pub sinks: Vec<String>,
    /// When `sluice serve` runs this source; `[serve] schedule` when absent.
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// A canary: the source is silent (`status`, `sluice canary check` and the daemon say so)
    /// when its newest delivered event is older than this, plus its settle delay and one
    /// scheduled interval. Unset: never judged silent.
    #[serde(default, with = "humantime_serde::option")]
    pub max_silence: Option<std::time::Duration>,
    /// An active canary: a request that makes the vendor log a known event, and the
    /// deadline for that event to be delivered (see [`super::canary`]).
    #[serde(default)]
    pub canary: Option<super::canary::CanaryConfig>,
    /// How long the source's lake objects are kept, e.g. `"400d"`: `sluice lake retain`
    /// (and the daemon, with `[serve] retain_every`) deletes the objects whose newest event
    /// is older, recording each deletion in the manifest ledger. Unset: kept forever.
    #[serde(default, with = "humantime_serde::option")]
    pub retain: Option<std::time::Duration>,
    /// `[[sources.transforms]]`: the source's transform chain. Its steps are settings of the
    /// transform stage, a layer above this one, so the loader reads them in a pass of their
    /// own into `Config::transforms` (see [`crate::model::deferred`]).
    #[serde(default)]
    pub transforms: Deferred,
}

fn default_workers() -> usize {
    1
}

/// HTTP method of page requests.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET (the default).
    #[default]
    Get,
    /// POST, with `body` as the JSON body.
    Post,
}

/// The value of a `query` parameter: one template, or several, sent as the parameter
/// repeated in their order (Zendesk takes a range as `filter[created_at][]` given twice).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum QueryValue {
    /// `key = "template"`: the parameter once.
    One(String),
    /// `key = ["template", ...]`: the parameter once per element.
    Many(Vec<String>),
}

impl QueryValue {
    /// The templates, in the order they are sent.
    pub fn templates(&self) -> &[String] {
        match self {
            QueryValue::One(template) => std::slice::from_ref(template),
            QueryValue::Many(templates) => templates,
        }
    }
}

impl From<&str> for QueryValue {
    fn from(template: &str) -> Self {
        QueryValue::One(template.to_string())
    }
}

/// `pagination`: how the next page of a window is requested. Kinds that carry a value back
/// (`cursor`, `graphql`, `offset`, `page_number`) send it through the `{cursor}`, `{offset}`
/// or `{page}` placeholder in `query`, `headers` or `body`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaginationConfig {
    /// One request per window: the API returns the whole window at once.
    None {},
    /// The next page's URL is in the `Link` header with `rel="next"` (RFC 8288).
    LinkHeader {},
    /// The next page's URL is in the body.
    NextUrl {
        /// Path of the URL; absent, null or empty ends the window.
        path: JsonPath,
    },
    /// An opaque token in the body is sent back as `{cursor}`.
    Cursor {
        /// Path of the token; absent, null or empty ends the window.
        path: JsonPath,
        /// Shorthand: send the token as this query parameter, instead of a `{cursor}`
        /// placeholder.
        #[serde(default)]
        param: Option<String>,
        /// Path of a boolean that says whether more pages follow.
        #[serde(default)]
        has_more_path: Option<JsonPath>,
        /// Separator between the elements of a cursor that is an array (Duo's
        /// `next_offset`), in the token sent back.
        #[serde(default = "default_cursor_join")]
        cursor_join: String,
        /// How a cursor that is an array or an object is sent back.
        #[serde(default)]
        cursor_encoding: CursorEncoding,
        /// A page without records ends the window, whatever cursor it carries: for APIs
        /// that always return a position to go on from and mark the end of a listing only
        /// by an empty page (Box's `next_stream_position`).
        #[serde(default)]
        empty_page_ends: bool,
        /// `path` is read in the page's last record, not in the body: for APIs whose next
        /// page starts after the last object listed (Stripe's `starting_after=<id>`). A page
        /// without records then has no cursor, and `has_more_path` says whether it ends.
        #[serde(default)]
        from_last_record: bool,
    },
    /// `{offset}` counts records already listed in the window; `{limit}` is `page_size`.
    Offset {
        /// Path of a boolean that says whether more pages follow; without it, a page
        /// shorter than `page_size` ends the window.
        #[serde(default)]
        has_more_path: Option<JsonPath>,
    },
    /// `{page}` numbers pages from `first`.
    PageNumber {
        /// Number of the first page.
        #[serde(default = "default_first_page")]
        first: u64,
        /// As for `offset`.
        #[serde(default)]
        has_more_path: Option<JsonPath>,
        /// Path of the next page's number in the response, for APIs that give it
        /// (Terraform Cloud's `pagination.next_page`, Tines' `meta.next_page_number`): the
        /// API, not the length of a page, then says where the window ends (absent or null:
        /// the last page), so a page cut shorter than `page_size` does not end it early.
        #[serde(default)]
        next_page_path: Option<JsonPath>,
    },
    /// GraphQL connections: `pageInfo { endCursor hasNextPage }`; the cursor is `{cursor}`.
    Graphql {
        /// Path of the `pageInfo` object.
        page_info_path: JsonPath,
    },
}

fn default_first_page() -> u64 {
    1
}

fn default_cursor_join() -> String {
    ",".to_string()
}

/// `pagination.cursor_encoding`: how a cursor that is an array or an object is sent back.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CursorEncoding {
    /// Arrays of strings and numbers are joined with `cursor_join`; an object cannot be sent
    /// and fails the page.
    #[default]
    Text,
    /// Arrays and objects are sent as compact JSON text, for APIs that take them back so.
    Json,
}

impl PaginationConfig {
    /// The placeholder this kind needs in the request, if any.
    pub fn placeholder(&self) -> Option<&'static str> {
        match self {
            PaginationConfig::Cursor { param: None, .. } | PaginationConfig::Graphql { .. } => {
                Some("cursor")
            }
            PaginationConfig::Offset { .. } => Some("offset"),
            PaginationConfig::PageNumber { .. } => Some("page"),
            _ => None,
        }
    }
}

/// `records_missing`: what a response without the records array means.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordsMissing {
    /// The page fails, naming `records_path` (the default): a body of another shape is
    /// usually an error the API reports with HTTP 200.
    #[default]
    Error,
    /// A page whose records key is missing from its (present) parent object has no
    /// records. For APIs that omit an empty array (Google Workspace Reports' `items`).
    Empty,
}

/// `records_shape`: how the records sit at `records_path`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordsShape {
    /// An array of records (the default).
    #[default]
    Array,
    /// An object whose values are the records, in the order the body lists them (its keys,
    /// such as LastPass's `Event1`, `Event2`, are dropped). An array there is taken as the
    /// records too: PHP writes an empty object as `[]`.
    ObjectValues,
}

/// `event_time`: where the event time is and how it is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeConfig {
    /// Path of the time in each record.
    pub path: JsonPath,
    /// How the time is written.
    #[serde(default)]
    pub format: TimeFormat,
}

/// `event_id`: where the event's unique id is.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventIdConfig {
    /// Path of the id in each record. Without it, the id is a hash of the record's
    /// content, which dedups exact repeats only.
    pub path: Option<JsonPath>,
    /// Without a `path`: equal records of one page are distinct events (the second and later
    /// get numbered ids, `<hash>-2`, ...) instead of one event served twice. For APIs without
    /// ids whose identical events can share an answer (LastPass logs two equal failed logins
    /// in one second); off by default, as equal records of one page are more often an API
    /// repeating itself.
    #[serde(default)]
    pub distinct_equal_records: bool,
}

/// `window`: the time range each request covers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// How a run decides what to list: time windows (the default), or, for APIs that list
    /// everything after a position and take no time range, the saved position itself.
    #[serde(default)]
    pub mode: WindowMode,
    /// How `{start}` and `{end}` are written in the request.
    #[serde(default)]
    pub format: TimeFormat,
    /// How far back the very first run starts.
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub lookback: Duration,
    /// The longest window requested at once; keeps first runs and catch-ups bounded.
    #[serde(default = "default_max_window", with = "humantime_serde")]
    pub max_window: Duration,
    /// How far behind now every window ends, for APIs whose events appear late.
    #[serde(default = "default_settle_delay", with = "humantime_serde")]
    pub settle_delay: Duration,
    /// How far before the high-water time each new window starts, to pick up events that
    /// arrived late behind it; re-served events are dropped by id.
    #[serde(default, with = "humantime_serde")]
    pub overlap: Duration,
    /// How many delivered ids are remembered (those at or after `high-water - overlap`) to
    /// drop re-served events. Kept in the checkpoint.
    #[serde(default = "default_dedup_capacity")]
    pub dedup_capacity: usize,
    /// The API includes its end bound: `{end}` is written as the last value before the
    /// window's end that `format` can write (the day before, for a layout of dates only).
    #[serde(default)]
    pub end_inclusive: bool,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            mode: WindowMode::default(),
            format: TimeFormat::default(),
            lookback: default_lookback(),
            max_window: default_max_window(),
            settle_delay: default_settle_delay(),
            overlap: Duration::ZERO,
            dedup_capacity: default_dedup_capacity(),
            end_inclusive: false,
        }
    }
}

/// `window.mode`: what a run lists.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// Time windows planned from the checkpoint's time anchor (`{start}`, `{end}`).
    #[default]
    Time,
    /// No time range: a run lists on from the saved position (the next-page reference the
    /// API gave with the last delivered page, committed with that page) until a page without
    /// records. The first run sends the spec's request without a position. For APIs whose
    /// export is "everything after this id" (Auth0's logs by checkpoint).
    Position,
}

fn default_lookback() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_max_window() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_settle_delay() -> Duration {
    Duration::from_secs(60)
}
fn default_dedup_capacity() -> usize {
    10_000
}

/// `rate_limit`: a proactive request budget, and how the API announces its limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute this source may make (token bucket); none means unlimited.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Requests that may be made at once before the budget applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Header holding how many requests remain; at 0, Sluice waits for the reset.
    #[serde(default = "default_remaining_headers")]
    pub remaining_headers: Vec<String>,
    /// Header holding when the limit resets.
    #[serde(default = "default_reset_headers")]
    pub reset_headers: Vec<String>,
    /// How the reset header is written.
    #[serde(default)]
    pub reset_format: ResetFormat,
    /// The longest wait a server may ask for (`Retry-After`, reset); longer asks fail the run.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
    /// Words that make a 403 a rate limit when its body contains one, for APIs that answer
    /// a spent quota with a plain 403 (Google: `rateLimitExceeded`, `userRateLimitExceeded`).
    /// Such a 403 is waited out like a 429 instead of failing the run.
    #[serde(default)]
    pub forbidden_markers: Vec<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_minute: None,
            burst: default_burst(),
            remaining_headers: default_remaining_headers(),
            reset_headers: default_reset_headers(),
            reset_format: ResetFormat::default(),
            max_wait: default_max_wait(),
            forbidden_markers: Vec::new(),
        }
    }
}

/// `circuit_breaker`: after `failures` failed runs in a row, the source is skipped until
/// `cooldown` has passed since the last one; then one run probes the API again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failed runs that open the circuit; 0 disables the breaker.
    #[serde(default = "default_breaker_failures")]
    pub failures: usize,
    /// How long an open circuit skips the source.
    #[serde(default = "default_breaker_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failures: default_breaker_failures(),
            cooldown: default_breaker_cooldown(),
        }
    }
}

fn default_breaker_failures() -> usize {
    5
}
fn default_breaker_cooldown() -> Duration {
    Duration::from_secs(15 * 60)
}

/// How a rate-limit reset header is written.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResetFormat {
    /// Unix time in seconds when the limit resets (Okta, GitHub).
    #[default]
    EpochSeconds,
    /// Unix time in milliseconds when the limit resets (LaunchDarkly's `X-Ratelimit-Reset`).
    EpochMillis,
    /// Seconds from now until the limit resets (IETF draft `RateLimit-Reset`).
    DeltaSeconds,
    /// The UTC time of the reset in ISO 8601, seconds optional: `2026-03-26T16:00:00Z`,
    /// `2026-03-26T16:00Z` (Atlassian).
    Iso8601,
}

fn default_burst() -> u32 {
    1
}
fn default_remaining_headers() -> Vec<String> {
    vec![
        "x-rate-limit-remaining".into(),
        "x-ratelimit-remaining".into(),
    ]
}
fn default_reset_headers() -> Vec<String> {
    vec!["x-rate-limit-reset".into(), "x-ratelimit-reset".into()]
}
fn default_max_wait() -> Duration {
    Duration::from_secs(300)
}

/// `http`: timeouts, retries and safety caps for one source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed to open a connection.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per page before the source run fails (429, 5xx, timeouts, bad bodies).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The longest backoff between attempts (server-requested waits are capped by
    /// `rate_limit.max_wait` instead).
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Largest response body accepted.
    #[serde(default = "default_max_response")]
    pub max_response_size: bytesize::ByteSize,
    /// Pages fetched per run at most; 0 for no limit.
    #[serde(default)]
    pub max_pages: u64,
    /// Retries allowed over a whole run before the source gives up until the next run.
    #[serde(default = "default_max_retries_per_run")]
    pub max_retries_per_run: u32,
    /// Skip TLS certificate verification. Dangerous: anyone on the path can read the
    /// credential. Logged as a warning on every run.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// A PEM file of extra CA certificates to trust (an API behind a private CA), relative to
    /// the config file's directory. The built-in Mozilla roots stay trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A PEM file with the client certificate (chain) for mutual TLS, relative to the config
    /// file's directory; with `client_key`. Presented to the API and its token endpoint.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// A PEM file with the private key of `client_cert` (PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: default_connect_timeout(),
            timeout: default_request_timeout(),
            max_attempts: default_max_attempts(),
            max_backoff: default_max_backoff(),
            max_response_size: default_max_response(),
            max_pages: 0,
            max_retries_per_run: default_max_retries_per_run(),
            insecure_skip_verify: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}
fn default_max_retries_per_run() -> u32 {
    100
}
fn default_max_response() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(64)
}
