//! `kind = "lake"`: hive-partitioned gzip NDJSON objects.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Settings of a lake sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Root directory of the lake, relative to the config file's directory.
    pub path: PathBuf,
    /// A batch is committed once its objects hold this many compressed bytes in total.
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

