//! `kind = "elasticsearch"`: the Elasticsearch / OpenSearch `_bulk` API.

use serde::Deserialize;

/// Settings of the sink. (Being built: only `name` exists so far.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Unique name that sources refer to.
    pub name: String,
}
