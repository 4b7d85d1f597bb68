//! Waiting out a state store that is briefly unreachable (a database restarting, a dropped
//! connection, a failover), so a run pauses instead of failing.
//!
//! [`Retrying`] wraps any store and retries calls that failed with [`StateError::Backend`],
//! with exponential backoff and jitter, for up to [`RETRY_FOR`]. Only calls that are safe to
//! repeat are retried here: reads, lease claims (a claim whose reply was lost is found again
//! by the same holder, with the same token), releases, intents (re-recording the same intent
//! is harmless) and run records. A checkpoint commit is not: whether a commit whose reply
//! was lost landed must be checked before trying again, which the runtime does (it knows the
//! checkpoint it wrote). Lease renewals are not either: the runtime renews well before the
//! lease ends, retries a failed renewal a few times at once and then at the next page, so it
//! never waits here past the lease it is trying to keep.

use std::time::Duration;

use async_trait::async_trait;

use super::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};

/// How long a call waits for an unreachable store before it fails.
pub const RETRY_FOR: Duration = Duration::from_secs(120);

/// Delays between retries of a state call: exponential with jitter, about [`RETRY_FOR`] in
/// all.
pub fn backoff() -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(16)
        .with_jitter()
        .with_total_delay(Some(RETRY_FOR))
        .build()
}

/// A store whose repeatable calls wait out outages (see the module docs).
pub struct Retrying<S> {
    inner: S,
}

impl<S> Retrying<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Retrying { inner }
    }
}

/// Runs `call` until it succeeds, fails with something other than an outage, or the
/// retries are used up.
async fn retry<T, F, Fut>(what: &str, mut call: F) -> Result<T, StateError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StateError>>,
{
    let mut delays = backoff();
    loop {
        match call().await {
            Err(err @ StateError::Backend { .. }) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(error = %err, call = what, retry_in_ms = delay.as_millis() as u64, "state store unreachable; waiting for it");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            },
            other => return other,
        }
    }
}

#[async_trait]
impl<S: StateStore> StateStore for Retrying<S> {
    fn store_id(&self) -> &str {
        self.inner.store_id()
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        retry("load", || self.inner.load(source)).await
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        retry("prepare", || self.inner.prepare(source, intent, fence)).await
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        self.inner.commit(source, next, fence).await
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        // Like a commit: whether a lost reply's write landed must be checked first.
        self.inner
            .replace_checkpoint(key, checkpoint, expected_seq, fence)
            .await
    }

    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        retry("acquire_lease", || {
            self.inner.acquire_lease(source, holder, ttl)
        })
        .await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        self.inner.renew_lease(lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        retry("release_lease", || self.inner.release_lease(lease)).await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        retry("record_run", || self.inner.record_run(run)).await
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        retry("recent_runs", || self.inner.recent_runs(source, limit)).await
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        retry("status", || self.inner.status()).await
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        retry("checkpoints_under", || self.inner.checkpoints_under(prefix)).await
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        retry("incidents", || self.inner.incidents()).await
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        // Safe to repeat: a retried open that had landed finds its own record and says so.
        retry("open_incident", || self.inner.open_incident(incident)).await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        retry("update_incident", || self.inner.update_incident(incident)).await
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        retry("close_incident", || {
            self.inner.close_incident(alert, source)
        })
        .await
    }
}
