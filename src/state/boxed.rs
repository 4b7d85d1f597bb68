//! A boxed store is a store: what lets [`super::open_layered`] put a layer of any type between
//! a backend and the wrappers above it.

use std::time::Duration;

use async_trait::async_trait;

use super::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};

#[async_trait]
impl<S: StateStore + ?Sized> StateStore for Box<S> {
    fn store_id(&self) -> &str {
        (**self).store_id()
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        (**self).load(source).await
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        (**self).prepare(source, intent, fence).await
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        (**self).commit(source, next, fence).await
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        (**self)
            .replace_checkpoint(key, checkpoint, expected_seq, fence)
            .await
    }

    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        (**self).acquire_lease(source, holder, ttl).await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        (**self).renew_lease(lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        (**self).release_lease(lease).await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        (**self).record_run(run).await
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        (**self).recent_runs(source, limit).await
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        (**self).status().await
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        (**self).checkpoints_under(prefix).await
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        (**self).incidents().await
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        (**self).open_incident(incident).await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        (**self).update_incident(incident).await
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        (**self).close_incident(alert, source).await
    }
}
