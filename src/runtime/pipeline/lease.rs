//! The run's lease on its state key: taken (or taken over from a holder that died on this
//! host) before anything else, renewed while the run goes on, and the fence every write
//! carries; and who this process is, for holders.

use super::*;

impl<'a> Pipeline<'a> {
    /// Claims the source for this run. `false` when another worker holds it: this run then
    /// does nothing and ends cleanly.
    pub(super) async fn take_lease(&mut self) -> Result<bool, RunError> {
        let outcome = self
            .store
            .acquire_lease(&self.key, &self.holder, self.lease_ttl)
            .await?;
        match outcome {
            LeaseOutcome::Acquired(lease) => {
                self.lease = Some(lease);
                self.renewed = Instant::now();
                Ok(true)
            }
            LeaseOutcome::HeldBy {
                holder,
                token,
                until,
            } if holder_is_dead(&holder) => {
                // A crashed run on this host (kill -9, OOM) left its lease behind: free it
                // rather than wait out the TTL. Its commits are fenced by the new token.
                tracing::info!(source = %self.name, holder = %holder, "taking over the lease of a process that no longer runs");
                let stale = Lease {
                    source: self.key.clone(),
                    holder,
                    token,
                    expires_at: until,
                };
                self.store.release_lease(&stale).await?;
                Box::pin(self.take_lease()).await
            }
            LeaseOutcome::HeldBy { holder, until, .. } => {
                self.report.skipped = Some(format!(
                    "another worker ({holder}) holds this source until {}",
                    crate::timefmt::rfc3339_millis(until)
                ));
                Ok(false)
            }
        }
    }

    /// Renews the lease once a third of its time has passed, so a live worker never loses it
    /// and a paused one loses it within `lease_ttl`.
    pub(super) async fn keep_lease(&mut self) -> Result<(), RunError> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        if self.renewed.elapsed() < self.lease_ttl / 3 {
            return Ok(());
        }
        let lease = lease.clone();
        // A dropped connection fails the first call made on it: a few quick tries (renewing
        // again with the same token is harmless) before leaving it to the next page.
        let mut quick = RENEW_RETRIES.iter();
        loop {
            match self.store.renew_lease(&lease, self.lease_ttl).await {
                Ok(renewed) => {
                    self.lease = Some(renewed);
                    self.renewed = Instant::now();
                    return Ok(());
                }
                // The lease still runs for a while: try again shortly, then at the next page.
                // Commits are fenced, so even a lease lost meanwhile cannot commit over a new
                // owner.
                Err(err @ StateError::Backend { .. })
                    if self.renewed.elapsed() < self.lease_ttl * 2 / 3 =>
                {
                    if let Some(delay) = quick.next() {
                        tokio::time::sleep(*delay).await;
                        continue;
                    }
                    tracing::warn!(source = %self.name, error = %err, "could not renew the lease; retrying at the next page");
                    return Ok(());
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// The fencing token every state write carries.
    pub(super) fn fence(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.token)
    }
}

/// Pauses between quick retries of a lease renewal the state store failed.
const RENEW_RETRIES: &[Duration] = &[
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
];

/// This process, for lease holders: `host/pid/random` (a restarted process that reuses a pid
/// is still a different holder).
pub fn worker_identity() -> String {
    format!(
        "{}/{}/{:08x}",
        host_name(),
        std::process::id(),
        rand::random::<u32>()
    )
}

pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Whether a lease holder is a process on this host that has exited. Holders on other hosts,
/// or whose process may still run, are assumed alive: only their lease's expiry frees them.
pub(crate) fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.split('/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != host_name() || pid == std::process::id() {
        return false;
    }
    !std::path::Path::new(&format!("/proc/{pid}")).exists() && cfg!(target_os = "linux")
}
