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
    parse_url, Compression, Format, KeyTemplate, LakeLocation, ObjectKind, ObjectLock, StoreScheme,
    DEFAULT_KEY_TEMPLATE,
};

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

impl TryFrom<RawLakeConfig> for LakeConfig {
    type Error = String;

    fn try_from(mut raw: RawLakeConfig) -> Result<Self, String> {
        let (path, url) = match (raw.path.take(), raw.url.take()) {
            (Some(path), None) => (path, None),
            (None, Some(url)) => {
                let label = format!("lake `{}`", raw.name);
                let parsed = crate::cloud::parse_config_url(&label, &url)?;
                let location = parse_url(&parsed).map_err(|e| format!("{label}: {e}"))?;
                match location {
                    LakeLocation::Directory(dir) => (dir, None),
                    LakeLocation::Store { scheme, .. } => {
                        raw.store_options().check(&label, scheme)?;
                        check_lake_options(&raw.name, scheme, &raw)?;
                        (PathBuf::new(), Some(parsed))
                    }
                }
            }
            (Some(_), Some(_)) => {
                return Err(format!("lake `{}`: set either `path` or `url`, not both (hint: `path` is a local directory, `url` any location including file:///abs/dir)", raw.name))
            }
            (None, None) => {
                return Err(format!("lake `{}`: missing `path` or `url` (hint: path = \"lake\" for a local directory, url = \"s3://bucket/prefix\" for S3)", raw.name))
            }
        };
        if url.is_none() {
            let stray = raw
                .store_options()
                .first_set()
                .or(raw.object_lock.is_some().then_some("object_lock"));
            if let Some(key) = stray {
                return Err(format!("lake `{}`: `{key}` applies to object stores only and this lake is a local directory (hint: remove it, or use url = \"s3://bucket/prefix\")", raw.name));
            }
        }
        let written = raw.key_template.as_deref().unwrap_or(DEFAULT_KEY_TEMPLATE);
        let template = if raw.partition_by_class {
            with_class_segment(written)
        } else {
            written.to_string()
        };
        let key_template = KeyTemplate::parse(&template).map_err(|e| {
            format!(
                "lake `{}`: key_template `{template}`: {e} (hint: the default is \"{DEFAULT_KEY_TEMPLATE}\")",
                raw.name
            )
        })?;
        if url.is_some() && raw.roll_size.as_u64() > MAX_COPY_SIZE {
            return Err(format!(
                "lake `{}`: roll_size {} is too large for an object store, which publishes each object with one server-side copy (at most 5 GB on S3) (hint: the default is 64MiB; 10 to 100 MB suits loaders best)",
                raw.name, raw.roll_size
            ));
        }
        if raw.format == Format::Parquet {
            if !cfg!(feature = "parquet") {
                return Err(format!(
                    "lake `{}`: format = \"parquet\" needs a build with the `parquet` feature (hint: build sluice with `cargo build --release --features parquet`, or use format = \"ndjson\")",
                    raw.name
                ));
            }
            if raw.compression.is_some() {
                return Err(format!(
                    "lake `{}`: `compression` applies to NDJSON objects; Parquet objects compress each column with zstd (hint: remove `compression`)",
                    raw.name
                ));
            }
        }
        check_levels(&raw)?;
        if raw.part_size.as_u64() < MIN_PART_SIZE {
            return Err(format!(
                "lake `{}`: part_size {} is below 5 MiB, the smallest part S3 accepts (hint: the default is 8MiB)",
                raw.name, raw.part_size
            ));
        }
        let ledger = raw.ledger.take().unwrap_or(LedgerSettings {
            heads_every: default_heads_every(),
            ..LedgerSettings::default()
        });
        check_ledger(&raw.name, &ledger)?;
        let config = LakeConfig {
            name: raw.name,
            path,
            url,
            endpoint: raw.endpoint,
            region: raw.region,
            allow_http: raw.allow_http,
            access_key_id: raw.access_key_id,
            secret_access_key: raw.secret_access_key,
            object_lock: raw.object_lock,
            format: raw.format,
            compression: raw.compression.unwrap_or_default(),
            gzip_level: raw.gzip_level.unwrap_or(DEFAULT_GZIP_LEVEL),
            zstd_level: raw.zstd_level.unwrap_or(DEFAULT_ZSTD_LEVEL),
            key_template,
            payload: raw.payload,
            roll_size: raw.roll_size,
            roll_age: raw.roll_age,
            max_open_partitions: raw.max_open_partitions,
            part_size: raw.part_size,
            ledger,
        };
        super::heads::heads_config(&config)?;
        Ok(config)
    }
}

