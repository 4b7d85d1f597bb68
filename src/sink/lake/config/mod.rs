//! `kind = "lake"`: hive-partitioned, compressed NDJSON objects in a local directory or an
//! object store (S3 and S3-compatible stores, Google Cloud Storage, Azure Blob Storage).
//!
//! ```toml
//! [[sinks]]
//! name = "lake"
//! kind = "lake"
//! url = "s3://security-lake/sluice"        # or path = "/var/lib/sluice/lake"
//! region = "eu-west-1"
//! format = "ndjson"                        # or "parquet" (cargo feature `parquet`)
//! compression = "gzip"                      # or "zstd" (NDJSON only)
//! gzip_level = 3                            # 1 (fastest) to 9 (smallest)
//! key_template = "source={source}/dt=%Y-%m-%d/hr=%H/"
//! roll_size = "64MiB"
//! roll_age = "5m"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::cloud::StoreOptions;
use crate::model::Secret;
use crate::sink::lake::{
    parse_url, Compression, Format, KeyTemplate, LakeLocation, ObjectKind, ObjectLock,
    DEFAULT_KEY_TEMPLATE,
};

mod check;
mod read;

pub use check::LakeConfigError;

/// gzip's level when `gzip_level` is not set: chosen from the measurement of ratio against
/// speed on Okta-shaped events in docs/benchmarks.md ("Compression").
pub const DEFAULT_GZIP_LEVEL: u32 = 3;

/// zstd's level when `zstd_level` is not set: zstd's own default, most of its ratio for
/// little CPU.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// S3 refuses multipart parts below 5 MiB (except the last one).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Largest `roll_size` on object stores: S3's `CopyObject` copies at most 5 GB, and an object
/// can outgrow `roll_size` by a page before the batch is committed.
const MAX_COPY_SIZE: u64 = 4 * 1024 * 1024 * 1024;

/// Settings of a lake sink.
///
/// Reading the table ([`RawLakeConfig`], `read.rs`) only puts the keys together; the loader
/// then judges the settings with [`LakeConfig::validate`] (`check.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawLakeConfig")]
pub struct LakeConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Root directory of a local lake, relative to the config file's directory. Empty when
    /// the lake is given by [`LakeConfig::url`] (which then wins; see [`LakeConfig::location`]).
    pub path: PathBuf,
    /// Where the lake lives when it is not a `path`: `file:///abs/dir`, `s3://bucket/prefix`,
    /// `gs://bucket/prefix` or `az://container/prefix`.
    pub url: Option<url::Url>,
    /// S3 or Azure endpoint of an S3-compatible or emulated store, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// S3 region (the environment's `AWS_REGION` otherwise).
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (local S3-compatible servers, emulators).
    pub allow_http: bool,
    /// S3 access key id; the environment's credential chain is used when absent.
    pub access_key_id: Option<Secret>,
    /// S3 secret access key, given together with `access_key_id`.
    pub secret_access_key: Option<Secret>,
    /// S3 Object Lock retention set on every published object (s3:// lakes only).
    pub object_lock: Option<ObjectLock>,
    /// What objects hold: compressed NDJSON (the default) or Parquet.
    pub format: Format,
    /// How NDJSON objects are compressed (Parquet objects compress their pages with zstd).
    pub compression: Compression,
    /// gzip's level, 1 (fastest) to 9 (smallest); see [`DEFAULT_GZIP_LEVEL`].
    pub gzip_level: u32,
    /// zstd's level, 1 (fastest) to 19 (smallest); see [`DEFAULT_ZSTD_LEVEL`].
    pub zstd_level: i32,
    /// Where under the lake an event's object goes, from its source and event time (with
    /// `class={class}/` after the source's segment when `partition_by_class` is set).
    pub key_template: KeyTemplate,
    /// What each line (or Parquet row) holds: the envelope, the OCSF object, or the raw
    /// vendor record. Parquet objects keep the envelope's `event_time`, `parse_time`,
    /// `source` and `event_id` columns whatever the payload.
    pub payload: crate::sink::Payload,
    /// A batch is committed once its objects hold this many compressed bytes in total.
    ///
    /// Loaders that ingest each new object (Snowpipe, BigQuery transfers, Athena scans) have a
    /// fixed cost per file: Snowflake recommends 100–250 MB compressed files and charges
    /// Snowpipe per file, and scans of many small objects are dominated by request latency.
    /// Objects of 10–100 MB keep that overhead small while a commit still lands within
    /// minutes; hence 64 MiB, with `roll_age` bounding the delay for quiet sources.
    pub roll_size: bytesize::ByteSize,
    /// A batch is committed once its first page is this old, so quiet sources still
    /// deliver promptly.
    pub roll_age: Duration,
    /// Partitions (distinct rendered key prefixes) one batch may span before it is committed;
    /// bounds open objects and memory during backfills.
    pub max_open_partitions: usize,
    /// Object stores: staged objects bigger than this are uploaded in parts of this size, so
    /// memory per open object stays near one part whatever the object's size.
    pub part_size: bytesize::ByteSize,
    /// The manifest ledger's settings: signing, and where heads are published.
    pub ledger: LedgerSettings,
}

