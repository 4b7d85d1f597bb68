//! The lake sink: compressed NDJSON objects, hive-partitioned by event time, in a local
//! directory or an object store.
//!
//! Layout: `<root or prefix>/<key template><batch><extension>`; with the default template
//! `source=<name>/dt=YYYY-MM-DD/hr=HH/<batch>.ndjson.gz`. One line per event: the envelope
//! `{"event_time","parse_time","source","event_id","data"}`.
//!
//! A batch is staged under `_staging/source=<name>/`, made durable by [`Sink::prepare`] and
//! moved to its final keys by [`Sink::publish`]:
//! - **local directory** (`path`, or `url = "file:///..."`; see `local.rs`): staged files are
//!   fsynced with their directory, and published by an atomic rename on the same file system;
//! - **object store** (`s3://`, `gs://`, `az://`; see `store.rs`): staged objects are streamed
//!   as multipart uploads, completed on prepare, and published by a server-side copy and a
//!   delete.
//!
//! Either way readers globbing `source=*/dt=*/hr=*/*.ndjson.gz` never see a partial object,
//! final keys are a function of the batch name, and publishing is idempotent (the next run
//! finishes a crashed publish). A published object is never replaced: publishing is
//! create-only, and finding an object at the key is only accepted when it holds the very
//! bytes being published (an earlier attempt got that far); anything else fails the commit.
//!
//! Every commit also publishes a record of its objects (SHA-256, size, events, times) to the
//! manifest ledger under `_manifest/`, first, so no object is visible without its record;
//! see `ledger.rs` and `sluice lake verify` (`verify.rs`).
//!
//! Two processes must not write the same source. On a local lake a lock file refuses the
//! second one. Object stores have no such lock: there the state store's lease on the source
//! keeps a second run out, and its fencing refuses the intent or checkpoint of a worker whose
//! lease lapsed, so a run that took over and cleaned staging never strands a commit.

pub mod config;
mod contents;
pub mod ddl;
mod encode;
pub mod heads;
mod holdings;
mod layout;
pub mod ledger;
mod local;
mod location;
mod members;
mod object_lock;
pub mod ocsf_columns;
#[cfg(feature = "parquet")]
mod parquet;
mod reader;
pub mod replay;
pub mod retention;
pub mod scan;
pub mod signing;
mod store;
pub mod verify;

use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Published, Sink, SinkError};
use crate::sink::config::LakeConfig;
use crate::transform::Envelope;
use encode::{Encoder, Output};
use layout::RenderCache;

pub use contents::{read_lake, read_lake_at, LakeContents};
pub use encode::{Compression, Format, ObjectKind};
pub use holdings::{newest_events, LakeTail};
pub use layout::{sanitize, KeyTemplate, Segment, SegmentKind, TemplateError, NULL_PARTITION};
pub use location::{parse_url, LakeLocation, LocationError, StoreScheme};
pub use object_lock::{LockMode, ObjectLock};

/// The default key template: hive partitions by source, day and hour of the event time.
pub const DEFAULT_KEY_TEMPLATE: &str = "source={source}/dt=%Y-%m-%d/hr=%H/";

/// The directory (or key prefix) under the lake root where batches are staged.
pub const STAGING_DIR: &str = "_staging";

/// The staging scope of `key`: the sanitized source, plus the window part of a window key.
fn staging_scope(source: &str, key: &str) -> String {
    match key.split_once(crate::state::WINDOW_KEY_SEPARATOR) {
        Some((_, window)) => format!(
            "{}{}{}",
            sanitize(source),
            crate::state::WINDOW_KEY_SEPARATOR,
            sanitize(window)
        ),
        None => sanitize(source),
    }
}

/// The error of a publish that found another object at its key: published objects are never
/// replaced, so the commit stays pending until the state and the lake agree again.
/// `location` is the lake's, `scope` the staging scope (a source, or a window of it).
fn overwrite_refused(sink: &str, key: &str, location: &str, scope: &str) -> SinkError {
    let source = scope
        .split(crate::state::WINDOW_KEY_SEPARATOR)
        .next()
        .unwrap_or(scope);
    SinkError {
        sink: sink.to_string(),
        detail: format!(
            "object {key} is already published in {location} with other content, and sluice never replaces a published object; the state store does not match this lake (restored from an older backup, or a second state store writing the same lake?). The checkpoint was not moved and the commit stays pending (hint: rebuild the checkpoint from the lake with `sluice state recover --from-lake --source {source} --force`)"
        ),
    }
}

