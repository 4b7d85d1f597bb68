//! Configuration: the TOML file a user writes, parsed into typed settings.
//!
//! [`load`] reads and validates a file; every error it returns names the file, the line and
//! column, the key path and a hint. A load parses the TOML into a document, resolves every
//! secret reference in it in one pass (`${env:NAME}`, `${file:PATH}`, and references to AWS
//! Secrets Manager, Google Secret Manager and Vault; see `secret.rs`), puts the values in the
//! document, reads the settings from it as plain data (a [`Secret`] never prints its value),
//! takes relative paths from the file's directory (`paths.rs`) and validates.

mod document;
mod load;
mod locate;
mod notify;
mod notify_check;
mod paths;
mod position;
mod secret;
mod serve;
mod transforms;
mod validate;

use serde::Deserialize;

pub use crate::model::schedule::ScheduleConfig;
pub use crate::model::{Problem, Secret, SortOrder, TimeFormat};
pub use crate::sink::dead_letter::DeadLetterConfig;
pub use crate::source::auth::client_key::{ClientKey, ClientProof};
pub use crate::source::auth::config::{
    ApiKeyConfig, ApiKeyLocation, AssertionAlgorithm, AuthConfig, ClientAuth, DuoSignatureVersion,
    ServiceAccountKey,
};
pub use crate::source::config::{
    CircuitBreakerConfig, CursorEncoding, EventIdConfig, EventTimeConfig, HttpConfig, HttpMethod,
    PaginationConfig, QueryValue, RateLimitConfig, RecordsMissing, ResetFormat, SourceConfig,
    WindowConfig, WindowMode,
};
pub use crate::state::config::{ObjectStateConfig, StateConfig};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use load::load_str_without_secrets;
pub use load::{load, load_str, load_without_secrets, ConfigError};
pub use notify::{
    AlertConfig, AlertRule, EmailConfig, NotifierConfig, PagerDutyConfig, SlackConfig,
    SmtpSecurity, WebhookConfig, DEFAULT_VOLUME_BELOW, PAGERDUTY_EVENTS_URL,
};
#[cfg(test)]
pub(crate) use secret::resolved_auth;
pub use serve::ServeConfig;
pub use transforms::Transforms;
pub use validate::MAX_WORKERS;

pub use crate::sink::config::{
    BatchFormat, ElasticsearchConfig, HecConfig, HttpSinkConfig, LakeConfig, Share, SinkConfig,
    StdoutConfig,
};
pub use crate::source::path::JsonPath;
pub use crate::transform::StepConfig;

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
    /// Where events that a sink refuses for good are kept, with the reason.
    #[serde(default)]
    pub dead_letter: Option<DeadLetterConfig>,
    /// Settings of `sluice serve` (ignored by the other commands).
    #[serde(default)]
    pub serve: ServeConfig,
    /// Where alerts go (`[[notifiers]]`).
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
    /// When alerts are sent (`[[alerts]]`).
    #[serde(default)]
    pub alerts: Vec<AlertConfig>,
    /// The transform chains of sources and sinks (their `transforms` keys), read by a pass
    /// of their own (see `config/transforms.rs`).
    #[serde(skip)]
    pub transforms: Transforms,
}

impl Config {
    /// The schedule `sluice serve` runs `source` on: its own, else `[serve] schedule`.
    pub fn schedule_of<'a>(&'a self, source: &'a SourceConfig) -> &'a ScheduleConfig {
        source.schedule.as_ref().unwrap_or(&self.serve.schedule)
    }

    /// The notifier named `name`.
    pub fn notifier(&self, name: &str) -> Option<&NotifierConfig> {
        self.notifiers.iter().find(|n| n.name() == name)
    }

    /// The steps of `source`'s own transform chain (none when it has no `transforms`).
    pub fn transforms_of(&self, source: &SourceConfig) -> &[StepConfig] {
        self.transforms
            .sources
            .get(&source.name)
            .map_or(&[], Vec::as_slice)
    }

    /// The steps of the chain the sink named `sink` runs on its copy of every source's
    /// events, after the source's chain (none when it has no `transforms`).
    pub fn sink_transforms(&self, sink: &str) -> &[StepConfig] {
        self.transforms.sinks.get(sink).map_or(&[], Vec::as_slice)
    }

    /// Where the OCSF form of `source`'s events is when they reach sink `sink` (after both
    /// chains): `None` when no `ocsf` step runs on the way; `Err` when two do.
    pub fn ocsf_for(
        &self,
        source: &SourceConfig,
        sink: &str,
    ) -> Result<Option<crate::transform::OcsfInto>, String> {
        transforms::ocsf_for(self, source, sink)
    }

    /// The sink settings a source refers to, in the order the source lists them.
    pub fn sinks_of<'a>(&'a self, source: &SourceConfig) -> Vec<&'a SinkConfig> {
        source
            .sinks
            .iter()
            .filter_map(|name| self.sinks.iter().find(|s| s.name() == name))
            .collect()
    }
}
