//! Backfill planning: when a source's backlog is split into windows that workers take in
//! parallel.

use super::*;

impl<'a> Pipeline<'a> {
    /// Moves the frontier of each backfill in progress over its finished windows (dropping
    /// finished backfills), then splits a new backlog into windows if the policy asks for
    /// it; commits the plan.
    pub(super) async fn plan_backfills(&mut self, horizon: DateTime<Utc>) -> Result<(), RunError> {
        let Some(policy) = self.split else {
            return Ok(());
        };
        let mut finished = std::collections::HashSet::new();
        if !self.pending.backfills.is_empty() {
            finished = crate::state::finished_windows(self.store, &self.name).await?;
            let name = self.name.clone();
            for backfill in &mut self.pending.backfills {
                backfill
                    .advance(|w| finished.contains(&window_key(&name, w.backfill, w.range.start)));
            }
            self.pending.backfills.retain(|b| !b.is_done());
        }
        if policy.workers > 1 {
            let config = self.source.config();
            if let Some(backfill) =
                split_backlog(&self.pending, &config.window, horizon, policy.step)
            {
                tracing::info!(
                    source = %self.name,
                    from = %crate::timefmt::rfc3339_millis(backfill.from),
                    to = %crate::timefmt::rfc3339_millis(backfill.to),
                    windows = backfill.windows().count(),
                    workers = policy.workers,
                    "backlog split into backfill windows for parallel workers"
                );
                if self.pending.anchor.is_none() {
                    // The source's first listing starts with this backfill.
                    self.pending.listed_from.get_or_insert(backfill.from);
                }
                self.pending.anchor = Some(backfill.to);
                self.pending.floor = Some(backfill.to);
                self.pending.backfills.push(Backfill {
                    // The commit below records it.
                    id: self.committed.seq + 1,
                    ..backfill
                });
            }
        }
        let name = self.name.clone();
        let key = |w: &BackfillWindow| window_key(&name, w.backfill, w.range.start);
        let total: usize = self
            .pending
            .backfills
            .iter()
            .map(|b| b.windows().count())
            .sum();
        let open: usize = (self.pending.backfills.iter())
            .map(|b| {
                b.open_windows()
                    .filter(|w| !finished.contains(&key(w)))
                    .count()
            })
            .sum();
        super::super::progress::windows(&self.name, total as u64, (total - open) as u64);
        self.commit().await
    }
}

/// When a source's backlog is split into backfill windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPolicy {
    /// Workers that will take the windows; below 2 nothing is split.
    pub workers: usize,
    /// Length of each window.
    pub step: Duration,
}

/// The backfill a backlog splits into: whole windows of `step` from where the source's next
/// window would start, up to the last whole window before `horizon` (the tail keeps the
/// rest). `None` when a window is in progress or fewer than two whole windows are behind.
pub fn split_backlog(
    checkpoint: &Checkpoint,
    config: &crate::config::WindowConfig,
    horizon: DateTime<Utc>,
    step: Duration,
) -> Option<Backfill> {
    if checkpoint.window.is_some() || checkpoint.page.is_some() || checkpoint.listing.is_some() {
        return None;
    }
    let from = window::next_window(checkpoint, config, horizon)?.start;
    let step_chrono = chrono::Duration::from_std(step).ok()?;
    // Inner window bounds are whole seconds from the second `from` falls in (see
    // `Backfill::windows`), which every request time format can write exactly.
    let base = DateTime::from_timestamp(from.timestamp(), 0)?;
    let whole = (horizon - base).num_milliseconds() / step_chrono.num_milliseconds().max(1);
    if whole < 2 {
        return None;
    }
    let to = base + step_chrono * i32::try_from(whole).ok()?;
    Some(Backfill {
        id: 0,
        from,
        to,
        step,
        frontier: from,
        seed: checkpoint.recent.clone(),
    })
}

/// The window length a source's backlog is split into: its `max_window`, in whole seconds.
pub fn backfill_step(config: &crate::config::WindowConfig) -> Duration {
    Duration::from_secs(config.max_window.as_secs().max(1))
}
