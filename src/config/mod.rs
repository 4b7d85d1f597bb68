//! Configuration: the TOML file a user writes, parsed into typed settings.
//!
//! [`load`] reads and validates a file; every error it returns names the file, the line and
//! column, the key path and a hint. Secrets (`${env:NAME}`, `${file:PATH}`) are resolved at load
//! time into [`Secret`], which never prints its value.

mod load;
mod secret;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use load::{load, load_str, ConfigError};
pub use secret::Secret;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where checkpoints live.
    #[serde(default)]
    pub state: StateConfig,
    /// The APIs to pull from.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Where events go.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

/// `[state]`: the checkpoint store.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateConfig {
    /// An embedded SQLite file (the default).
    Sqlite {
        /// Path of the database file, relative to the config file's directory.
        #[serde(default = "default_state_path")]
        path: PathBuf,
    },
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig::Sqlite {
            path: default_state_path(),
        }
    }
}

fn default_state_path() -> PathBuf {
    PathBuf::from("sluice-state.db")
}

/// One `[[sources]]` entry: an HTTP API that serves audit events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; used in checkpoints, lake paths and logs.
    pub name: String,
    /// Scheme, host and port of the API, e.g. `https://acme.okta.com`. Credentials are only
    /// ever sent to this origin.
    pub base_url: String,
    /// Path of the endpoint, e.g. `/api/v1/logs`.
    pub path: String,
    /// Extra query parameters sent with the first request of every window (e.g. `limit`).
    #[serde(default)]
    pub query: std::collections::BTreeMap<String, String>,
    /// How the request is authenticated.
    #[serde(default)]
    pub auth: AuthConfig,
    /// How the next page is found.
    pub pagination: PaginationConfig,
    /// Dotted path of the array of records in the response body; empty for a root array.
    #[serde(default)]
    pub records_path: String,
    /// Where each record keeps its event time.
    pub event_time: EventTimeConfig,
    /// Where each record keeps its unique id.
    #[serde(default)]
    pub event_id: EventIdConfig,
    /// How time windows are planned.
    #[serde(default)]
    pub window: WindowConfig,
    /// HTTP behaviour: timeouts, retries, caps.
    #[serde(default)]
    pub http: HttpConfig,
    /// Names of the `[[sinks]]` this source delivers to.
    pub sinks: Vec<String>,
}

/// `auth`: how requests prove who they are.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: <prefix> <token>`; the prefix is `Bearer` unless set (Okta uses `SSWS`).
    Bearer {
        /// The token, usually `${env:NAME}` or `${file:PATH}`.
        token: Secret,
        /// The word before the token.
        #[serde(default = "default_bearer_prefix")]
        prefix: String,
    },
}

fn default_bearer_prefix() -> String {
    "Bearer".to_string()
}

/// `pagination`: how the next page of a window is requested.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaginationConfig {
    /// The next page's URL is in the `Link` header with `rel="next"` (RFC 8288).
    LinkHeader,
    /// A token in the response body is sent back as a query parameter.
    BodyToken {
        /// Dotted path of the token in the response body; absent, null or empty ends the window.
        token_path: String,
        /// Query parameter that carries the token on the next request.
        param: String,
    },
}

/// `event_time`: where the event time is and how it is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeConfig {
    /// Dotted path of the time in each record.
    pub path: String,
    /// How the time is written.
    #[serde(default)]
    pub format: TimeFormat,
}

/// A way of writing a point in time, in a record or in a request parameter.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// RFC 3339, e.g. `2026-11-23T10:00:00.123Z`.
    #[default]
    Rfc3339,
    /// Seconds since the Unix epoch (integer, float or numeric string).
    EpochSeconds,
    /// Milliseconds since the Unix epoch.
    EpochMillis,
}

/// `event_id`: where the event's unique id is.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventIdConfig {
    /// Dotted path of the id in each record. Without it, the id is a hash of the record's
    /// content, which dedups exact repeats only.
    pub path: Option<String>,
}

/// `window`: the time range each request covers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Query parameter for the window start (inclusive).
    #[serde(default = "default_start_param")]
    pub start_param: String,
    /// Query parameter for the window end (exclusive); empty to send none.
    #[serde(default = "default_end_param")]
    pub end_param: String,
    /// How window bounds are written in the request.
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
    /// How many recently delivered ids are remembered to drop re-served events.
    #[serde(default = "default_dedup_capacity")]
    pub dedup_capacity: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            start_param: default_start_param(),
            end_param: default_end_param(),
            format: TimeFormat::default(),
            lookback: default_lookback(),
            max_window: default_max_window(),
            settle_delay: default_settle_delay(),
            dedup_capacity: default_dedup_capacity(),
        }
    }
}

fn default_start_param() -> String {
    "since".to_string()
}
fn default_end_param() -> String {
    "until".to_string()
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
    /// The longest single wait between attempts, rate-limit resets included.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Largest response body accepted.
    #[serde(default = "default_max_response")]
    pub max_response_size: bytesize::ByteSize,
    /// Pages fetched per run at most; 0 for no limit.
    #[serde(default)]
    pub max_pages: u64,
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
fn default_max_response() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(64)
}

/// One `[[sinks]]` entry; `kind` says which.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkConfig {
    /// A local directory laid out as a hive-partitioned lake of gzip NDJSON objects.
    Lake(LakeConfig),
}

impl SinkConfig {
    /// The name sources use to refer to this sink.
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Lake(lake) => &lake.name,
        }
    }
}

/// Settings of a lake sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Root directory of the lake, relative to the config file's directory.
    pub path: PathBuf,
    /// An object is committed once it holds this many compressed bytes.
    #[serde(default = "default_roll_size")]
    pub roll_size: bytesize::ByteSize,
    /// An object is committed once its first page is this old.
    #[serde(default = "default_roll_age", with = "humantime_serde")]
    pub roll_age: Duration,
    /// Hour partitions one object batch may span before it is committed; bounds open files
    /// and memory during backfills.
    #[serde(default = "default_max_open_partitions")]
    pub max_open_partitions: usize,
}

fn default_roll_size() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(64)
}
fn default_roll_age() -> Duration {
    Duration::from_secs(300)
}
fn default_max_open_partitions() -> usize {
    8
}

impl Config {
    /// The sink settings a source refers to, in the order the source lists them.
    pub fn sinks_of<'a>(&'a self, source: &SourceConfig) -> Vec<&'a SinkConfig> {
        source
            .sinks
            .iter()
            .filter_map(|name| self.sinks.iter().find(|s| s.name() == name))
            .collect()
    }
}
