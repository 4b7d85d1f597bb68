//! The lease on a side key of a source (`<source>@retention`, `<source>@replay-<sink>`):
//! work on the lake that is not a pipeline run but must not run twice at once, and whose
//! writes to its checkpoint are fenced like a run's.

use std::time::Duration;

use crate::state::{Lease, LeaseOutcome, StateStore};

/// Takes the lease on `key` for `holder`, taking it over from a holder that died on this
/// host (a `kill -9`ed command); `Err` names the live holder when another one has it.
pub async fn take(
    store: &dyn StateStore,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Lease, String> {
    // Two tries: the second after freeing a dead holder's lease.
    for _ in 0..2 {
        match store
            .acquire_lease(key, holder, ttl)
            .await
            .map_err(|e| e.to_string())?
        {
            LeaseOutcome::Acquired(lease) => return Ok(lease),
            LeaseOutcome::HeldBy {
                holder: other,
                token,
                until,
            } if super::pipeline::holder_is_dead(&other) => {
                let stale = Lease {
                    source: key.to_string(),
                    holder: other,
                    token,
                    expires_at: until,
                };
                store
                    .release_lease(&stale)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            LeaseOutcome::HeldBy { holder, until, .. } => {
                return Err(format!(
                    "`{key}` is being worked by {holder} until {} (hint: wait for it to finish, or run again after that time)",
                    crate::timefmt::rfc3339_millis(until)
                ))
            }
        }
    }
    Err(format!(
        "the lease on `{key}` changed hands while it was being taken (hint: run again)"
    ))
}
