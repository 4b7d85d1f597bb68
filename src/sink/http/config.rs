//! `kind = "http"` (NDJSON or a JSON array to any endpoint) and `kind = "stdout"`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::source::auth::config::AuthConfig;

/// Settings of the generic HTTP sink: batches of events POSTed to one URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Where batches are POSTed.
    pub url: String,
    /// How a batch is written.
    #[serde(default)]
    pub format: BatchFormat,
    /// What is sent of each event: the envelope (the default), its OCSF object, or the raw
    /// vendor record.
    #[serde(default)]
    pub payload: crate::sink::payload::Payload,
    /// How requests are authenticated (the same kinds as a source's `auth`).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Extra headers (not secrets: use `auth`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Events per request at most.
    #[serde(default = "default_batch_events")]
    pub max_batch_events: usize,
    /// Uncompressed bytes per request at most.
    #[serde(default = "default_batch_bytes")]
    pub max_batch_bytes: bytesize::ByteSize,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// A PEM file of CA certificates (all of them trusted, beside the system's) for an
    /// endpoint whose certificate a private CA signed; relative to the config file.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Attempts per batch for transport errors, 429 and 5xx.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The run fails when the sink refused at least this share of the events offered to it
    /// in the run (they are in the dead-letter queue): `"100%"`, the default, when it refused
    /// every one; `"0%"` on any refusal.
    #[serde(default)]
    pub fail_when_refused: crate::sink::share::Share,
    /// `transforms`: this sink's own transform chain, read by the loader into
    /// `Config::transforms` (see [`crate::model::deferred`]).
    #[serde(default)]
    pub transforms: crate::model::Deferred,
}

/// How the HTTP sink writes a batch.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BatchFormat {
    /// One envelope per line (`application/x-ndjson`).
    #[default]
    Ndjson,
    /// One JSON array of envelopes (`application/json`).
    JsonArray,
}

fn default_batch_events() -> usize {
    1000
}
fn default_batch_bytes() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(4)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_attempts() -> u32 {
    8
}

/// Settings of the stdout sink: one envelope per line on standard output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// What is written of each event: the envelope (the default), its OCSF object, or the
    /// raw vendor record.
    #[serde(default)]
    pub payload: crate::sink::payload::Payload,
    /// `transforms`: this sink's own transform chain, read by the loader into
    /// `Config::transforms` (see [`crate::model::deferred`]).
    #[serde(default)]
    pub transforms: crate::model::Deferred,
}
