//! `[[sinks]]`: where events go. One file per kind.

use serde::Deserialize;

use crate::model::Problem;

pub use super::elasticsearch::config::ElasticsearchConfig;
pub use super::hec::config::HecConfig;
pub use super::http::config::{BatchFormat, HttpSinkConfig, StdoutConfig};
pub use super::lake::config::LakeConfig;
pub use super::share::Share;

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

    /// The settings of this sink that cannot work, each at its key inside the sink's table
    /// (the config loader puts it under `sinks[i]` and finds its line). Reading the table only
    /// gave each value its type; the rules that judge the values are the kind's own.
    pub fn validate(&self) -> Vec<Problem> {
        match self {
            SinkConfig::Lake(c) => c.validate(),
            SinkConfig::SplunkHec(c) => c.validate(),
            SinkConfig::Elasticsearch(c) => c.validate(),
            // Their settings are judged when the sink is built (URL, auth).
            SinkConfig::Http(_) | SinkConfig::Stdout(_) => Vec::new(),
        }
    }

    /// What the sink sends of each event (`payload`; HEC's default is `raw`).
    pub fn payload(&self) -> super::Payload {
        match self {
            SinkConfig::Lake(c) => c.payload,
            SinkConfig::SplunkHec(c) => c.payload(),
            SinkConfig::Elasticsearch(c) => c.payload,
            SinkConfig::Http(c) => c.payload,
            SinkConfig::Stdout(c) => c.payload,
        }
    }
}
