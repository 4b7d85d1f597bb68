//! Live progress of this process's runs, per source, for the CLI's progress display
//! (`cli/progress.rs`): events read and committed, backfill windows done of planned, the newest event
//! time delivered. Pipelines update it as they commit; nothing reads it unless a command
//! shows progress.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Where one source's runs in this process are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceProgress {
    /// New events read (after dedup) and staged by this process's runs of the source.
    pub events: u64,
    /// Of those, events committed (delivered).
    pub committed: u64,
    /// Backfill windows planned (0 when the source has no backfill in progress).
    pub windows_total: u64,
    /// Of those, windows finished.
    pub windows_done: u64,
    /// The newest event time committed.
    pub high_water: Option<DateTime<Utc>>,
}

static BOARD: Mutex<BTreeMap<String, SourceProgress>> = Mutex::new(BTreeMap::new());

fn update(source: &str, change: impl FnOnce(&mut SourceProgress)) {
    // A poisoned board only means a panic elsewhere; progress is for display.
    let mut board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    change(board.entry(source.to_string()).or_default());
}

/// Every source's progress, by name.
pub fn snapshot() -> Vec<(String, SourceProgress)> {
    let board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    board.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `events` more were committed, up to `high_water`.
pub(crate) fn committed(source: &str, events: u64, high_water: Option<DateTime<Utc>>) {
    update(source, |p| {
        p.committed += events;
        p.high_water = p.high_water.max(high_water);
    });
}

/// `events` new events were read and staged.
pub(crate) fn staged(source: &str, events: u64) {
    update(source, |p| p.events += events);
}

/// The source's backfills hold `total` windows, `done` of them finished.
pub(crate) fn windows(source: &str, total: u64, done: u64) {
    update(source, |p| {
        p.windows_total = total;
        p.windows_done = done.min(total);
    });
}

/// One more backfill window was finished.
pub(crate) fn window_finished(source: &str) {
    update(source, |p| {
        p.windows_done = (p.windows_done + 1).min(p.windows_total)
    });
}
