//! Workers: one source's live tail and its backfill windows, worked side by side.
//!
//! A source is worked as a set of state keys. The source's own key is its live tail: one
//! worker at a time holds its lease, and that worker also plans (splits a backlog into
//! backfill windows, moves each backfill's frontier over its finished windows). Each backfill
//! window has its own key, checkpoint and lease, so any worker of any process can take it;
//! a window's lease decides who works it, and its fencing token keeps a worker that lost the
//! lease from committing. Workers of this process never try a window twice in one run.
//!
//! ```text
//!   worker 0:  [plan] ── tail ──────────── window 3 ── window 6 ──┐
//!   worker 1:     └─wait─ window 0 ── window 2 ── window 5 ───────┤── [plan: frontier]
//!   worker 2:     └─wait─ window 1 ── window 4 ── (none left) ────┘
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::error::{FailureKind, RunError};
use super::pipeline::{backfill_step, Pipeline, RunReport, SplitPolicy};
use super::transforms::Stage;
use crate::config::{Config, SourceConfig};
use crate::sink::{self, Sink};
use crate::source::HttpSource;
use crate::state::{window_key, BackfillWindow, DedupSet, StateStore};

/// What a source run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Windows worked at once (the tail counts as one).
    pub workers: usize,
    /// Whether to work the live tail (and plan); `sluice backfill` works only windows.
    pub tail: bool,
}

impl Plan {
    /// A scheduled run of `source`: its tail and its backfills, with its configured workers.
    pub fn scheduled(source: &SourceConfig) -> Self {
        Plan {
            workers: source.workers.max(1),
            tail: true,
        }
    }
}

/// The parts every pipeline of a source shares. Owned, so each worker is a task of its own
/// and a source's windows use every core.
struct Shared {
    config: Arc<Config>,
    source: SourceConfig,
    http: Arc<HttpSource>,
    /// The transform chains of the source and its sinks, built once for every pipeline.
    transforms: Option<Arc<Stage>>,
    store: Arc<dyn StateStore>,
    cancel: CancellationToken,
    /// Which windows this run's workers have passed (see [`Claims`]).
    claims: tokio::sync::Mutex<Claims>,
}

/// Works `source` as `plan` says and sums up what every worker did.
pub async fn work_source(
    config: &Config,
    source: &SourceConfig,
    store: &Arc<dyn StateStore>,
    cancel: CancellationToken,
    plan: Plan,
) -> RunReport {
    let started = std::time::Instant::now();
    let http = match HttpSource::new(source) {
        Ok(http) => Arc::new(http),
        Err(error) => return failed(source, RunError::source(&error)),
    };
    let transforms = match Stage::build(config, source) {
        Ok(stage) => stage.map(Arc::new),
        Err(error) => return failed(source, RunError::new(FailureKind::Config, error)),
    };
    let shared = Arc::new(Shared {
        config: Arc::new(config.clone()),
        source: source.clone(),
        http,
        transforms,
        store: store.clone(),
        cancel,
        claims: tokio::sync::Mutex::new(Claims::default()),
    });
    let step = backfill_step(&source.window);
    let (planned_tx, planned_rx) = watch::channel(!plan.tail);
    let first = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut reports = Vec::new();
            if plan.tail {
                let policy = SplitPolicy {
                    workers: plan.workers,
                    step,
                };
                let canary = shared.source.canary.clone().map(Arc::new);
                reports.push(
                    shared
                        .run(None, |p| {
                            let p = p.with_backfill_planning(policy, planned_tx);
                            match canary {
                                Some(canary) => p.with_canary(canary),
                                None => p,
                            }
                        })
                        .await,
                );
            }
            reports.extend(shared.work_windows().await);
            reports
        })
    };
    let others: Vec<_> = (1..plan.workers)
        .map(|_| {
            let mut planned = planned_rx.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                // The tail's planner may be about to split a backlog: wait for its plan.
                let _ = planned.wait_for(|ready| *ready).await;
                shared.work_windows().await
            })
        })
        .collect();
    let mut reports = Vec::new();
    for (i, handle) in std::iter::once(first).chain(others).enumerate() {
        match handle.await {
            Ok(worked) => reports.extend(worked),
            // A worker that panicked committed nothing past its last commit: report it.
            Err(err) => {
                let failure = failed(
                    source,
                    RunError::new(
                        FailureKind::Internal,
                        format!("worker {i} stopped unexpectedly: {err}"),
                    ),
                );
                if i == 0 && plan.tail {
                    reports.insert(0, failure);
                } else {
                    reports.push(failure);
                }
            }
        }
    }
    let windows_worked = reports.len() > usize::from(plan.tail);
    if windows_worked && plan.tail && !shared.cancel.is_cancelled() {
        // Move the frontiers over the windows just finished, so `sluice status` shows them.
        let (tx, _rx) = watch::channel(false);
        let policy = SplitPolicy { workers: 1, step };
        let planned = shared
            .run(None, |p| p.with_backfill_planning(policy, tx).only_plan())
            .await;
        if planned.error.is_some() {
            reports.push(planned);
        }
    }
    let mut report = merge(&source.name, reports, plan.tail);
    report.seconds = started.elapsed().as_secs_f64();
    if report.error.is_none() {
        // Loud by default: a run whose sink refused (too much of) what it was offered fails,
        // though every refused event is safe in the dead-letter queue.
        report.error = super::refusals::refusal_error(&source.name, &report.sinks);
    }
    if !report.more_pending && report.error.is_none() {
        report.more_pending = shared.backfill_left().await;
    }
    report
}

