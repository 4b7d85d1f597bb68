//! State in a bucket: checkpoints and leases as small JSON objects in S3, GCS, Azure Blob
//! Storage or a local directory, for scheduled containers and functions that have no disk
//! and no database.
//!
//! ## Layout (under the configured prefix)
//!
//! | object | holds |
//! |---|---|
//! | `sluice-state.json` | the store marker: the format version that wrote the store, and the store id |
//! | `checkpoints/<key>.json` | the key's checkpoint, its commit in flight (intent) and its *fence* |
//! | `leases/<key>.json` | the lease: holder, expiry, fencing token |
//! | `runs/<key>.json` | the latest 100 runs, for `sluice status` |
//! | `incidents.json` | the open alert incidents (few: one per alert and failing source) |
//!
//! Keys are source names and backfill windows (`okta@20231114T220000.000Z`); every document
//! carries a `format` version.
//!
//! ## Every write is conditional
//!
//! A writer reads an object with its version (ETag or generation) and writes it back only if
//! that version is still current (`If-Match`), or creates it only if absent
//! (`If-None-Match: *`). A lost race is never merged: a prepare or commit that loses one is
//! refused as [`StateError::Conflict`] (or [`StateError::Fenced`] when the fence moved), and
//! the run stops without moving the checkpoint. At open, a scratch object checks that the
//! store really enforces both conditions; a store that ignores them is refused.
//!
//! ## Fencing without a check-then-write race
//!
//! The lease and the checkpoint are two objects, and no store writes two objects atomically:
//! checking the lease, then writing the checkpoint, would let a worker whose lease was taken
//! over in between commit anyway. So the fence lives in the checkpoint document itself:
//!
//! 1. A worker takes the lease with a create-only write (first lease, token 1) or a
//!    conditional update (its own lease, or an expired one, which gets the next token).
//! 2. When the lease changes holder, the new holder writes the new token into the
//!    checkpoint document's `fence`, conditionally, before `acquire_lease` returns. From that
//!    write on, the old holder is fenced.
//! 3. Every prepare and commit is one conditional write of the checkpoint document that also
//!    requires `fence == the writer's token` and the expected seq, checked on the very version
//!    it replaces. A writer whose token is no longer the fence is refused
//!    ([`StateError::Fenced`]); if the fence moves between its read and its write, the write
//!    itself fails on the version.
//!
//! Lease expiry is judged by the clock of the worker that wants the lease (object stores have
//! no server-side clock to compare with); skew between machines only makes a lease last
//! longer or shorter. Safety does not depend on clocks: a worker paused past its lease finds
//! its commits refused once the new holder has moved the fence.
//!
//! `file://` stores use `local.rs`, which implements the same conditions with a lock file, a
//! content digest as version, and an atomic rename.

mod backend;
mod io;
mod local;
mod open;
mod records;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use backend::{Condition, Found, Objects, PutError};
use io::{expiry, put_error};
use records::{decode, encode, CheckpointDoc, IncidentsDoc, LeaseDoc, Marker, RunsDoc, FORMAT};

use super::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};
use crate::cloud::StoreLocation;
use crate::state::config::ObjectStateConfig;

/// Runs kept per key (as in the SQL stores).
const RUNS_KEPT: usize = 100;

/// How often a write that lost a race to a harmless concurrent change (a lease renewal, a
/// fence move by our own acquire, another run's history line) is tried again after reading
/// anew. Checkpoint writes are never retried: a lost race there is a conflict.
const ATTEMPTS: usize = 20;

const MARKER: &str = "sluice-state.json";

/// The one object that holds every open incident.
const INCIDENTS: &str = "incidents.json";

/// A [`StateStore`] in an object store or a local directory.
pub struct ObjectStateStore {
    objects: Box<dyn Objects>,
    /// The configured URL, for messages.
    location: String,
    /// See [`StateStore::store_id`]; empty when opened to read a store made before ids.
    id: String,
}

impl ObjectStateStore {
    /// Where the store is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }
}

