//! State: where each source is (its checkpoint), the commit in flight, and run history.
//!
//! Every store keeps the same records behind [`StateStore`]: a [`Checkpoint`] per source, at
//! most one [`Intent`] per source (objects staged but not yet published), and [`RunRecord`]s.
//! Writes are conditional on the checkpoint's `seq`, so two writers can never silently
//! overwrite each other.

mod boxed;
pub mod canary;
mod checkpoint;
pub mod config;
mod object;
mod postgres;
pub mod retry;
mod sqlite;
mod trail;
pub mod volume;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use checkpoint::{
    Backfill, BackfillWindow, Checkpoint, DedupSet, Intent, LowWater, PageRef, SinkIntent, Window,
    MIN_BACKFILL_STEP,
};
pub use object::ObjectStateStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use trail::PageTrail;

use config::StateConfig;

/// What a store knows about one source when a run starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    /// The last committed position.
    pub checkpoint: Checkpoint,
    /// A commit that was prepared but not finished, to be rolled forward.
    pub intent: Option<Intent>,
}

/// One run of one source, for `sluice status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// Source name.
    pub source: String,
    /// When the run began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The error that stopped it, if any.
    pub error: Option<String>,
    /// The kind of that error (runs recorded before kinds were stored have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::model::FailureKind>,
    /// Events delivered.
    pub events: u64,
    /// Pages fetched.
    pub pages: u64,
}

/// What `sluice status` shows for a source.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceStatus {
    /// Source name.
    pub source: String,
    /// Its committed position.
    pub checkpoint: Checkpoint,
    /// Whether a commit is half done (it is finished at the next run).
    pub commit_in_flight: bool,
    /// The latest run.
    pub last_run: Option<RunRecord>,
    /// The latest run that failed.
    pub last_error: Option<RunRecord>,
}

/// An open alert incident: alert `alert` firing for `source` (see `crate::notify`). Kept in
/// the store so that a restart neither sends it again nor forgets to resolve it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Incident {
    /// The alert's name (`[[alerts]] name`, or its rule).
    pub alert: String,
    /// The source it fires for.
    pub source: String,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it was last sent (at opening, then at each re-notification).
    pub notified_at: DateTime<Utc>,
    /// Times it was sent.
    pub notifications: u32,
    /// Why it is open, as last seen (already scrubbed of secrets).
    pub detail: String,
}

/// The right to work a source, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Source name.
    pub source: String,
    /// Who holds it (process identity).
    pub holder: String,
    /// Fencing token: grows with every change of holder; commits must carry the current one.
    pub token: u64,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// What [`StateStore::acquire_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease is ours.
    Acquired(Lease),
    /// Someone else holds it.
    HeldBy {
        /// Its holder.
        holder: String,
        /// Its fencing token (to release a lease whose holder is known to be dead).
        token: u64,
        /// Until when.
        until: DateTime<Utc>,
    },
}

/// Errors from a state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Someone else committed this source since we read it.
    #[error("checkpoint of source `{source_name}` changed under us (expected commit {expected}, found {found}); another sluice process may be running the same source — run only one per source")]
    Conflict {
        /// Source name.
        source_name: String,
        /// The seq we read.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// Our lease was taken over: another worker owns the source now.
    #[error("source `{source_name}`: this worker's lease (token {held}) was taken over (current token {current}); it stops without committing, the new owner carries on")]
    Fenced {
        /// Source name.
        source_name: String,
        /// The token we hold.
        held: u64,
        /// The store's current token.
        current: u64,
    },
    /// A stored record could not be read.
    #[error("state of source `{source_name}` is unreadable: {detail}; it was left untouched — inspect it, or reset the source")]
    Corrupt {
        /// Source name.
        source_name: String,
        /// What failed.
        detail: String,
    },
    /// The store was written by a newer sluice.
    #[error("state store {location} has schema version {found}, but this sluice knows versions up to {supported}; upgrade sluice (the store was left untouched)")]
    TooNew {
        /// Where the store is.
        location: String,
        /// Version found.
        found: i64,
        /// Newest version this build understands.
        supported: i64,
    },
    /// The disk under the store is full: waiting does not help, so nobody retries it.
    #[error("state store {location}: the disk is full ({detail}); nothing past the last commit was recorded (hint: free space on the file system that holds {location}, then run again)")]
    DiskFull {
        /// Where the store is.
        location: String,
        /// What failed.
        detail: String,
    },
    /// The store itself failed.
    #[error("state store {location}: {detail}")]
    Backend {
        /// Where the store is.
        location: String,
        /// What failed.
        detail: String,
    },
}