/// One object of a prepared batch: where it is staged and where it goes. This is the commit
/// intent's payload, so its shape must stay readable by later versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PreparedObject {
    /// Key (or path) relative to the lake root while staged.
    staged: String,
    /// Final key relative to the lake root.
    key: String,
    /// Size in bytes.
    bytes: u64,
    /// Parts of its multipart upload, 0 when it was put whole (object stores only).
    #[serde(default, skip_serializing_if = "is_zero")]
    parts: u64,
    /// The commit's manifest ledger record rather than a lake object: published first, and
    /// not counted among the objects a run published.
    #[serde(default, skip_serializing_if = "is_false")]
    ledger: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where the sink keeps its objects.
enum Backend {
    Local(local::Local),
    Store(store::Store),
}

/// An object being written for one partition (one rendered key prefix).
struct OpenObject {
    /// The rendered key template, e.g. `source=okta/dt=2023-11-14/hr=22/`.
    partition: String,
    /// Staged key relative to the lake root.
    staged: String,
    encoder: Encoder,
    /// What its lines or rows hold.
    contents: encode::Contents,
    /// Object stores: the multipart upload, once the object outgrew one part.
    upload: Option<store::Upload>,
    /// Its events and their times, for its ledger entry.
    tally: ledger::Tally,
}

/// A [`Sink`] writing one source's events into a lake.
pub struct LakeSink {
    name: String,
    /// The source's name as it appears in keys ([`sanitize`]d).
    source: String,
    /// Whose staging area this is: the sanitized source, or `<source>@<window>` for a
    /// backfill window.
    scope: String,
    config: LakeConfig,
    backend: Backend,
    open: Vec<OpenObject>,
    batch_started: Option<Instant>,
    /// Staged objects are numbered so a batch's objects never collide before they are named.
    staged_counter: u64,
    /// Object stores: a random tag in staged names, so a process never writes over staged
    /// objects of another run that a delayed request might still be completing.
    run_tag: String,
    cache: RenderCache,
    scratch: String,
    /// Reused buffer for one event's JSON line (see `Encoder::append`).
    line: Vec<u8>,
    /// The hash of the newest record of this scope's ledger chain: `None` until read back
    /// from the lake (at the first prepare), then `Some(None)` for an empty chain.
    head: Option<Option<String>>,
    /// When the chain's head was last published to `ledger.heads`.
    heads: heads::HeadPublisher,
}

impl LakeSink {
    /// A lake sink for `source`, at the configured location.
    pub fn new(config: &LakeConfig, source: &str) -> Result<Self, SinkError> {
        Self::for_key(config, source, source)
    }

    /// A lake sink for the events of `source` worked under state key `key`: the source itself,
    /// or one of its backfill windows (see [`crate::state::window_key`]). Each key has its own
    /// staging area and lock, so windows of one source are written in parallel; batch names
    /// (from the runtime) are distinct per key, so their objects never collide.
    pub fn for_key(config: &LakeConfig, source: &str, key: &str) -> Result<Self, SinkError> {
        let scope = staging_scope(source, key);
        let backend = match config.location() {
            LakeLocation::Directory(root) => {
                Backend::Local(local::Local::open(&config.name, &root, &scope))
            }
            LakeLocation::Store { .. } => Backend::Store(store::Store::build(config)?),
        };
        let mut sink = Self::with_backend(config, source, backend);
        sink.scope = scope;
        Ok(sink)
    }

    /// A lake sink over an existing object store, under `prefix` (used by the unit tests
    /// with an in-memory store).
    #[cfg(test)]
    fn with_object_store(
        config: &LakeConfig,
        source: &str,
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        prefix: &str,
    ) -> Self {
        let backend = Backend::Store(store::Store::new(config, store, prefix));
        Self::with_backend(config, source, backend)
    }

    fn with_backend(config: &LakeConfig, source: &str, backend: Backend) -> Self {
        let run_tag: String = {
            use rand::Rng;
            let mut rng = rand::rng();
            (0..8)
                .map(|_| format!("{:02x}", rng.random::<u8>()))
                .collect()
        };
        LakeSink {
            name: config.name.clone(),
            source: sanitize(source),
            scope: sanitize(source),
            config: config.clone(),
            backend,
            open: Vec::new(),
            batch_started: None,
            staged_counter: 0,
            run_tag,
            cache: RenderCache::default(),
            scratch: String::new(),
            line: Vec::new(),
            head: None,
            heads: heads::HeadPublisher::default(),
        }
    }

    fn error(&self, detail: String) -> SinkError {
        SinkError {
            sink: self.name.clone(),
            detail,
        }
    }

