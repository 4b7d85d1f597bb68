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
mod local;
mod records;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use backend::{Condition, Found, Objects, PutError};
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
    /// Opens the store the config names: checks its marker (refusing a newer format), checks
    /// that the store enforces conditional writes, and marks a new store.
    pub async fn open(config: &ObjectStateConfig) -> Result<Self, StateError> {
        Self::open_with(config, true).await
    }

    /// Opens the store to read it only (`sluice status`, `sluice state show`): the marker is
    /// checked but nothing is written, so read-only credentials suffice.
    pub async fn open_read_only(config: &ObjectStateConfig) -> Result<Self, StateError> {
        Self::open_with(config, false).await
    }

    async fn open_with(config: &ObjectStateConfig, writable: bool) -> Result<Self, StateError> {
        let fail = |detail: String| StateError::Backend {
            location: config.url.clone(),
            detail,
        };
        let objects: Box<dyn Objects> = match config.location().map_err(&fail)? {
            StoreLocation::Directory(dir) => {
                Box::new(local::Directory::open(&dir).map_err(|err| put_error(&config.url, err))?)
            }
            StoreLocation::Store {
                scheme,
                bucket,
                prefix,
            } => {
                let store = crate::cloud::connect(scheme, &bucket, &config.options()).map_err(|e| {
                    fail(format!("cannot set up the client: {e} (hint: check the url, endpoint, region and the store's credentials in the environment)"))
                })?;
                Box::new(backend::Bucket::new(store, &prefix, &config.url))
            }
        };
        Self::open_objects(objects, config.url.clone(), writable).await
    }

    /// A store over objects in memory (for tests of code that needs a store).
    pub async fn in_memory() -> Result<Self, StateError> {
        let memory = std::sync::Arc::new(object_store::memory::InMemory::new());
        let objects = Box::new(backend::Bucket::new(memory, "", "memory://state"));
        Self::open_objects(objects, "memory://state/".into(), true).await
    }

    async fn open_objects(
        objects: Box<dyn Objects>,
        location: String,
        writable: bool,
    ) -> Result<Self, StateError> {
        let mut store = ObjectStateStore {
            objects,
            location,
            id: String::new(),
        };
        // The marker is read before anything is written: a newer store is left untouched.
        let marker = store
            .read_versioned::<Marker>("(store marker)", MARKER)
            .await?;
        if !writable {
            store.id = marker.and_then(|(m, _)| m.id).unwrap_or_default();
            return Ok(store);
        }
        backend::probe(&*store.objects)
            .await
            .map_err(|err| put_error(&store.location, err))?;
        store.id = store.mark(marker).await?;
        Ok(store)
    }

    /// Makes sure the marker exists and holds a store id (a new store's, or one added to a
    /// store made before ids), and returns the id. A race with another process doing the
    /// same is lost gracefully: its id is read back and used.
    async fn mark(&self, mut marker: Option<(Marker, Found)>) -> Result<String, StateError> {
        for _ in 0..ATTEMPTS {
            let (doc, condition) = match &marker {
                Some((existing, _)) if existing.id.is_some() => {
                    return Ok(existing.id.clone().unwrap_or_default())
                }
                Some((existing, found)) => (
                    Marker {
                        format: existing.format,
                        created_at: existing.created_at,
                        id: Some(super::new_store_id()),
                    },
                    Condition::Match(&found.version),
                ),
                None => (
                    Marker {
                        format: FORMAT,
                        created_at: Utc::now(),
                        id: Some(super::new_store_id()),
                    },
                    Condition::Create,
                ),
            };
            let bytes = encode("(store marker)", &doc)?;
            match self.objects.put(MARKER, bytes, condition).await {
                Ok(()) => return Ok(doc.id.unwrap_or_default()),
                // Lost: another process marked it first; use what it wrote.
                Err(PutError::Lost) => {}
                Err(err) => return Err(put_error(&self.location, err)),
            }
            marker = self
                .read_versioned::<Marker>("(store marker)", MARKER)
                .await?;
        }
        Err(self.busy("(store marker)", "marker"))
    }

    /// Where the store is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn backend(&self, detail: impl Into<String>) -> StateError {
        StateError::Backend {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    /// Reads and decodes `name` (the document of `key`), with its version.
    async fn read_versioned<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<(T, Found)>, StateError> {
        let found = self.objects.get(name).await.map_err(|e| {
            self.backend(format!(
                "cannot read {}: {e} (hint: check the credentials' permissions and that the endpoint is reachable)",
                self.objects.url_of(name)
            ))
        })?;
        match found {
            None => Ok(None),
            Some(found) => {
                let doc = decode(key, &self.objects.url_of(name), &found.bytes)?;
                Ok(Some((doc, found)))
            }
        }
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        Ok(self.read_versioned(key, name).await?.map(|(doc, _)| doc))
    }

    /// Writes `doc` at `name` if the object is still as read (`read` is `None`: absent).
    /// `Ok(false)`: the race was lost, nothing was written.
    async fn write<T: serde::Serialize>(
        &self,
        key: &str,
        name: &str,
        doc: &T,
        read: Option<&Found>,
    ) -> Result<bool, StateError> {
        let condition = match read {
            None => Condition::Create,
            Some(found) => Condition::Match(&found.version),
        };
        match self.objects.put(name, encode(key, doc)?, condition).await {
            Ok(()) => Ok(true),
            Err(PutError::Lost) => Ok(false),
            Err(PutError::DiskFull(detail)) => Err(put_error(&self.location, PutError::DiskFull(detail))),
            Err(PutError::Failed(e)) => Err(self.backend(format!(
                "cannot write {}: {e} (hint: check the credentials' permissions and that the endpoint is reachable)",
                self.objects.url_of(name)
            ))),
        }
    }

    fn checkpoint_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("checkpoints/{}.json", self.checked(key)?))
    }

    fn lease_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("leases/{}.json", self.checked(key)?))
    }

    fn runs_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("runs/{}.json", self.checked(key)?))
    }

    /// Keys become object names: only characters that are the same in every store's keys
    /// and every file system (source names and window keys use no others).
    fn checked<'k>(&self, key: &'k str) -> Result<&'k str, StateError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_@.:".contains(c);
        if key.is_empty() || key.starts_with('.') || !key.chars().all(allowed) {
            return Err(self.backend(format!(
                "state key `{key}` cannot be an object name (hint: source names use letters, digits, '-' and '_' only)"
            )));
        }
        Ok(key)
    }

    /// The checkpoint document of `key` and its version; an empty one if none is stored.
    async fn doc(&self, key: &str) -> Result<(CheckpointDoc, Option<Found>), StateError> {
        let name = self.checkpoint_name(key)?;
        Ok(
            match self.read_versioned::<CheckpointDoc>(key, &name).await? {
                Some((doc, found)) => (doc, Some(found)),
                None => (CheckpointDoc::empty(key), None),
            },
        )
    }

    /// The conditional write of a checkpoint document behind prepare, commit and replace:
    /// the stored fence must be `fence` and the stored seq `expected`, on the very version
    /// that is replaced. A lost race is re-read only to say what changed, never retried.
    async fn write_checkpoint(
        &self,
        key: &str,
        fence: u64,
        expected: u64,
        change: impl Fn(&mut CheckpointDoc),
    ) -> Result<(), StateError> {
        let name = self.checkpoint_name(key)?;
        let (mut doc, found) = self.doc(key).await?;
        check(key, &doc, fence, expected)?;
        change(&mut doc);
        doc.format = FORMAT;
        doc.updated_at = Utc::now();
        if self.write(key, &name, &doc, found.as_ref()).await? {
            return Ok(());
        }
        let (now, _) = self.doc(key).await?;
        check(key, &now, fence, expected)?;
        // Same fence and seq: another writer with our token prepared or imported meanwhile.
        Err(StateError::Conflict {
            source_name: key.to_string(),
            expected,
            found: now.seq(),
        })
    }

    /// Makes the checkpoint document's fence `token` (a new holder's), so writers with an
    /// older token are refused from now on.
    async fn move_fence(&self, key: &str, token: u64) -> Result<(), StateError> {
        let name = self.checkpoint_name(key)?;
        for _ in 0..ATTEMPTS {
            let (mut doc, found) = self.doc(key).await?;
            if doc.fence == token {
                return Ok(());
            }
            if doc.fence > token {
                // A later holder moved it: our lease was taken over already.
                return Err(StateError::Fenced {
                    source_name: key.to_string(),
                    held: token,
                    current: doc.fence,
                });
            }
            doc.fence = token;
            doc.format = FORMAT;
            doc.updated_at = Utc::now();
            if self.write(key, &name, &doc, found.as_ref()).await? {
                return Ok(());
            }
        }
        Err(self.busy(key, "checkpoint"))
    }

    fn busy(&self, key: &str, what: &str) -> StateError {
        self.backend(format!(
            "the {what} object of `{key}` kept changing while {ATTEMPTS} writes were tried; another process writes it in a loop (hint: run only one sluice per source)"
        ))
    }

    /// Reads `incidents.json`, lets `change` edit it (it says whether it changed anything),
    /// and writes it back if it is still as read, reading anew after a lost race.
    async fn change_incidents(
        &self,
        mut change: impl FnMut(&mut IncidentsDoc) -> bool,
    ) -> Result<(), StateError> {
        for _ in 0..ATTEMPTS {
            let current = self
                .read_versioned::<IncidentsDoc>("incidents", INCIDENTS)
                .await?;
            let (mut doc, found) = match current {
                Some((doc, found)) => (doc, Some(found)),
                None => (IncidentsDoc::default(), None),
            };
            if !change(&mut doc) {
                return Ok(());
            }
            doc.format = FORMAT;
            if self
                .write("incidents", INCIDENTS, &doc, found.as_ref())
                .await?
            {
                return Ok(());
            }
        }
        Err(self.busy("incidents", "incidents"))
    }

    /// The keys with an object under `dir` (`checkpoints/`, `runs/`).
    async fn keys_in(&self, dir: &str) -> Result<Vec<String>, StateError> {
        let names = self.objects.list(dir).await.map_err(|e| {
            self.backend(format!(
                "cannot list {}: {e} (hint: the credentials need permission to list the bucket)",
                self.objects.url_of(dir)
            ))
        })?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect())
    }
}

/// The document allows a write by the holder of `fence` that builds on seq `expected`.
/// A failed write as a state error: a full disk is [`StateError::DiskFull`] (reported at
/// once; waiting does not free space), anything else [`StateError::Backend`].
fn put_error(location: &str, err: PutError) -> StateError {
    match err {
        PutError::DiskFull(detail) => StateError::DiskFull {
            location: location.to_string(),
            detail,
        },
        other => StateError::Backend {
            location: location.to_string(),
            detail: other.to_string(),
        },
    }
}

fn check(key: &str, doc: &CheckpointDoc, fence: u64, expected: u64) -> Result<(), StateError> {
    if doc.fence != fence {
        return Err(StateError::Fenced {
            source_name: key.to_string(),
            held: fence,
            current: doc.fence,
        });
    }
    if doc.seq() != expected {
        return Err(StateError::Conflict {
            source_name: key.to_string(),
            expected,
            found: doc.seq(),
        });
    }
    Ok(())
}

/// Lease expiries are kept to the millisecond, as in the SQL stores.
fn expiry(ttl: Duration) -> DateTime<Utc> {
    let at = Utc::now() + ttl.min(crate::state::MAX_LEASE_TTL);
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
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
