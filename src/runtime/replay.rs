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
//! are not sent; the sink's and the source's transform chains are not run again (lake
//! events already went through the source's).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::sink::config::{LakeConfig, SinkConfig};
use crate::sink::lake::replay::{objects_in_range, ObjectEvents};
use crate::sink::Sink;
use crate::state::{Lease, PageRef, StateStore};
use crate::transform::Envelope;

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
) -> Result<ReplayOutcome, String> {
    let key = replay_key(request.source, request.sink.name());
    let ttl = crate::state::DEFAULT_LEASE_TTL;
    let lease = super::side_lease::take(store, &key, holder, ttl).await?;
    let mut run = Run {
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
    result.map(|()| run.outcome)
}

struct Run<'s> {
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
    ) -> Result<(), String> {
        let state = self
            .store
            .load(&self.key)
            .await
            .map_err(|e| e.to_string())?;
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
                    return Err(format!(
                        "a replay of source `{}` from lake `{}` to sink `{}` over [{}, {}) is in progress ({} events sent, state key `{}`); it resumes only with the same --from, --to and lake (hint: run it again with those, or pass --restart to start this one instead)",
                        request.source,
                        saved.lake,
                        request.sink.name(),
                        crate::timefmt::rfc3339_millis(saved.from),
                        crate::timefmt::rfc3339_millis(saved.to),
                        saved.events,
                        self.key
                    ));
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
        .await
        .map_err(|e| e.to_string())?;
        let mut sink = crate::sink::build_for_key(request.sink, request.source, &self.key)
            .map_err(|e| e.to_string())?;
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
            let Some(mut events) = ObjectEvents::open(request.lake, &entry.key)
                .await
                .map_err(|e| e.to_string())?
            else {
                return Err(format!(
                    "sink `{}`: {} is listed in the ledger and not in the lake; nothing past it was sent (hint: `sluice lake verify --source {}` says what else is missing)",
                    request.lake.name, entry.key, request.source
                ));
            };
            while let Some(event) = events.next_event().map_err(|e| e.to_string())? {
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
                    self.deliver(sink.as_mut(), &mut batch, &mut position, &mut checkpoint)
                        .await?;
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                }
            }
            self.outcome.objects += 1;
        }
        position.finished = true;
        self.deliver(sink.as_mut(), &mut batch, &mut position, &mut checkpoint)
            .await?;
        self.outcome.finished = true;
        Ok(())
    }

    /// Sends `batch` through the sink and commits `position` past it.
    async fn deliver(
        &mut self,
        sink: &mut dyn Sink,
        batch: &mut Vec<Envelope>,
        position: &mut Position,
        checkpoint: &mut crate::state::Checkpoint,
    ) -> Result<(), String> {
        let name = format!("replay-{:010}", checkpoint.seq);
        let count = batch.len() as u64;
        let newest = batch.iter().map(|e| e.event_time.0).max();
        if !batch.is_empty() {
            sink.write(batch).await.map_err(|e| e.to_string())?;
            super::progress::staged(&self.label, count);
            if let Some(payload) = sink.prepare(&name).await.map_err(|e| e.to_string())? {
                sink.publish(&payload).await.map_err(|e| e.to_string())?;
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
        batch.clear();
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
            .await
            .map_err(|e| e.to_string())?;
        *checkpoint = next;
        self.outcome.events += count;
        self.outcome.total = position.events;
        super::progress::committed(&self.label, count, newest);
        Ok(())
    }

    /// Renews the lease once a third of it has passed.
    async fn keep_lease(&mut self) -> Result<(), String> {
        if self.renewed.elapsed() < self.ttl / 3 {
            return Ok(());
        }
        self.lease = self
            .store
            .renew_lease(&self.lease, self.ttl)
            .await
            .map_err(|e| e.to_string())?;
        self.renewed = Instant::now();
        Ok(())
    }
}