    /// The index of the open object for the partition in `self.scratch`, opening one for
    /// `event` if needed.
    fn object_for_scratch(&mut self, event: &Envelope) -> Result<usize, SinkError> {
        if let Some(i) = self.open.iter().position(|o| o.partition == self.scratch) {
            return Ok(i);
        }
        self.staged_counter += 1;
        let kind = self.config.object_kind();
        let extension = kind.extension();
        let (staged, output) = match &self.backend {
            Backend::Local(local) => {
                let staged = local.staged_name(self.staged_counter, extension);
                let output = local.create(&staged)?;
                (staged, output)
            }
            Backend::Store(_) => {
                let staged = format!(
                    "{}{}-{:06}{extension}.partial",
                    store::Store::staging_rel(&self.scope),
                    self.run_tag,
                    self.staged_counter
                );
                (staged, Output::Memory(Vec::new()))
            }
        };
        // One source's events pass the same chains: the first says whether all carry OCSF.
        let contents = encode::Contents {
            payload: self.config.payload,
            ocsf: event.ocsf().is_some(),
            member: matches!(event.ocsf, crate::transform::OcsfForm::Member(_)),
        };
        let encoder = Encoder::new(kind, self.config.level(), output, contents).map_err(|e| {
            self.error(format!(
                "cannot start encoding {staged}: {e} (hint: this is a resource problem; check memory)"
            ))
        })?;
        self.open.push(OpenObject {
            partition: self.scratch.clone(),
            staged,
            encoder,
            contents,
            upload: None,
            tally: ledger::Tally::default(),
        });
        Ok(self.open.len() - 1)
    }

    fn staged_bytes(&self) -> u64 {
        self.open.iter().map(|o| o.encoder.size()).sum()
    }

    /// Object stores: sends the open object's buffered bytes as parts once a part is full.
    async fn send_full_parts(&mut self, index: usize) -> Result<(), SinkError> {
        let Backend::Store(store) = &self.backend else {
            return Ok(());
        };
        let object = &mut self.open[index];
        let Output::Memory(buffer) = &mut object.encoder.counted_mut().out else {
            return Ok(());
        };
        if !store.part_ready(buffer.len()) {
            return Ok(());
        }
        let bytes = std::mem::take(buffer);
        store
            .send_part(&object.staged, &mut object.upload, bytes)
            .await
    }

    /// Aborts the multipart uploads of objects that will not be prepared, best effort: a
    /// bucket lifecycle rule cleans up what this misses.
    async fn abort_uploads(objects: Vec<OpenObject>) {
        for object in objects {
            if let Some(upload) = object.upload {
                if let Err(err) = upload.abort().await {
                    tracing::debug!(staged = %object.staged, error = %err, "could not abort a multipart upload");
                }
            }
        }
    }

    async fn prepare_objects(
        &mut self,
        objects: &mut Vec<OpenObject>,
        batch: &str,
    ) -> Result<(Vec<PreparedObject>, Vec<ledger::LedgerEntry>), SinkError> {
        use sha2::Digest;
        let extension = self.config.object_kind().extension();
        let mut prepared = Vec::with_capacity(objects.len());
        let mut entries = Vec::with_capacity(objects.len());
        while let Some(object) = objects.pop() {
            let OpenObject {
                partition,
                staged,
                encoder,
                upload,
                tally,
                ..
            } = object;
            let counted = encoder.finish().await.map_err(|e| {
                self.error(format!(
                    "cannot finish {staged}: {e} (hint: check free space and that sluice may write there)"
                ))
            })?;
            let bytes = counted.count;
            let sha256 = ledger::hex(&counted.digest.clone().finalize());
            // Every part but the last is exactly `part_size` (see `WriteMultipart`).
            let parts = match upload {
                Some(_) => bytes.div_ceil(self.config.part_size.as_u64().max(1)),
                None => 0,
            };
            match (&self.backend, counted.out) {
                (Backend::Local(local), out) => local.seal(&staged, out)?,
                (Backend::Store(store), Output::Memory(rest)) => {
                    store.seal(&staged, upload, rest).await?;
                }
                (Backend::Store(_), Output::File(_)) => {
                    return Err(self.error(format!(
                        "internal error: {staged} was staged as a file for an object store"
                    )))
                }
            }
            let key = format!("{partition}{batch}{extension}");
            entries.push(ledger::LedgerEntry {
                key: key.clone(),
                sha256,
                bytes,
                events: tally.events,
                first_event_time: tally.first,
                last_event_time: tally.last,
            });
            prepared.push(PreparedObject {
                staged,
                key,
                bytes,
                parts,
                ledger: false,
            });
        }
        // Objects were taken from the end; keep the order they were opened in.
        prepared.reverse();
        entries.reverse();
        Ok((prepared, entries))
    }
}

