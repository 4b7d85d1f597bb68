//! Sinks: where events go, with a two-step commit so the checkpoint never runs ahead.
//!
//! The runtime drives every sink through the same cycle:
//! 1. [`Sink::write`] stages each page's events (durable or not, never visible);
//! 2. [`Sink::prepare`] makes the staged batch durable and returns what publishing needs;
//!    the runtime records that in the state store as the commit's intent;
//! 3. [`Sink::publish`] makes the batch visible. It is idempotent: after a crash the next
//!    run calls it again with the recorded payload, then moves the checkpoint.

pub mod config;
pub mod dead_letter;
pub mod elasticsearch;
pub mod hec;
pub mod http;
pub mod lake;
pub mod payload;
pub mod share;
pub mod stdout;

use async_trait::async_trait;

use crate::transform::Envelope;
use config::SinkConfig;

pub use lake::LakeSink;
pub use payload::Payload;

/// Errors from a sink, naming the sink and the object or URL involved.
#[derive(Debug, thiserror::Error)]
#[error("sink `{sink}`: {detail}")]
pub struct SinkError {
    /// Sink name.
    pub sink: String,
    /// What failed, with the path or URL and a hint.
    pub detail: String,
}

/// An event a sink refused for good, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The event as it was offered.
    pub event: Envelope,
    /// The destination's reason, e.g. the item error of a bulk response.
    pub error: String,
}

/// What a publish made visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Objects (or requests) made visible.
    pub objects: u64,
    /// Bytes made visible.
    pub bytes: u64,
}

/// A destination for one source's events.
#[async_trait]
pub trait Sink: Send {
    /// The sink's configured name.
    fn name(&self) -> &str;

    /// Stages a page's events. Nothing is visible to readers yet.
    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError>;

    /// Whether the staged batch is big or old enough to commit now.
    fn wants_commit(&self) -> bool;

    /// Makes the staged batch durable but invisible and returns the payload that
    /// [`Sink::publish`] needs, or `None` if nothing was staged. `batch` is a name derived
    /// from the checkpoint the batch starts at, so a replayed batch gets the same names.
    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError>;

    /// Makes a prepared batch visible. Must be idempotent: it may run again after a crash.
    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError>;

    /// Events the destination refused for good during the last [`Sink::prepare`] (e.g. a
    /// mapping error on one document). The runtime sends them to the dead-letter queue in the
    /// same commit, so they are never silently lost.
    fn take_rejected(&mut self) -> Vec<Rejected> {
        Vec::new()
    }
    /// The share of a run's events whose refusal fails the run (`fail_when_refused`); sinks
    /// that never refuse an event keep the default.
    fn fail_when_refused(&self) -> crate::sink::share::Share {
        crate::sink::share::Share::ALL
    }

    /// Where the destination already holds objects this sink published for its source, for
    /// destinations that can be listed (lakes); `None` when it holds none or cannot tell. A
    /// source whose state is empty must not start over a destination that holds its events.
    async fn published_before(&mut self) -> Result<Option<String>, SinkError> {
        Ok(None)
    }

    /// The hash of the newest record of the sink's manifest ledger for this state key, once
    /// known (lakes; see `sink::lake::ledger`). The runtime keeps it in the checkpoint it
    /// commits, so a ledger cut short shows against the state store.
    fn ledger_head(&self) -> Option<String> {
        None
    }

    /// Drops whatever is staged and not prepared (after a failed page, or leftovers of a
    /// crashed run). Called at the start of every run after pending intents are published.
    async fn discard_staged(&mut self) -> Result<(), SinkError>;
}

/// Builds the sink `config` describes, for the events of `source`.
pub fn build(config: &SinkConfig, source: &str) -> Result<Box<dyn Sink>, SinkError> {
    build_for_key(config, source, source)
}

/// Builds the sink `config` describes, for the events of `source` worked under state key
/// `key` (the source, or one of its backfill windows): sinks that stage keep each key's
/// staging apart, so a source's windows can be worked in parallel.
pub fn build_for_key(
    config: &SinkConfig,
    source: &str,
    key: &str,
) -> Result<Box<dyn Sink>, SinkError> {
    match config {
        SinkConfig::Lake(lake) => Ok(Box::new(LakeSink::for_key(lake, source, key)?)),
        SinkConfig::Http(c) => Ok(Box::new(http::HttpSink::new(c)?)),
        SinkConfig::Stdout(c) => Ok(Box::new(stdout::StdoutSink::new(c))),
        // Each kind's arm is replaced as its sink lands.
        SinkConfig::SplunkHec(c) => Ok(Box::new(hec::HecSink::new(c, source)?)),
        SinkConfig::Elasticsearch(c) => {
            Ok(Box::new(elasticsearch::ElasticsearchSink::new(c, source)?))
        }
    }
}
