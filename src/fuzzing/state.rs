//! Stored checkpoints: whatever a state store hands back (a corrupted row, a hand-edited
//! object) is refused when it is read, or can be worked from.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::WindowConfig;
use crate::model::SortOrder;
use crate::source::window::{anchor_after, horizon, next_window};
use crate::state::{Checkpoint, Intent};

/// At most this many windows of a backfill are walked: enough to see how they tile.
const WINDOWS: usize = 64;

/// Decoding `bytes` as a checkpoint (as the SQLite and PostgreSQL stores keep it) or as a
/// commit intent gives a value or an error. A decoded checkpoint survives a round trip and
/// everything a run does with it: planning the next window, pruning its dedup set, walking its
/// backfills, which tile their range with non-empty windows.
pub fn check_checkpoint(bytes: &[u8]) {
    if let Ok(intent) = serde_json::from_slice::<Intent>(bytes) {
        let text = serde_json::to_string(&intent).expect("a decoded intent encodes");
        let back: Intent = serde_json::from_str(&text).expect("an encoded intent decodes");
        assert_eq!(back, intent, "the intent changed through a round trip");
        check_decoded(&intent.next);
    }
    if let Ok(checkpoint) = serde_json::from_slice::<Checkpoint>(bytes) {
        let text = serde_json::to_string(&checkpoint).expect("a decoded checkpoint encodes");
        let back: Checkpoint = serde_json::from_str(&text).expect("an encoded checkpoint decodes");
        assert_eq!(
            back, checkpoint,
            "the checkpoint changed through a round trip"
        );
        check_decoded(&checkpoint);
    }
}

fn check_decoded(checkpoint: &Checkpoint) {
    let _ = (checkpoint.frontier(), checkpoint.is_finished_window());
    for backfill in &checkpoint.backfills {
        let mut expected_start = backfill.from;
        for window in backfill.windows().take(WINDOWS) {
            let range = window.range;
            assert_eq!(
                range.start, expected_start,
                "windows leave a gap: {backfill:?}"
            );
            assert!(
                range.start < range.end,
                "an empty window {range:?} in {backfill:?}"
            );
            assert!(
                range.end <= backfill.to,
                "{range:?} ends after {backfill:?}"
            );
            expected_start = range.end;
        }
        let _ = (
            backfill.open_windows().take(WINDOWS).count(),
            backfill.is_done(),
        );
    }
    let now = DateTime::<Utc>::from_timestamp(1_798_761_600, 0).unwrap_or_default();
    let config = WindowConfig::default();
    let horizon = horizon(now, &config);
    if let Some(window) = next_window(checkpoint, &config, horizon) {
        let _ = anchor_after(&window, checkpoint.high_water, checkpoint.anchor);
    }
    for order in [SortOrder::Ascending, SortOrder::NewestFirst] {
        let mut pruned = checkpoint.clone();
        let start = checkpoint.listing().map_or(now, |w| w.start);
        let capacity = checkpoint.recent.len() / 2;
        pruned.prune_recent(Duration::from_secs(300), capacity, order, start);
        // Without a high-water time nothing was delivered, and nothing is pruned.
        if checkpoint.high_water.is_some() {
            assert!(
                pruned.recent.len() <= capacity,
                "pruning left more ids than it may keep"
            );
        }
    }
}