#[async_trait]
impl Sink for LakeSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        self.batch_started.get_or_insert_with(Instant::now);
        for event in events {
            let rendered = self.config.key_template.render(
                &self.source,
                event,
                &mut self.cache,
                &mut self.scratch,
            );
            if let Err(err) = rendered {
                return Err(self.error(format!(
                    "event {}: {err} (hint: check key_template)",
                    event.event_id
                )));
            }
            let index = self.object_for_scratch(event)?;
            let object = &mut self.open[index];
            object.tally.add(event.event_time.0);
            let mut written = object
                .encoder
                .append(event, object.contents, &mut self.line);
            if written.is_ok() {
                // Back-pressure: compression may lag reading by a few members, no more.
                written = object.encoder.settle(members::in_flight_limit()).await;
            }
            if let Err(err) = written {
                let staged = object.staged.clone();
                return Err(self.error(format!(
                    "cannot write {staged}: {err} (hint: check free space and that sluice may write there)"
                )));
            }
            self.send_full_parts(index).await?;
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        !self.open.is_empty()
            && (self.staged_bytes() >= self.config.roll_size.as_u64()
                || self.open.len() >= self.config.max_open_partitions
                || self
                    .batch_started
                    .is_some_and(|t| t.elapsed() >= self.config.roll_age))
    }

    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        if self.open.is_empty() {
            return Ok(None);
        }
        let batch = sanitize(batch);
        let mut objects = std::mem::take(&mut self.open);
        let result = self.prepare_objects(&mut objects, &batch).await;
        // On failure the objects not yet sealed will never be: free their uploads.
        Self::abort_uploads(objects).await;
        let (mut prepared, entries) = result?;
        // Listed last (readers of the payload find the objects where they were), published
        // first (see `publish`).
        let record = self.stage_record(&batch, entries).await?;
        prepared.push(record);
        if let Backend::Local(local) = &self.backend {
            local.sync_staging()?;
        }
        self.batch_started = None;
        serde_json::to_value(&prepared)
            .map(Some)
            .map_err(|e| self.error(format!("cannot record the prepared objects: {e}")))
    }

    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        let objects: Vec<PreparedObject> = serde_json::from_value(payload.clone()).map_err(|err| {
            self.error(format!("commit intent is not a lake object list ({err}); was the sink's kind changed while a commit was in flight?"))
        })?;
        // The ledger record goes first, so no object is visible without its record.
        let (mut ordered, data): (Vec<PreparedObject>, Vec<PreparedObject>) =
            objects.into_iter().partition(|o| o.ledger);
        ordered.extend(data);
        let objects = ordered;
        let result = match &self.backend {
            Backend::Local(local) => local.publish(&objects),
            Backend::Store(store) => store.publish(&objects, &self.scope).await,
        };
        let mut published = result.map_err(|err| ledger::name_batch_objects(err, &objects))?;
        self.heads
            .after_publish(&self.config, &self.scope, &objects)
            .await;
        // Ledger records are bookkeeping, not objects of the lake's layout.
        for record in objects.iter().filter(|o| o.ledger) {
            published.objects = published.objects.saturating_sub(1);
            published.bytes = published.bytes.saturating_sub(record.bytes);
        }
        Ok(published)
    }

    fn ledger_head(&self) -> Option<String> {
        self.head.clone().flatten()
    }

    async fn published_before(&mut self) -> Result<Option<String>, SinkError> {
        let lake = match &self.backend {
            Backend::Local(local) => holdings::Lake::Directory(local.root()),
            Backend::Store(store) => holdings::Lake::Store(store),
        };
        let found =
            holdings::first_published(&lake, &self.config.key_template, &self.source, &self.name)
                .await?;
        Ok(found.map(|key| {
            format!(
                "lake `{}` already holds objects under {}/{} (e.g. {key})",
                self.name,
                self.config.display_location().trim_end_matches('/'),
                self.config.key_template.static_prefix(&self.source)
            )
        }))
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        Self::abort_uploads(std::mem::take(&mut self.open)).await;
        self.batch_started = None;
        match &self.backend {
            Backend::Local(local) => local.discard(),
            Backend::Store(store) => store.discard(&self.scope).await,
        }
    }
}

#[cfg(test)]
mod tests;