/// A place that keeps checkpoints. Implementations: SQLite (embedded default), PostgreSQL
/// (shared by workers on several machines), objects in a bucket or directory (serverless
/// runs with no disk and no database).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The store's id: random, chosen when the store was created and kept in it. Lake
    /// objects carry it in their names, so batches written under two stores (a state store
    /// lost and created anew) never share a name even though both count commits from 1.
    fn store_id(&self) -> &str;

    /// The state of `source`; a default checkpoint if it never ran.
    async fn load(&self, source: &str) -> Result<SourceState, StateError>;

    /// Records a prepared commit. Fails with [`StateError::Conflict`] unless the stored
    /// checkpoint's seq is `intent.base_seq`, and with [`StateError::Fenced`] unless `fence`
    /// is the token of the source's current lease.
    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError>;

    /// Moves the checkpoint to `next` and clears any intent, atomically, under the same
    /// conditions as [`StateStore::prepare`] (the stored seq must be `next.seq - 1`).
    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError>;

    /// Sets the checkpoint of `key` outright and drops any intent, for `sluice state import`
    /// and `reset`: under the same conditions as [`StateStore::commit`], except that the
    /// stored seq must be `expected_seq` and `checkpoint.seq` may be anything. Callers hold
    /// the key's lease and pass its token as `fence`.
    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError>;

    /// Claims the lease on `source` for `holder` until `ttl` from now, if it is free,
    /// expired, or already `holder`'s. Every change of holder gets a larger fencing token.
    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError>;

    /// Extends a held lease. Fails with [`StateError::Fenced`] if another holder took it.
    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError>;

    /// Gives the lease up early, so the next run need not wait for it to expire.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError>;

    /// Appends a run to the history (old runs are pruned).
    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError>;

    /// The latest `limit` runs of `source`, newest first.
    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError>;

    /// Status of every source the store knows. Keys of backfill windows (see
    /// [`window_key`]) are included; callers that show sources filter them out.
    async fn status(&self) -> Result<Vec<SourceStatus>, StateError>;

    /// The checkpoints whose key starts with `prefix`, sorted by key: the windows of a
    /// source's backfill are the keys under `"<source>@"` (see [`window_key`]); every stored
    /// checkpoint when `prefix` is empty.
    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError>;

    /// Every open incident, sorted by alert, then source.
    async fn incidents(&self) -> Result<Vec<Incident>, StateError>;

    /// Records `incident` as open unless one of the same alert and source already is:
    /// `true` when it was recorded, so of two processes opening it, one sends it.
    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError>;

    /// Replaces the open incident of the same alert and source (a re-notification); does
    /// nothing when none is open.
    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError>;

    /// Closes the incident of `alert` for `source`: `true` when one was open (and this call
    /// closed it), so of two processes closing it, one sends the recovery.
    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError>;
}

/// A new random store id (see [`StateStore::store_id`]): 16 lowercase hex digits.
pub(crate) fn new_store_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// How long a lease lasts without renewal, unless the state config says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(300);