impl RawLakeConfig {
    fn store_options(&self) -> StoreOptions {
        StoreOptions {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }
}

/// Keys that do not read are refused when the config loads, not at the first commit.
fn check_ledger(name: &str, ledger: &LedgerSettings) -> Result<(), String> {
    // A reference is checked once the loader has resolved it (see `Secret::is_unresolved`).
    if let Some(key) = ledger
        .signing_key
        .as_ref()
        .filter(|key| !key.is_unresolved())
    {
        super::signing::signing_key(key.expose())
            .map_err(|e| format!("lake `{name}`: ledger.signing_key: {e}"))?;
    }
    if let Some(key) = &ledger.public_key {
        super::signing::verifying_key(key)
            .map_err(|e| format!("lake `{name}`: ledger.public_key: {e}"))?;
    }
    if ledger.heads_every.is_zero() {
        return Err(format!("lake `{name}`: ledger.heads_every must be longer than zero (hint: the default is \"1h\")"));
    }
    Ok(())
}

/// The compression levels: in range, and each set only with its compression.
fn check_levels(raw: &RawLakeConfig) -> Result<(), String> {
    let name = &raw.name;
    let compression = match raw.format {
        Format::Parquet => None,
        Format::Ndjson => Some(raw.compression.unwrap_or_default()),
    };
    if let Some(level) = raw.gzip_level {
        if compression != Some(Compression::Gzip) {
            return Err(format!("lake `{name}`: `gzip_level` applies to gzip NDJSON objects and this lake writes {} (hint: remove gzip_level, or use zstd_level with compression = \"zstd\")", written(compression)));
        }
        if !(1..=9).contains(&level) {
            return Err(format!("lake `{name}`: gzip_level = {level} is out of range (hint: 1 is the fastest, 9 the smallest; the default is {DEFAULT_GZIP_LEVEL})"));
        }
    }
    if let Some(level) = raw.zstd_level {
        if compression != Some(Compression::Zstd) {
            return Err(format!("lake `{name}`: `zstd_level` applies to zstd NDJSON objects and this lake writes {} (hint: set compression = \"zstd\", or remove zstd_level)", written(compression)));
        }
        if !(1..=19).contains(&level) {
            return Err(format!("lake `{name}`: zstd_level = {level} is out of range (hint: 1 is the fastest, 19 the smallest; the default is {DEFAULT_ZSTD_LEVEL})"));
        }
    }
    Ok(())
}

/// What a lake writes, for messages.
fn written(compression: Option<Compression>) -> &'static str {
    match compression {
        None => "Parquet",
        Some(Compression::Gzip) => "gzip",
        Some(Compression::Zstd) => "zstd",
    }
}