#[async_trait]
impl StateStore for ObjectStateStore {
    fn store_id(&self) -> &str {
        &self.id
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        let (doc, _) = self.doc(source).await?;
        Ok(SourceState {
            checkpoint: doc.checkpoint.unwrap_or_default(),
            intent: doc.intent,
        })
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        self.write_checkpoint(source, fence, intent.base_seq, |doc| {
            doc.intent = Some(intent.clone());
        })
        .await
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        let expected = next.seq.saturating_sub(1);
        self.write_checkpoint(source, fence, expected, |doc| {
            doc.checkpoint = Some(next.clone());
            doc.intent = None;
        })
        .await
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        self.write_checkpoint(key, fence, expected_seq, |doc| {
            doc.checkpoint = Some(checkpoint.clone());
            doc.intent = None;
        })
        .await
    }

    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        let name = self.lease_name(source)?;
        for _ in 0..ATTEMPTS {
            let current = self.read_versioned::<LeaseDoc>(source, &name).await?;
            let token = match &current {
                Some((lease, _)) if lease.holder == holder => lease.token,
                Some((lease, _)) if lease.expires_at > Utc::now() => {
                    return Ok(LeaseOutcome::HeldBy {
                        holder: lease.holder.clone(),
                        token: lease.token,
                        until: lease.expires_at,
                    });
                }
                Some((lease, _)) => lease.token + 1,
                // A first lease; past any fence already recorded (a lease object removed by
                // hand must not hand out a token that was used).
                None => self.doc(source).await?.0.fence + 1,
            };
            let lease = LeaseDoc {
                format: FORMAT,
                holder: holder.to_string(),
                token,
                expires_at: expiry(ttl),
            };
            if !self
                .write(source, &name, &lease, current.as_ref().map(|(_, f)| f))
                .await?
            {
                continue;
            }
            self.move_fence(source, token).await?;
            return Ok(LeaseOutcome::Acquired(Lease {
                source: source.to_string(),
                holder: lease.holder,
                token,
                expires_at: lease.expires_at,
            }));
        }
        Err(self.busy(source, "lease"))
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        let name = self.lease_name(&lease.source)?;
        for _ in 0..ATTEMPTS {
            let current = self
                .read_versioned::<LeaseDoc>(&lease.source, &name)
                .await?;
            let Some((mut stored, found)) = current.filter(|(l, _)| l.token == lease.token) else {
                let current = self
                    .read::<LeaseDoc>(&lease.source, &name)
                    .await?
                    .map_or(0, |l| l.token);
                return Err(StateError::Fenced {
                    source_name: lease.source.clone(),
                    held: lease.token,
                    current,
                });
            };
            stored.expires_at = expiry(ttl);
            stored.format = FORMAT;
            if self
                .write(&lease.source, &name, &stored, Some(&found))
                .await?
            {
                return Ok(Lease {
                    expires_at: stored.expires_at,
                    ..lease.clone()
                });
            }
        }
        Err(self.busy(&lease.source, "lease"))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        let name = self.lease_name(&lease.source)?;
        for _ in 0..ATTEMPTS {
            let current = self
                .read_versioned::<LeaseDoc>(&lease.source, &name)
                .await?;
            let Some((mut stored, found)) = current.filter(|(l, _)| l.token == lease.token) else {
                // Not ours any more: nothing to give up.
                return Ok(());
            };
            // The token stays: the next holder gets a larger one.
            stored.expires_at = DateTime::UNIX_EPOCH;
            if self
                .write(&lease.source, &name, &stored, Some(&found))
                .await?
            {
                return Ok(());
            }
        }
        Err(self.busy(&lease.source, "lease"))
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        let name = self.runs_name(&run.source)?;
        for _ in 0..ATTEMPTS {
            let current = self.read_versioned::<RunsDoc>(&run.source, &name).await?;
            let (mut doc, found) = match current {
                Some((doc, found)) => (doc, Some(found)),
                None => (RunsDoc::default(), None),
            };
            doc.format = FORMAT;
            doc.runs.push(run.clone());
            let excess = doc.runs.len().saturating_sub(RUNS_KEPT);
            doc.runs.drain(..excess);
            if self.write(&run.source, &name, &doc, found.as_ref()).await? {
                return Ok(());
            }
        }
        Err(self.busy(&run.source, "run history"))
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let name = self.runs_name(source)?;
        let doc = self
            .read::<RunsDoc>(source, &name)
            .await?
            .unwrap_or_default();
        Ok(doc.runs.into_iter().rev().take(limit).collect())
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        let mut keys = self.keys_in("checkpoints/").await?;
        let with_runs = self.keys_in("runs/").await?;
        keys.extend(with_runs.iter().cloned());
        keys.sort();
        keys.dedup();
        let mut statuses = Vec::new();
        for key in keys {
            let (doc, _) = self.doc(&key).await?;
            let runs = if with_runs.contains(&key) {
                self.read::<RunsDoc>(&key, &self.runs_name(&key)?)
                    .await?
                    .unwrap_or_default()
                    .runs
            } else {
                Vec::new()
            };
            if !doc.has_state() && runs.is_empty() {
                // Only a fence so far: a lease was taken, nothing committed or run.
                continue;
            }
            statuses.push(SourceStatus {
                source: key,
                commit_in_flight: doc.intent.is_some(),
                checkpoint: doc.checkpoint.unwrap_or_default(),
                last_error: runs.iter().rev().find(|r| r.error.is_some()).cloned(),
                last_run: runs.last().cloned(),
            });
        }
        Ok(statuses)
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        let mut keys: Vec<String> = self
            .keys_in("checkpoints/")
            .await?
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        let mut found = Vec::new();
        for key in keys {
            let (doc, _) = self.doc(&key).await?;
            if doc.has_state() {
                found.push((key, doc.checkpoint.unwrap_or_default()));
            }
        }
        Ok(found)
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        let doc = self
            .read::<IncidentsDoc>("incidents", INCIDENTS)
            .await?
            .unwrap_or_default();
        let mut incidents = doc.incidents;
        incidents.sort_by(|a, b| (&a.alert, &a.source).cmp(&(&b.alert, &b.source)));
        Ok(incidents)
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        let same = |i: &Incident| i.alert == incident.alert && i.source == incident.source;
        let mut outcome = false;
        self.change_incidents(|doc| match doc.incidents.iter().find(|i| same(i)) {
            // Ours if a retried call had recorded it (same opening time).
            Some(stored) => {
                outcome = stored.opened_at == incident.opened_at;
                false
            }
            None => {
                doc.incidents.push(incident.clone());
                outcome = true;
                true
            }
        })
        .await?;
        Ok(outcome)
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        self.change_incidents(|doc| {
            let stored = doc
                .incidents
                .iter_mut()
                .find(|i| i.alert == incident.alert && i.source == incident.source);
            match stored {
                Some(stored) => {
                    *stored = incident.clone();
                    true
                }
                None => false,
            }
        })
        .await
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        let mut closed = false;
        self.change_incidents(|doc| {
            let before = doc.incidents.len();
            doc.incidents
                .retain(|i| !(i.alert == alert && i.source == source));
            closed = doc.incidents.len() < before;
            closed
        })
        .await?;
        Ok(closed)
    }
}

#[cfg(test)]
mod tests;
