//! The active canary's part in a run of the source's own key: send the request when it is
//! due, note matching events as they are staged, and count a missed deadline once. All of it
//! lands in the checkpoint with the run's commits, under the source's lease.

use super::*;
use crate::runtime::canary::{self, Canary};
use crate::state::canary::CanaryFailure;

impl<'a> Pipeline<'a> {
    /// Sends the canary request if it is due. A failure is logged, counted and kept in the
    /// checkpoint (so alerts and `status` see it), never returned: the run goes on.
    pub(super) async fn canary_request(&mut self) {
        let Some(config) = self.canary.clone() else {
            return;
        };
        let now = Utc::now();
        if !canary::due(&config, &self.pending.canary, now) {
            return;
        }
        match canary::trigger(&config).await {
            Ok(()) => {
                tracing::info!(source = %self.name, request = %canary::shown(&config), "canary request sent; its event is due within {}", humantime::format_duration(config.within));
                super::super::metrics::record_canary_request(&self.name, true);
                self.pending.canary.triggered = Some(now);
                self.pending.canary.failed = None;
            }
            Err(error) => {
                tracing::error!(source = %self.name, request = %error.request, error = %error.detail, "canary request failed; the source's runs go on, and the request is sent again at the next run (hint: fix the canary's request URL or credential)");
                super::super::metrics::record_canary_request(&self.name, false);
                self.pending.canary.failed = Some(CanaryFailure {
                    at: now,
                    error: error.to_string(),
                });
            }
        }
    }

    /// Notes `record` when it is the canary's event.
    pub(super) fn canary_observe(&mut self, record: &crate::source::Record) {
        let Some(config) = &self.canary else {
            return;
        };
        if config.matches.matches(&record.data) {
            let seen = &mut self.pending.canary.seen;
            *seen = Some(seen.map_or(record.time, |s| s.max(record.time)));
        }
    }

    /// Before the run's last commit: a request whose deadline passed with no event is counted
    /// and logged as missed, once (the checkpoint remembers which request was counted).
    pub(super) fn canary_check(&mut self) {
        let Some(config) = &self.canary else {
            return;
        };
        let verdict = canary::judge(config, &self.pending.canary, Utc::now());
        if let Canary::Overdue { triggered, .. } = &verdict {
            if self.pending.canary.missed != Some(*triggered) {
                tracing::error!(source = %self.name, reason = %verdict.reason(), "canary event missed");
                super::super::metrics::record_canary_missed(&self.name);
                self.pending.canary.missed = Some(*triggered);
            }
        }
    }
}
