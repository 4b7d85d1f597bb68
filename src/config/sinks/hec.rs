//! `kind = "splunk_hec"`: Splunk HTTP Event Collector.

use serde::Deserialize;

/// Settings of the sink. (Being built: only `name` exists so far.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// Unique name that sources refer to.
    pub name: String,
}
