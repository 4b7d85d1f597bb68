//! `sluice lake replay`: a source's events of a time range, read back from a lake sink and
//! delivered to another sink (a SIEM that was down), with a checkpoint of its own.
//!
//! The checkpoint is state key `<source>@replay-<sink>`, never the source's: a replay leaves
//! the source's runs and their positions alone. Its position is an object key and the lines
//! of it delivered; objects are taken in key order (partition time, then batch) from the
//! manifest ledger (`sink::lake::replay`). Events go out in batches through the sink's
//! usual write → prepare → publish, and the position is committed after each publish, so:
//! - a `kill -9` between a publish and its commit sends that batch again on resume: at least
//!   once on HEC and HTTP, exactly once on Elasticsearch (documents are created with the
//!   event id as `_id`, so a second copy is refused as a duplicate);
//! - a replay resumes only with the same range and lake (anything else is refused unless
//!   `--restart`), and a finished one does nothing until asked to `--restart`.
//!
//! Objects committed to the lake after the replay started, in partitions it has passed,
//! are not sent. The target sink's own chain (`[[sinks.transforms]]`) runs on every
//! replayed event, as it does live: an event it drops is counted and not sent, one it fails
//! on goes to the dead-letter queue (in the batch's commit; a kill between the two may keep
//! it twice, as the batch may be sent twice) or, without a queue, is counted. The source's
//! chain is not run again: lake events already went through it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::pipeline::RunReport;
use super::transforms::StepTally;
use crate::config::{DeadLetterConfig, StepConfig};
use crate::sink::config::{LakeConfig, SinkConfig};
use crate::sink::lake::replay::{objects_in_range, ObjectEvents};
use crate::sink::{Sink, SinkError};
use crate::state::{Lease, PageRef, StateError, StateStore};
use crate::transform::{Chain, Envelope};

/// Why a replay stopped; every message names the sink, object or state key and says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The lease on `<source>@replay-<sink>` (another replay runs, or the store refused).
    #[error("{0}")]
    Lease(String),
    /// The state store.
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading the lake, or delivering to the sink or the dead-letter queue.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Another range of this source to this sink is half done.
    #[error(transparent)]
    InProgress(Box<InProgress>),
    /// An object the ledger lists is not in the lake.
    #[error("sink `{lake}`: {key} is listed in the ledger and not in the lake; nothing past it was sent (hint: `sluice lake verify --source {source_name}` says what else is missing)")]
    ObjectMissing {
        /// The lake sink.
        lake: String,
        /// The object's key.
        key: String,
        /// The source.
        source_name: String,
    },
    /// The sink's transform chain or the dead-letter queue cannot be set up (the loader's
    /// checks make this unlikely).
    #[error("{0}")]
    Setup(String),
}

/// A replay of another range (or lake) of this source to this sink is half done.
#[derive(Debug, thiserror::Error)]
#[error("a replay of source `{source_name}` from lake `{lake}` to sink `{sink}` over [{from}, {to}) is in progress ({events} events sent, state key `{key}`); it resumes only with the same --from, --to and lake (hint: run it again with those, or pass --restart to start this one instead)")]
pub struct InProgress {
    /// The source.
    pub source_name: String,
    /// The lake the replay in progress reads.
    pub lake: String,
    /// The sink.
    pub sink: String,
    /// Its range's start, RFC 3339.
    pub from: String,
    /// Its range's end, RFC 3339.
    pub to: String,
    /// Events it sent so far.
    pub events: u64,
    /// The state key.
    pub key: String,
}

/// What to replay, from where, to where.
pub struct ReplayRequest<'a> {
    /// The source whose events are replayed.
    pub source: &'a str,
    /// Events at or after this time.
    pub from: DateTime<Utc>,
    /// Events before this time.
    pub to: DateTime<Utc>,
    /// The lake sink read.
    pub lake: &'a LakeConfig,
    /// The sink delivered to.
    pub sink: &'a SinkConfig,
    /// Start over even if a replay of this source to this sink is in progress or done.
    pub restart: bool,
    /// Events per batch (the sink may ask to commit sooner).
    pub batch_events: usize,
    /// The sink's own transform chain (`[[sinks.transforms]]`), run on every event.
    pub transforms: &'a [StepConfig],
    /// The dead-letter queue, for events a step of that chain fails on.
    pub dead_letter: Option<&'a DeadLetterConfig>,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Events delivered by this run.
    pub events: u64,
    /// Events delivered by this replay so far, over every run.
    pub total: u64,
    /// Objects read to their end by this run.
    pub objects: u64,
    /// Events the sink refused for good, with the first reasons.
    pub refused: u64,
    /// Its first few refusals: event id and reason.
    pub refusals: Vec<String>,
    /// Events the sink's chain dropped (not sent), by this run.
    pub dropped: u64,
    /// Events a step of the sink's chain failed on, by this run.
    pub failed: u64,
    /// Of those, the ones kept in the dead-letter queue.
    pub dead_lettered: u64,
    /// What each step of the sink's chain dropped or failed on, by this run.
    pub steps: Vec<StepTally>,
    /// The replay had already finished: nothing was sent.
    pub already_done: bool,
    /// Every object of the range was delivered.
    pub finished: bool,
}