/// The part of a store id that goes into object names (see [`StateStore::store_id`]): its
/// first 8 characters, enough to tell stores apart; create-only publishing catches the rest.
pub fn short_store_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
/// The longest lease a store grants. `lease_ttl` has no bound of its own (`"300000y"`
/// loads), and an expiry past the calendar's end made acquiring a lease panic; a century is
/// as good as forever.
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(100 * 366 * 86_400);

/// Separates a source's name from a backfill window's start in state keys. Source names are
/// letters, digits, `-` and `_` only, so no source key contains it.
pub const WINDOW_KEY_SEPARATOR: char = '@';

/// The state key (checkpoint and lease) of the window starting at `start` of backfill
/// `backfill` (its [`Backfill::id`]) of `source`, e.g. `okta@17-20231114T220000.000Z`: safe in
/// file names and object keys, and distinct for every backfill, so a range backfilled again
/// gets fresh windows rather than the finished ones of the first time.
pub fn window_key(source: &str, backfill: u64, start: DateTime<Utc>) -> String {
    format!(
        "{source}{WINDOW_KEY_SEPARATOR}{backfill}-{}",
        start.format("%Y%m%dT%H%M%S%.3fZ")
    )
}

/// The keys of the backfill windows of `source` that are finished.
pub async fn finished_windows(
    store: &dyn StateStore,
    source: &str,
) -> Result<std::collections::HashSet<String>, StateError> {
    let prefix = format!("{source}{WINDOW_KEY_SEPARATOR}");
    Ok(store
        .checkpoints_under(&prefix)
        .await?
        .into_iter()
        .filter(|(_, checkpoint)| checkpoint.is_finished_window())
        .map(|(key, _)| key)
        .collect())
}

/// Whether a state key names a backfill window rather than a source.
pub fn is_window_key(key: &str) -> bool {
    key.contains(WINDOW_KEY_SEPARATOR)
}

/// The exclusive upper bound of the keys starting with `prefix`: `prefix` with its last
/// character moved one up (prefixes here end in ASCII, so this stays valid UTF-8).
pub(crate) fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    if let Some(last) = end.pop() {
        end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
    }
    end
}

/// Opens the store a config names to read it only, for commands that show state: the same
/// as [`open`], except that an object store is not probed for conditional writes (which
/// writes a scratch object), so read-only credentials suffice.
pub async fn open_read_only(config: &StateConfig) -> Result<Arc<dyn StateStore>, StateError> {
    match config {
        StateConfig::Object(object) => Ok(Arc::new(retry::Retrying::new(
            ObjectStateStore::open_read_only(object).await?,
        ))),
        other => open(other).await,
    }
}

/// Opens the store a config names, creating or migrating it as needed.
pub async fn open(config: &StateConfig) -> Result<Arc<dyn StateStore>, StateError> {
    open_layered(config, |store| store).await
}

/// [`open`], with `layer` put around the store itself, under every wrapper a run uses. Tests
/// pass a layer that makes the store fail on purpose (`tests/it/store_outages.rs`), so what they
/// prove holds for the stores exactly as [`open`] builds them.
pub async fn open_layered(
    config: &StateConfig,
    layer: impl FnOnce(Box<dyn StateStore>) -> Box<dyn StateStore>,
) -> Result<Arc<dyn StateStore>, StateError> {
    match config {
        // A local file: its errors (permissions, a damaged file) do not pass by waiting, so
        // only commits wait (in the runtime, which can tell a lost reply from a failure).
        StateConfig::Sqlite { path, .. } => {
            Ok(Arc::from(layer(Box::new(SqliteStore::open(path).await?))))
        }
        // A shared database can restart or fail over under a running worker: wait it out.
        StateConfig::Postgres { url, .. } => Ok(Arc::new(retry::Retrying::new(layer(Box::new(
            PostgresStore::open(url).await?,
        ))))),
        // Objects over the network: a dropped connection or a 5xx is waited out the same way.
        StateConfig::Object(object) => Ok(Arc::new(retry::Retrying::new(layer(Box::new(
            ObjectStateStore::open(object).await?,
        ))))),
    }
}
