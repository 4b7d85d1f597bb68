//! `kind = "http"` (NDJSON or a JSON array to any endpoint) and `kind = "stdout"`.

use serde::Deserialize;

/// Settings of the generic HTTP sink. (Being built: only `name` exists so far.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// Unique name that sources refer to.
    pub name: String,
}

/// Settings of the stdout sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// Unique name that sources refer to.
    pub name: String,
}