/// Where a replay is, kept as the checkpoint's page reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lake: String,
    /// Every object before this key is delivered, and `line` lines of it.
    object: Option<String>,
    line: u64,
    /// Events delivered so far.
    events: u64,
    finished: bool,
}

/// The state key of replays of `source` to `sink`.
pub fn replay_key(source: &str, sink: &str) -> String {
    format!(
        "{source}{}replay-{sink}",
        crate::state::WINDOW_KEY_SEPARATOR
    )
}

/// The name progress is shown under.
fn label(request: &ReplayRequest<'_>) -> String {
    format!("{} (replay to {})", request.source, request.sink.name())
}

/// Runs (or resumes) a replay until it is done or `stop` is cancelled (then after the batch
/// in flight commits). Errors name the sink, object or state key and what to do.
pub async fn replay(
    store: &dyn StateStore,
    request: &ReplayRequest<'_>,
    holder: &str,
    stop: &CancellationToken,
) -> Result<ReplayOutcome, ReplayError> {
    let key = replay_key(request.source, request.sink.name());
    let chain = Chain::build(request.transforms, Some(request.sink.name())).map_err(|p| {
        ReplayError::Setup(format!(
            "sink `{}`.transforms[{}].{}: {} (hint: {})",
            request.sink.name(),
            p.step,
            p.field,
            p.message,
            p.hint
        ))
    })?;
    let ttl = crate::state::DEFAULT_LEASE_TTL;
    let lease = super::side_lease::take(store, &key, holder, ttl)
        .await
        .map_err(ReplayError::Lease)?;
    let mut run = Run {
        chain,
        report: RunReport::default(),
        queue: None,
        store,
        key,
        lease,
        renewed: Instant::now(),
        ttl,
        label: label(request),
        outcome: ReplayOutcome::default(),
    };
    let result = run.replay(request, stop).await;
    // The lease lapses anyway; releasing only lets the next run start at once.
    let _ = store.release_lease(&run.lease).await;
    if run.report.transform_failed > 0 {
        super::transforms::warn_failures(request.source, &run.report.steps, run.queue.is_some());
    }
    let mut outcome = run.outcome;
    outcome.dropped = run.report.transform_dropped;
    outcome.failed = run.report.transform_failed;
    outcome.dead_lettered = run.report.dead_lettered;
    outcome.steps = run.report.steps;
    result.map(|()| outcome)
}

struct Run<'s> {
    /// The target sink's chain.
    chain: Chain,
    /// What the chain dropped and failed on, and the letters kept.
    report: RunReport,
    /// The dead-letter queue, opened at the first letter.
    queue: Option<Box<dyn Sink>>,
    store: &'s dyn StateStore,
    key: String,
    lease: Lease,
    renewed: Instant,
    ttl: Duration,
    label: String,
    outcome: ReplayOutcome,
}