impl Shared {
    /// Runs one pipeline on the source's tail (`window` is `None`) or on a backfill window.
    async fn run(
        &self,
        window: Option<(BackfillWindow, DedupSet)>,
        configure: impl FnOnce(Pipeline<'_>) -> Pipeline<'_>,
    ) -> RunReport {
        let key = match &window {
            Some((w, _)) => window_key(&self.source.name, w.backfill, w.range.start),
            None => self.source.name.clone(),
        };
        let (sinks, dead_letter) = match self.sinks(&key) {
            Ok(parts) => parts,
            Err(error) => return failed(&self.source, error),
        };
        let mut pipeline = Pipeline::new(self.http.clone(), sinks, self.store.as_ref())
            .with_lease_ttl(self.config.state.lease_ttl());
        if let Some(queue) = dead_letter {
            pipeline = pipeline.with_dead_letter(queue);
        }
        if let Some(stage) = &self.transforms {
            pipeline = pipeline.with_transforms(stage.clone());
        }
        if let Some((window, seed)) = window {
            pipeline = pipeline.for_backfill_window(window, seed);
        }
        configure(pipeline).run(self.cancel.clone()).await
    }

    /// Takes backfill windows one after another until none is left for this worker.
    async fn work_windows(&self) -> Vec<RunReport> {
        let mut reports = Vec::new();
        while !self.cancel.is_cancelled() {
            let next = match self.next_window().await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(error) => {
                    reports.push(failed(&self.source, error));
                    break;
                }
            };
            let report = self.run(Some(next), |p| p).await;
            let stop = report.error.is_some();
            if !stop && report.skipped.is_none() && !report.more_pending {
                super::progress::window_finished(&self.source.name);
            }
            reports.push(report);
            if stop {
                // The API or a sink fails: other windows would fail the same way.
                break;
            }
        }
        reports
    }

    /// The oldest window of any backfill in progress that is not finished and that no
    /// worker of this run has taken, marked as taken.
    ///
    /// Windows are handed out oldest first, so each backfill keeps a cursor: every window
    /// before it was taken or found finished by this run. The finished windows are listed
    /// once per run (a year of hourly windows is thousands of checkpoints); a window another
    /// process finishes meanwhile is taken, found finished by its pipeline, and passed.
    async fn next_window(&self) -> Result<Option<(BackfillWindow, DedupSet)>, RunError> {
        let name = &self.source.name;
        let state = self.store.load(name).await?;
        if state.checkpoint.backfills.is_empty() {
            return Ok(None);
        }
        let mut claims = self.claims.lock().await;
        if claims.finished.is_none() {
            claims.finished = Some(self.finished_windows().await?);
        }
        for backfill in &state.checkpoint.backfills {
            let from = claims.cursor.get(&backfill.id).copied().unwrap_or(0);
            for window in backfill.open_windows().skip_while(|w| w.index < from) {
                claims.cursor.insert(backfill.id, window.index + 1);
                let key = window_key(name, window.backfill, window.range.start);
                if claims.finished.as_ref().is_some_and(|f| f.contains(&key)) {
                    continue;
                }
                let seed = if window.index == 0 {
                    backfill.seed.clone()
                } else {
                    DedupSet::default()
                };
                return Ok(Some((window, seed)));
            }
        }
        Ok(None)
    }

