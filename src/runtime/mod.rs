//! The runtime: wires each source to its sinks and the state store, and runs them.
//!
//! Sources run concurrently and independently: one failing source never stops the others.
//! Within a source, its live tail and its backfill windows are worked by up to `workers`
//! pipelines at once (see `workers.rs`).

pub mod canary;
pub mod error;
mod listing_guard;
pub mod metrics;
mod out_of_range;
mod pipeline;
pub mod progress;
mod refusals;
pub mod replay;
pub mod retention;
mod side_lease;
pub mod silence;
mod split;
pub mod status;
pub mod transforms;
mod workers;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use crate::state::DEFAULT_LEASE_TTL;
pub use error::{FailureKind, RunError};
pub use pipeline::{
    backfill_step, batch_name, split_backlog, worker_identity, Pipeline, RunReport, SplitPolicy,
    StageTimes,
};
pub use refusals::{refusal_error, SinkTally};
pub use transforms::StepTally;
pub use workers::{work_source, Plan};

use crate::config::{Config, SourceConfig};
use crate::state::{RunRecord, StateStore};

/// Makes one pass over every source: each pulls until caught up, then commits. Returns one
/// report per source, in config order.
pub async fn run_once(
    config: &Config,
    store: &Arc<dyn StateStore>,
    cancel: CancellationToken,
) -> Vec<RunReport> {
    let runs = config
        .sources
        .iter()
        .map(|source| run_source(config, source, store, cancel.clone()));
    futures_util::future::join_all(runs).await
}

/// Runs one source and records the run in the state store.
pub async fn run_source(
    config: &Config,
    source: &SourceConfig,
    store: &Arc<dyn StateStore>,
    cancel: CancellationToken,
) -> RunReport {
    let started_at = chrono::Utc::now();
    if let Some(open) = circuit_open(source, store.as_ref()).await {
        tracing::error!(source = %source.name, reason = %open, "source skipped: circuit breaker open");
        metrics::record_circuit(&source.name, true);
        metrics::record_circuit_skip(&source.name);
        // Not recorded as a run: the cooldown counts from the last real failure.
        return RunReport {
            source: source.name.clone(),
            error: Some(RunError::new(FailureKind::CircuitOpen, open)),
            ..RunReport::default()
        };
    }
    let report = work_source(config, source, store, cancel, Plan::scheduled(source)).await;
    let record = RunRecord {
        source: source.name.clone(),
        started_at,
        finished_at: chrono::Utc::now(),
        // Stored, and shown by `sluice status` and the daemon's page: an API may have echoed
        // a credential into the error.
        error: report
            .error
            .as_deref()
            .map(|e| crate::redact::scrub(e).into_owned()),
        kind: report.error.as_ref().map(RunError::kind),
        events: report.events,
        pages: report.pages,
    };
    if let Err(err) = store.record_run(&record).await {
        tracing::warn!(source = %source.name, error = %err, "could not record the run for `sluice status`");
    }
    log_summary(&report);
    metrics::record_run(&report);
    if let (Some(canary), Some(state)) = (&source.canary, &report.canary) {
        metrics::record_canary(
            &source.name,
            &canary::judge(canary, state, chrono::Utc::now()),
            state,
        );
    }
    // This run may have been the one that opened the circuit (an unreadable history leaves
    // the gauge as it was).
    if let Ok(open) = parked(source, store.as_ref()).await {
        metrics::record_circuit(&source.name, open.is_some());
    }
    report
}

/// Why the source must be skipped, when its circuit breaker is open.
async fn circuit_open(source: &SourceConfig, store: &dyn StateStore) -> Option<String> {
    match parked(source, store).await {
        Ok(parked) => parked.map(|p| p.reason()),
        Err(err) => {
            tracing::warn!(source = %source.name, error = %err, "cannot read run history; circuit breaker not applied");
            None
        }
    }
}

/// A source its circuit breaker parks: its last runs all failed, the last one recently
/// enough that it is skipped until `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    /// The source.
    pub source: String,
    /// Failed runs in a row that opened the circuit (`circuit_breaker.failures`).
    pub failures: usize,
    /// The first run after this time probes the API again.
    pub until: chrono::DateTime<chrono::Utc>,
    /// The last run's error (already scrubbed of secrets when it was recorded).
    pub last_error: String,
}

impl Parked {
    /// Why the source is skipped, with what to do.
    pub fn reason(&self) -> String {
        format!(
            "circuit open: the last {} runs failed; next attempt after {} (last error: {}) (hint: fix the cause, or lower circuit_breaker.cooldown)",
            self.failures,
            crate::timefmt::rfc3339_millis(self.until),
            self.last_error
        )
    }
}

/// Whether `source`'s circuit breaker is open now, from its recorded runs: the daemon's
/// `/readyz` and status page ask this too, so they say what the next run will do.
pub async fn parked(
    source: &SourceConfig,
    store: &dyn StateStore,
) -> Result<Option<Parked>, crate::state::StateError> {
    let breaker = &source.circuit_breaker;
    if breaker.failures == 0 {
        return Ok(None);
    }
    let runs = store.recent_runs(&source.name, breaker.failures).await?;
    Ok(breaker_state(source, &runs, chrono::Utc::now()))
}

/// The breaker's state at `now` given the source's most recent runs, newest first.
fn breaker_state(
    source: &SourceConfig,
    runs: &[RunRecord],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Parked> {
    let breaker = &source.circuit_breaker;
    if breaker.failures == 0
        || runs.len() < breaker.failures
        || runs.iter().any(|r| r.error.is_none())
    {
        return None;
    }
    let last = &runs[0];
    let until = last.finished_at + breaker.cooldown;
    (now < until).then(|| Parked {
        source: source.name.clone(),
        failures: breaker.failures,
        until,
        last_error: last.error.clone().unwrap_or_default(),
    })
}

/// The one summary line per source per run.
fn log_summary(report: &RunReport) {
    if let Some(reason) = &report.skipped {
        tracing::info!(source = %report.source, reason = %reason, "source skipped");
        return;
    }
    if report.late_events > 0 {
        // Each of these was invisible when its time range was first listed, so the API
        // publishes later than settle_delay; later still than settle_delay + overlap is lost.
        tracing::warn!(
            source = %report.source,
            late_events = report.late_events,
            "events arrived later than window.settle_delay and were caught by window.overlap; events later than both would be missed: raise settle_delay or overlap"
        );
    }
    let high_water = report.high_water.map(crate::timefmt::rfc3339_millis);
    match &report.error {
        None => tracing::info!(
            source = %report.source,
            events = report.events,
            pages = report.pages,
            objects = report.objects,
            bytes = report.bytes,
            duplicates_dropped = report.duplicates_dropped,
            late_events = report.late_events,
            dead_lettered = report.dead_lettered,
            transform_dropped = report.transform_dropped,
            transform_failed = report.transform_failed,
            transform_steps = %transforms::describe(&report.steps),
            out_of_window = report.out_of_window,
            out_of_range = report.out_of_range,
            relists = report.relists,
            seconds = format!("{:.2}", report.seconds),
            high_water = high_water.as_deref().unwrap_or("-"),
            more_pending = report.more_pending,
            "source run finished"
        ),
        Some(error) => tracing::error!(
            source = %report.source,
            events = report.events,
            pages = report.pages,
            objects = report.objects,
            seconds = format!("{:.2}", report.seconds),
            high_water = high_water.as_deref().unwrap_or("-"),
            error = %error,
            "source run failed"
        ),
    }
}
