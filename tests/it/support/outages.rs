//! A state store that fails on purpose: [`Outages`] wraps a real store and answers chosen
//! calls with [`StateError::Backend`], as an unreachable store does. A call is either cut
//! before it reaches the store ([`Fault::Down`]) or made and its reply lost
//! ([`Fault::LostReply`]: the write landed, the caller hears an outage). Which call fails is
//! decided by a [`Plan`] from the call's kind and its number, so a test's outages are the same
//! on every run.
//!
//! It records what the store underneath really did: every checkpoint commit that landed (to
//! prove none was made twice) and every commit it refused as a conflict (the retry of a
//! commit whose reply was lost).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sluice::state::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};

/// The calls a plan can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    Load,
    Prepare,
    Commit,
    AcquireLease,
    ReleaseLease,
    RecordRun,
    RecentRuns,
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The store is not reached.
    Down,
    /// The call is made, then its reply is lost.
    LostReply,
    /// The call is refused as fenced: another worker took the lease over.
    Fenced,
}

/// Which calls fail: given a call's kind and its number among the calls of that kind
/// (from 1), the fault, if any.
pub type Plan = fn(Call, u64) -> Option<Fault>;

/// What happened, for the test's assertions.
#[derive(Debug, Default)]
pub struct Record {
    /// Calls made per kind.
    pub calls: HashMap<Call, u64>,
    /// Faults injected per kind.
    pub faults: HashMap<(Call, Fault), u64>,
    /// Every commit the store underneath made: state key and commit number.
    pub landed: Vec<(String, u64)>,
    /// Commits the store underneath refused as conflicts: the commit number it held.
    pub conflicts: Vec<u64>,
}

impl Record {
    /// How many times `fault` was injected into `call`.
    pub fn injected(&self, call: Call, fault: Fault) -> u64 {
        self.faults.get(&(call, fault)).copied().unwrap_or(0)
    }
}

/// A store whose calls fail as [`Plan`] says (see the module docs).
pub struct Outages {
    inner: Box<dyn StateStore>,
    plan: Plan,
    record: std::sync::Arc<Mutex<Record>>,
}

impl Outages {
    /// Wraps `inner`; what happens is kept in `record`.
    pub fn new(
        inner: Box<dyn StateStore>,
        plan: Plan,
        record: std::sync::Arc<Mutex<Record>>,
    ) -> Self {
        Outages {
            inner,
            plan,
            record,
        }
    }

    /// Counts the call and returns its fault.
    fn fault(&self, call: Call) -> Option<Fault> {
        // A poisoned lock means another assertion already failed; go on with its data.
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        let n = record.calls.entry(call).or_insert(0);
        *n += 1;
        let fault = (self.plan)(call, *n);
        if let Some(fault) = fault {
            *record.faults.entry((call, fault)).or_insert(0) += 1;
        }
        fault
    }

    fn outage(&self, call: Call, fault: Fault) -> StateError {
        StateError::Backend {
            location: "test store".into(),
            detail: format!("injected outage: {call:?} {fault:?}"),
        }
    }

    /// Runs `made` unless the plan cuts the call; loses the reply if the plan says so.
    async fn around<T>(
        &self,
        call: Call,
        made: impl std::future::Future<Output = Result<T, StateError>>,
    ) -> Result<T, StateError> {
        match self.fault(call) {
            Some(Fault::Down) => Err(self.outage(call, Fault::Down)),
            Some(Fault::LostReply) => {
                // Whatever the store answered, the caller never hears it.
                let _ = made.await;
                Err(self.outage(call, Fault::LostReply))
            }
            Some(Fault::Fenced) => Err(StateError::Fenced {
                source_name: "test store".into(),
                held: 1,
                current: 2,
            }),
            None => made.await,
        }
    }
}

#[async_trait]
impl StateStore for Outages {
    fn store_id(&self) -> &str {
        self.inner.store_id()
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        self.around(Call::Load, self.inner.load(source)).await
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        self.around(Call::Prepare, self.inner.prepare(source, intent, fence))
            .await
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        let made = async {
            let result = self.inner.commit(source, next, fence).await;
            let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
            match &result {
                Ok(()) => record.landed.push((source.to_string(), next.seq)),
                Err(StateError::Conflict { found, .. }) => record.conflicts.push(*found),
                Err(_) => {}
            }
            result
        };
        self.around(Call::Commit, made).await
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
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
        self.around(
            Call::AcquireLease,
            self.inner.acquire_lease(source, holder, ttl),
        )
        .await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        self.inner.renew_lease(lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        self.around(Call::ReleaseLease, self.inner.release_lease(lease))
            .await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        self.around(Call::RecordRun, self.inner.record_run(run))
            .await
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        self.around(Call::RecentRuns, self.inner.recent_runs(source, limit))
            .await
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        self.inner.status().await
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        self.inner.checkpoints_under(prefix).await
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        self.inner.incidents().await
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        self.inner.open_incident(incident).await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        self.inner.update_incident(incident).await
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        self.inner.close_incident(alert, source).await
    }
}