/// The lake's own store options (Object Lock), which only S3 lakes understand.
fn check_lake_options(name: &str, scheme: StoreScheme, raw: &RawLakeConfig) -> Result<(), String> {
    if raw.object_lock.is_some() && scheme != StoreScheme::S3 {
        return Err(format!("lake `{name}`: `object_lock` applies to s3:// lakes only (hint: remove it; see docs/configuration.md)"));
    }
    if let Some(lock) = &raw.object_lock {
        if lock.retain_for.is_zero() {
            return Err(format!("lake `{name}`: object_lock.retain_for must be longer than zero (hint: e.g. retain_for = \"90d\"; remove object_lock for no retention)"));
        }
    }
    Ok(())
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
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LakeConfig, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        LakeConfig::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
    }

    #[test]
    fn default_template_parses() {
        assert!(KeyTemplate::parse(DEFAULT_KEY_TEMPLATE).is_ok());
        assert_eq!(default_key_template().as_str(), DEFAULT_KEY_TEMPLATE);
    }

    #[test]
    fn path_alone_is_a_local_lake_with_defaults() {
        let config = parse("name = \"lake\"\npath = \"lake\"").unwrap();
        assert_eq!(config.location(), LakeLocation::Directory("lake".into()));
        assert_eq!(config.compression, Compression::Gzip);
        assert_eq!(config.key_template.as_str(), DEFAULT_KEY_TEMPLATE);
        assert_eq!(config.roll_size, bytesize::ByteSize::mib(64));
    }

    #[test]
    fn compression_levels_apply_to_their_own_compression_in_range() {
        let base = "name = \"lake\"\npath = \"lake\"\n";
        let config = parse(base).unwrap();
        assert_eq!(config.level(), DEFAULT_GZIP_LEVEL as i32);
        let config = parse(&format!("{base}gzip_level = 9")).unwrap();
        assert_eq!((config.compression, config.level()), (Compression::Gzip, 9));
        let config = parse(&format!("{base}compression = \"zstd\"\nzstd_level = 12")).unwrap();
        assert_eq!(
            (config.compression, config.level()),
            (Compression::Zstd, 12)
        );
        let config = parse(&format!("{base}compression = \"zstd\"")).unwrap();
        assert_eq!(config.level(), DEFAULT_ZSTD_LEVEL);
        for (extra, wanted) in [
            ("gzip_level = 0", "gzip_level = 0 is out of range (hint: 1 is the fastest"),
            ("gzip_level = 10", "gzip_level = 10 is out of range"),
            ("compression = \"zstd\"\nzstd_level = 20", "zstd_level = 20 is out of range"),
            ("compression = \"zstd\"\ngzip_level = 5", "`gzip_level` applies to gzip NDJSON objects and this lake writes zstd"),
            ("zstd_level = 5", "`zstd_level` applies to zstd NDJSON objects and this lake writes gzip (hint: set compression = \"zstd\""),
        ] {
            let err = parse(&format!("{base}{extra}")).unwrap_err();
            assert!(err.contains("lake `lake`: "), "{err}");
            assert!(err.contains(wanted), "{extra}: {err}");
        }
    }

    #[test]
    fn file_url_is_a_local_lake() {
        let config = parse("name = \"lake\"\nurl = \"file:///var/lib/lake\"").unwrap();
        assert_eq!(
            config.location(),
            LakeLocation::Directory("/var/lib/lake".into())
        );
        assert!(config.url.is_none());
    }

    #[test]
    fn path_and_url_exclude_each_other() {
        let err = parse("name = \"l\"\npath = \"a\"\nurl = \"file:///b\"").unwrap_err();
        assert!(err.contains("either `path` or `url`"), "{err}");
        let err = parse("name = \"l\"").unwrap_err();
        assert!(err.contains("missing `path` or `url`"), "{err}");
    }

    #[test]
    fn bad_urls_are_refused_with_a_hint() {
        for (url, expected) in [
            ("ftp://x/y", "not a lake location"),
            ("s3://key:secret@bucket/p", "must not hold credentials"),
            ("s3:///prefix", "names no bucket"),
            ("s3://bucket/_staging/x", "cannot start with `_staging`"),
            ("s3://bucket/a%5Cb", "not allowed"),
        ] {
            let err = parse(&format!("name = \"l\"\nurl = \"{url}\"")).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("secret@"), "credentials echoed: {err}");
            assert!(err.contains("hint"), "{err}");
        }
    }

    #[test]
    fn store_only_keys_are_refused_for_local_lakes() {
        let err = parse("name = \"l\"\npath = \"a\"\nregion = \"eu-west-1\"").unwrap_err();
        assert!(
            err.contains("`region` applies to object stores only"),
            "{err}"
        );
    }

    #[test]
    fn bad_templates_and_part_sizes_are_refused() {
        let err = parse("name = \"l\"\npath = \"a\"\nkey_template = \"dt=%Y/\"").unwrap_err();
        assert!(err.contains("{source}"), "{err}");
        let err = parse("name = \"l\"\npath = \"a\"\npart_size = \"1MiB\"").unwrap_err();
        assert!(err.contains("5 MiB"), "{err}");
    }

    #[test]
    fn partition_by_class_adds_a_class_segment_after_the_source() {
        let config = parse("name = \"l\"\npath = \"a\"\npartition_by_class = true").unwrap();
        assert_eq!(
            config.key_template.as_str(),
            "source={source}/class={class}/dt=%Y-%m-%d/hr=%H/"
        );
        let own = "name = \"l\"\npath = \"a\"\npartition_by_class = true\nkey_template = \"c={class}/s={source}/\"";
        assert_eq!(
            parse(own).unwrap().key_template.as_str(),
            "c={class}/s={source}/"
        );
        let config = parse("name = \"l\"\npath = \"a\"\npayload = \"ocsf\"").unwrap();
        assert_eq!(config.payload, crate::sink::Payload::Ocsf);
        let err = parse("name = \"l\"\npath = \"a\"\npayload = \"vendor\"").unwrap_err();
        assert!(err.contains("envelope"), "{err}");
    }

    #[test]
    fn parquet_format_is_its_own_object_kind() {
        let result = parse("name = \"l\"\npath = \"a\"\nformat = \"parquet\"");
        if cfg!(feature = "parquet") {
            let config = result.unwrap();
            assert_eq!(config.object_kind(), ObjectKind::Parquet);
            assert_eq!(config.object_kind().extension(), ".parquet");
        } else {
            let err = result.unwrap_err();
            assert!(err.contains("--features parquet"), "{err}");
            assert!(err.contains("lake `l`"), "{err}");
        }
        let err = parse("name = \"l\"\npath = \"a\"\nformat = \"parquet\"\ncompression = \"zstd\"")
            .unwrap_err();
        if cfg!(feature = "parquet") {
            assert!(err.contains("remove `compression`"), "{err}");
        }
        let config = parse("name = \"l\"\npath = \"a\"\ncompression = \"zstd\"").unwrap();
        assert_eq!(config.object_kind(), ObjectKind::Ndjson(Compression::Zstd));
        let err = parse("name = \"l\"\npath = \"a\"\nformat = \"csv\"").unwrap_err();
        assert!(err.contains("parquet"), "{err}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_url_with_endpoint_and_keys() {
        let config = parse(
            r#"
name = "lake"
url = "s3://bucket/some/prefix/"
endpoint = "http://127.0.0.1:9000"
allow_http = true
region = "us-east-1"
access_key_id = "AKIA"
secret_access_key = "s3cr3t"
compression = "zstd"
"#,
        )
        .unwrap();
        assert_eq!(
            config.location(),
            LakeLocation::Store {
                scheme: StoreScheme::S3,
                bucket: "bucket".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(config.compression.extension(), ".ndjson.zst");
        assert!(!format!("{config:?}").contains("s3cr3t"));

        let err = parse("name = \"l\"\nurl = \"s3://b\"\nendpoint = \"http://127.0.0.1:9000\"")
            .unwrap_err();
        assert!(err.contains("allow_http"), "{err}");
        let err = parse("name = \"l\"\nurl = \"s3://b\"\naccess_key_id = \"a\"").unwrap_err();
        assert!(err.contains("together"), "{err}");
        let err = parse("name = \"l\"\nurl = \"s3://b\"\nroll_size = \"6GiB\"").unwrap_err();
        assert!(err.contains("server-side copy"), "{err}");
        assert!(parse("name = \"l\"\npath = \"a\"\nroll_size = \"6GiB\"").is_ok());
    }

    #[cfg(feature = "s3")]
    #[test]
    fn object_lock_is_for_s3_lakes_with_a_mode_and_a_retention() {
        use crate::sink::lake::LockMode;
        let config = parse(
            "name = \"l\"\nurl = \"s3://b/p\"\nobject_lock = { mode = \"compliance\", retain_for = \"90d\" }",
        )
        .unwrap();
        let lock = config.object_lock.unwrap();
        assert_eq!(lock.mode, LockMode::Compliance);
        assert_eq!(lock.retain_for, Duration::from_secs(90 * 86_400));
        for (text, expected) in [
            (
                "path = \"a\"\nobject_lock = { mode = \"governance\", retain_for = \"1d\" }",
                "applies to object stores only",
            ),
            (
                "url = \"s3://b\"\nobject_lock = { mode = \"legal\", retain_for = \"1d\" }",
                "governance",
            ),
            (
                "url = \"s3://b\"\nobject_lock = { mode = \"governance\" }",
                "retain_for",
            ),
            (
                "url = \"s3://b\"\nobject_lock = { mode = \"governance\", retain_for = \"0s\" }",
                "longer than zero",
            ),
        ] {
            let err = parse(&format!("name = \"l\"\n{text}")).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn s3_url_without_the_feature_names_it() {
        let err = parse("name = \"l\"\nurl = \"s3://b/p\"").unwrap_err();
        assert!(err.contains("--features s3"), "{err}");
    }
}