    /// Keys of the source's backfill windows that are finished.
    async fn finished_windows(&self) -> Result<HashSet<String>, RunError> {
        Ok(crate::state::finished_windows(self.store.as_ref(), &self.source.name).await?)
    }

    /// Whether a backfill still has windows to work (after this run's workers stopped).
    async fn backfill_left(&self) -> bool {
        let Ok(state) = self.store.load(&self.source.name).await else {
            return false;
        };
        if state.checkpoint.backfills.is_empty() {
            return false;
        }
        let Ok(finished) = self.finished_windows().await else {
            return true;
        };
        state.checkpoint.backfills.iter().any(|backfill| {
            backfill.open_windows().any(|w| {
                !finished.contains(&window_key(&self.source.name, w.backfill, w.range.start))
            })
        })
    }

    /// The sinks (and dead-letter queue) of one state key.
    fn sinks(&self, key: &str) -> Result<SinkSet, RunError> {
        let name = &self.source.name;
        let sinks = self
            .config
            .sinks_of(&self.source)
            .into_iter()
            .map(|sink| sink::build_for_key(sink, name, key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RunError::new(FailureKind::Config, e.to_string()))?;
        let dead_letter = match &self.config.dead_letter {
            Some(queue) => {
                let setup = |e: String| RunError::new(FailureKind::Config, e);
                let lake = queue.as_lake().map_err(|e| setup(e.to_string()))?;
                let queue =
                    sink::LakeSink::for_key(&lake, name, key).map_err(|e| setup(e.to_string()))?;
                Some(Box::new(queue) as Box<dyn Sink>)
            }
            None => None,
        };
        Ok((sinks, dead_letter))
    }
}

/// What this run's workers know about a source's backfill windows.
#[derive(Default)]
struct Claims {
    /// Per backfill (by id), the index of the next window to consider.
    cursor: std::collections::HashMap<u64, u64>,
    /// Keys of windows finished when the run first looked.
    finished: Option<HashSet<String>>,
}

/// A pipeline's sinks and its dead-letter queue, if any.
type SinkSet = (Vec<Box<dyn Sink>>, Option<Box<dyn Sink>>);

/// A run that failed before it could start.
fn failed(source: &SourceConfig, error: RunError) -> RunReport {
    RunReport {
        source: source.name.clone(),
        error: Some(error),
        ..RunReport::default()
    }
}

/// One report for the source from the reports of its pipelines: counts add up; the tail's
/// high-water time and skip reason stand for the source; the first error is the run's.
fn merge(source: &str, reports: Vec<RunReport>, tail: bool) -> RunReport {
    let mut total = RunReport {
        source: source.to_string(),
        ..RunReport::default()
    };
    let worked_windows = reports
        .iter()
        .skip(usize::from(tail))
        .any(|r| r.skipped.is_none());
    for (i, report) in reports.into_iter().enumerate() {
        let is_tail = tail && i == 0;
        total.events += report.events;
        total.duplicates_dropped += report.duplicates_dropped;
        total.late_events += report.late_events;
        total.out_of_window += report.out_of_window;
        total.out_of_range += report.out_of_range;
        total.relists += report.relists;
        total.pages += report.pages;
        total.stages.add(&report.stages);
        total.objects += report.objects;
        total.bytes += report.bytes;
        total.dead_lettered += report.dead_lettered;
        total.transform_dropped += report.transform_dropped;
        total.transform_failed += report.transform_failed;
        for tally in report.steps {
            super::transforms::add(&mut total.steps, tally);
        }
        total.refused_events += report.refused_events;
        for tally in report.sinks {
            super::refusals::add(&mut total.sinks, tally);
        }
        total.more_pending |= report.more_pending;
        if total.error.is_none() {
            total.error = report.error;
        }
        if is_tail {
            total.high_water = report.high_water;
            total.canary = report.canary;
            if !worked_windows {
                total.skipped = report.skipped;
            }
        }
    }
    total
}
