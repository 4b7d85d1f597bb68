//! `[[sinks]]`: where events go. One file per kind.

mod elasticsearch;
mod hec;
mod http;
mod lake;
mod share;

use serde::Deserialize;

pub use elasticsearch::ElasticsearchConfig;
pub use hec::HecConfig;
pub use http::{BatchFormat, HttpSinkConfig, StdoutConfig};
pub use lake::LakeConfig;
pub use share::Share;

/// One `[[sinks]]` entry; `kind` says which.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkConfig {
    /// Hive-partitioned gzip NDJSON objects in a directory.
    Lake(LakeConfig),
    /// Splunk HTTP Event Collector, with indexer acknowledgements.
    SplunkHec(HecConfig),
    /// Elasticsearch or OpenSearch `_bulk`.
    Elasticsearch(ElasticsearchConfig),
    /// NDJSON or a JSON array POSTed to any HTTP endpoint.
    Http(HttpSinkConfig),
    /// NDJSON on standard output.
    Stdout(StdoutConfig),
}

impl SinkConfig {
    /// The name sources use to refer to this sink.
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Lake(c) => &c.name,
            SinkConfig::SplunkHec(c) => &c.name,
            SinkConfig::Elasticsearch(c) => &c.name,
            SinkConfig::Http(c) => &c.name,
            SinkConfig::Stdout(c) => &c.name,
        }
    }
}
