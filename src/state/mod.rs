//! State: where each source is (its checkpoint), the commit in flight, and run history.
//!
//! Every store keeps the same records behind [`StateStore`]: a [`Checkpoint`] per source, at
//! most one [`Intent`] per source (objects staged but not yet published), and [`RunRecord`]s.
//! Writes are conditional on the checkpoint's `seq`, so two writers can never silently
//! overwrite each other.

mod checkpoint;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use checkpoint::{Checkpoint, DedupSet, Intent, LowWater, PageRef, SinkIntent, Window};
pub use sqlite::SqliteStore;

use crate::config::StateConfig;

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
    /// The store itself failed.
    #[error("state store {location}: {detail}")]
    Backend {
        /// Where the store is.
        location: String,
        /// What failed.
        detail: String,
    },
}

/// A place that keeps checkpoints. Implementations: SQLite (embedded default).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The state of `source`; a default checkpoint if it never ran.
    async fn load(&self, source: &str) -> Result<SourceState, StateError>;

    /// Records a prepared commit. Fails with [`StateError::Conflict`] unless the stored
    /// checkpoint's seq is `intent.base_seq`.
    async fn prepare(&self, source: &str, intent: &Intent) -> Result<(), StateError>;

    /// Moves the checkpoint to `next` and clears any intent, atomically. Fails with
    /// [`StateError::Conflict`] unless the stored seq is `next.seq - 1`.
    async fn commit(&self, source: &str, next: &Checkpoint) -> Result<(), StateError>;

    /// Appends a run to the history (old runs are pruned).
    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError>;

    /// The latest `limit` runs of `source`, newest first.
    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError>;

    /// Status of every source the store knows.
    async fn status(&self) -> Result<Vec<SourceStatus>, StateError>;
}

/// Opens the store a config names, creating or migrating it as needed.
pub async fn open(config: &StateConfig) -> Result<Box<dyn StateStore>, StateError> {
    match config {
        StateConfig::Sqlite { path } => Ok(Box::new(SqliteStore::open(path).await?)),
    }
}