/// `ledger = { signing_key = "${file:ledger.pem}", public_key = "...", heads =
/// "s3://audit/heads", heads_object_lock = { ... }, heads_every = "1h" }` on a lake sink
/// (see `signing.rs` and `heads.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// An Ed25519 private key (PKCS#8 PEM or base64 seed) every ledger record is signed with.
    #[serde(default)]
    pub signing_key: Option<Secret>,
    /// The public key `sluice lake verify` checks signatures with (PEM or base64), for hosts
    /// that verify without holding the private key.
    #[serde(default)]
    pub public_key: Option<String>,
    /// A write-once location (an `s3://` bucket or prefix with Object Lock, or an absolute
    /// local path) where each chain's head is published; see `heads.rs`.
    #[serde(default)]
    pub heads: Option<String>,
    /// S3 Object Lock retention set on each published head (`s3://` heads only).
    #[serde(default)]
    pub heads_object_lock: Option<ObjectLock>,
    /// How often a chain's head is published (and at the first commit of every run).
    #[serde(default = "default_heads_every", with = "humantime_serde")]
    pub heads_every: Duration,
}

fn default_heads_every() -> Duration {
    Duration::from_secs(3600)
}

impl LakeConfig {
    /// A local lake at `path` with every other setting at its default.
    pub fn local(name: &str, path: impl Into<PathBuf>) -> Self {
        LakeConfig {
            name: name.to_string(),
            path: path.into(),
            url: None,
            endpoint: None,
            region: None,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
            object_lock: None,
            format: Format::default(),
            compression: Compression::default(),
            gzip_level: DEFAULT_GZIP_LEVEL,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            key_template: default_key_template(),
            payload: crate::sink::Payload::default(),
            roll_size: default_roll_size(),
            roll_age: default_roll_age(),
            max_open_partitions: default_max_open_partitions(),
            part_size: default_part_size(),
            ledger: LedgerSettings {
                heads_every: default_heads_every(),
                ..LedgerSettings::default()
            },
        }
    }

    /// Where the lake lives. `url` wins over `path`: the config loader makes an absent `path`
    /// relative to the config file like any other, so only `url` tells the two apart.
    pub fn location(&self) -> LakeLocation {
        match &self.url {
            // `parse_url` accepted this URL when the config was read.
            Some(url) => {
                parse_url(url).unwrap_or_else(|_| LakeLocation::Directory(self.path.clone()))
            }
            None => LakeLocation::Directory(self.path.clone()),
        }
    }

    /// How to reach the lake's object store (endpoint, region, credentials).
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }

    /// The level of the configured compression (NDJSON objects).
    pub fn level(&self) -> i32 {
        match self.compression {
            // At most 9, checked when the config was read.
            Compression::Gzip => self.gzip_level as i32,
            Compression::Zstd => self.zstd_level,
        }
    }

    /// What each object is, by format and compression.
    pub fn object_kind(&self) -> ObjectKind {
        match self.format {
            Format::Ndjson => ObjectKind::Ndjson(self.compression),
            Format::Parquet => ObjectKind::Parquet,
        }
    }

    /// The lake's address for messages: its URL or directory, never a credential.
    pub fn display_location(&self) -> String {
        match &self.url {
            Some(url) => url.to_string(),
            None => self.path.display().to_string(),
        }
    }
}

/// The `[[sinks]]` table as written; checked and turned into [`LakeConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLakeConfig {
    name: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    allow_http: bool,
    #[serde(default)]
    access_key_id: Option<Secret>,
    #[serde(default)]
    secret_access_key: Option<Secret>,
    #[serde(default)]
    object_lock: Option<ObjectLock>,
    #[serde(default)]
    format: Format,
    #[serde(default)]
    compression: Option<Compression>,
    #[serde(default)]
    gzip_level: Option<u32>,
    #[serde(default)]
    zstd_level: Option<i32>,
    #[serde(default)]
    key_template: Option<String>,
    #[serde(default)]
    partition_by_class: bool,
    #[serde(default)]
    payload: crate::sink::Payload,
    #[serde(default = "default_roll_size")]
    roll_size: bytesize::ByteSize,
    #[serde(default = "default_roll_age", with = "humantime_serde")]
    roll_age: Duration,
    #[serde(default = "default_max_open_partitions")]
    max_open_partitions: usize,
    #[serde(default = "default_part_size")]
    part_size: bytesize::ByteSize,
    #[serde(default)]
    ledger: Option<LedgerSettings>,
    /// Read by the loader's transform pass (see [`crate::model::deferred`]).
    #[serde(default, rename = "transforms")]
    _transforms: crate::model::Deferred,
}

/// `template` with a `class={class}/` segment after the first segment that names the source
/// (`partition_by_class = true`), unless it places `{class}` itself.
fn with_class_segment(template: &str) -> String {
    if template.contains("{class}") {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut placed = false;
    for segment in template.split_inclusive('/') {
        out.push_str(segment);
        if !placed && segment.contains("{source}") {
            out.push_str("class={class}/");
            placed = true;
        }
    }
    out
}

fn default_key_template() -> KeyTemplate {
    // A constant that `default_template_parses` below checks.
    KeyTemplate::parse(DEFAULT_KEY_TEMPLATE).expect("the default key template is valid")
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
fn default_part_size() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(8)
}

#[cfg(test)]
mod tests;