impl Run<'_> {
    async fn replay(
        &mut self,
        request: &ReplayRequest<'_>,
        stop: &CancellationToken,
    ) -> Result<(), ReplayError> {
        let state = self.store.load(&self.key).await?;
        let fresh = Position {
            from: request.from,
            to: request.to,
            lake: request.lake.name.clone(),
            object: None,
            line: 0,
            events: 0,
            finished: false,
        };
        let saved = match &state.checkpoint.page {
            Some(PageRef::Token(token)) => serde_json::from_str::<Position>(token).ok(),
            _ => None,
        };
        let mut position = match saved {
            Some(saved) if !request.restart => {
                let same =
                    saved.from == fresh.from && saved.to == fresh.to && saved.lake == fresh.lake;
                if same && saved.finished {
                    self.outcome.already_done = true;
                    self.outcome.finished = true;
                    self.outcome.total = saved.events;
                    return Ok(());
                }
                if !same && !saved.finished {
                    return Err(ReplayError::InProgress(Box::new(InProgress {
                        source_name: request.source.to_string(),
                        lake: saved.lake,
                        sink: request.sink.name().to_string(),
                        from: crate::timefmt::rfc3339_millis(saved.from),
                        to: crate::timefmt::rfc3339_millis(saved.to),
                        events: saved.events,
                        key: self.key.clone(),
                    })));
                }
                if same {
                    saved
                } else {
                    fresh
                }
            }
            _ => fresh,
        };
        let mut checkpoint = state.checkpoint;
        let objects = objects_in_range(
            request.lake,
            request.source,
            Some(request.from),
            Some(request.to),
        )
        .await?;
        let mut sink = crate::sink::build_for_key(request.sink, request.source, &self.key)?;
        let mut batch: Vec<Envelope> = Vec::new();
        for entry in objects {
            if position
                .object
                .as_ref()
                .is_some_and(|done| entry.key < *done)
            {
                continue;
            }
            let skip = match &position.object {
                Some(done) if *done == entry.key => position.line,
                _ => 0,
            };
            let Some(mut events) = ObjectEvents::open(request.lake, &entry.key).await? else {
                return Err(ReplayError::ObjectMissing {
                    lake: request.lake.name.clone(),
                    key: entry.key.clone(),
                    source_name: request.source.to_string(),
                });
            };
            while let Some(event) = events.next_event()? {
                if events.line() <= skip {
                    continue;
                }
                let time = event.event_time.0;
                if time >= request.from && time < request.to {
                    batch.push(event);
                }
                position.object = Some(entry.key.clone());
                position.line = events.line();
                if batch.len() >= request.batch_events {
                    self.deliver(
                        request,
                        sink.as_mut(),
                        &mut batch,
                        &mut position,
                        &mut checkpoint,
                    )
                    .await?;
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                }
            }
            self.outcome.objects += 1;
        }
        position.finished = true;
        self.deliver(
            request,
            sink.as_mut(),
            &mut batch,
            &mut position,
            &mut checkpoint,
        )
        .await?;
        self.outcome.finished = true;
        Ok(())
    }

    /// Runs `batch` through the sink's chain, sends what it keeps through the sink (and
    /// what it failed on to the dead-letter queue), and commits `position` past it.
    async fn deliver(
        &mut self,
        request: &ReplayRequest<'_>,
        sink: &mut dyn Sink,
        batch: &mut Vec<Envelope>,
        position: &mut Position,
        checkpoint: &mut crate::state::Checkpoint,
    ) -> Result<(), ReplayError> {
        let name = format!("replay-{:010}", checkpoint.seq);
        let mut letters = Vec::new();
        let queued = request.dead_letter.is_some();
        let kept = super::transforms::run_chain(
            &self.chain,
            std::mem::take(batch),
            &mut self.report,
            queued.then_some(&mut letters),
            checkpoint.seq + 1,
        );
        let count = kept.len() as u64;
        let newest = kept.iter().map(|e| e.event_time.0).max();
        if !kept.is_empty() {
            sink.write(&kept).await?;
            super::progress::staged(&self.label, count);
            if let Some(payload) = sink.prepare(&name).await? {
                sink.publish(&payload).await?;
            }
            for refused in sink.take_rejected() {
                self.outcome.refused += 1;
                if self.outcome.refusals.len() < 5 {
                    self.outcome
                        .refusals
                        .push(format!("{}: {}", refused.event.event_id, refused.error));
                }
            }
        }
        if let Some(queue) = request.dead_letter.filter(|_| !letters.is_empty()) {
            self.dead_letter(request, queue, &letters, &name).await?;
        }
        position.events += count;
        self.keep_lease().await?;
        let mut next = checkpoint.clone();
        next.seq += 1;
        next.committed_at = Some(Utc::now());
        // Positions are plain strings and numbers: serializing cannot fail.
        next.page = Some(PageRef::Token(
            serde_json::to_string(&position).unwrap_or_default(),
        ));
        self.store
            .commit(&self.key, &next, self.lease.token)
            .await?;
        *checkpoint = next;
        self.outcome.events += count;
        self.outcome.total = position.events;
        super::progress::committed(&self.label, count, newest);
        Ok(())
    }

    /// Stages `letters` in the dead-letter queue and publishes them, before the position
    /// moves past their batch.
    async fn dead_letter(
        &mut self,
        request: &ReplayRequest<'_>,
        config: &DeadLetterConfig,
        letters: &[Envelope],
        batch: &str,
    ) -> Result<(), ReplayError> {
        if self.queue.is_none() {
            let lake = config
                .as_lake()
                .map_err(|e| ReplayError::Setup(e.to_string()))?;
            self.queue = Some(Box::new(crate::sink::LakeSink::for_key(
                &lake,
                request.source,
                &self.key,
            )?));
        }
        let Some(queue) = self.queue.as_mut() else {
            return Ok(());
        };
        queue.write(letters).await?;
        // A batch sent again after a kill makes its letters again, with a new time: a name
        // of their own (in time order, as ledger records sort) so they never collide with
        // the first copy's.
        let name = format!("{batch}-{:013}", Utc::now().timestamp_millis());
        if let Some(payload) = queue.prepare(&name).await? {
            queue.publish(&payload).await?;
        }
        self.report.dead_lettered += letters.len() as u64;
        Ok(())
    }

    /// Renews the lease once a third of it has passed.
    async fn keep_lease(&mut self) -> Result<(), ReplayError> {
        if self.renewed.elapsed() < self.ttl / 3 {
            return Ok(());
        }
        self.lease = self.store.renew_lease(&self.lease, self.ttl).await?;
        self.renewed = Instant::now();
        Ok(())
    }
}
