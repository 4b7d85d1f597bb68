//! Setting types of the HEC sink's config ([`crate::sink::config::HecConfig`]), defined here so they
//! can be named (`sluice::sink::hec::HecCompression`): the config module re-exports only the
//! config structs themselves.

use serde::Deserialize;

/// What each HEC event's `event` field holds (the older spelling of `payload`: `data` is
/// `payload = "raw"`).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HecEventFormat {
    /// The record exactly as the API sent it (the envelope's `data`).
    #[default]
    Data,
    /// The whole envelope: `event_time`, `parse_time`, `source`, `event_id`, `data`.
    Envelope,
}

impl From<HecEventFormat> for crate::sink::Payload {
    fn from(format: HecEventFormat) -> Self {
        match format {
            HecEventFormat::Data => crate::sink::Payload::Raw,
            HecEventFormat::Envelope => crate::sink::Payload::Envelope,
        }
    }
}

/// How HEC request bodies are compressed.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HecCompression {
    /// `Content-Encoding: gzip`.
    #[default]
    Gzip,
    /// Plain JSON.
    None,
}

/// A setting that cannot work, with the key it is under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HecProblem {
    /// The key, e.g. `max_batch_events`.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl std::fmt::Display for HecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config loader turns " (hint: ...)" into its own hint line.
        write!(f, "`{}` {} (hint: {})", self.key, self.message, self.hint)
    }
}
