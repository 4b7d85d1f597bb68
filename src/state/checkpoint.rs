//! The checkpoint: a source's durable position, and the intent of a commit in flight.
//!
//! A position has two parts with two lifetimes (see docs/architecture.md): the page reference
//! is fast to resume but may expire; the time anchor (window start, high-water time and the ids
//! seen at it) never expires.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A source's committed position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Commits made so far; every commit adds one. Writes are conditional on it.
    pub seq: u64,
    /// Where the next window starts when none is in progress; `None` before the first run.
    pub anchor: Option<DateTime<Utc>>,
    /// The window being worked, if one is in progress.
    pub window: Option<Window>,
    /// The next page of `window`; `None` means its first page.
    pub page: Option<PageRef>,
    /// The latest event time delivered.
    pub high_water: Option<DateTime<Utc>>,
    /// Ids delivered at exactly `high_water` (bounded), so re-served events there are dropped.
    #[serde(default)]
    pub high_water_ids: Vec<String>,
    /// Events delivered over the source's life.
    pub delivered: u64,
    /// When this checkpoint was committed.
    pub committed_at: Option<DateTime<Utc>>,
}

/// A time range `[start, end)` requested from the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// How to ask for the next page of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageRef {
    /// A full URL given by the API (Link header or next-URL field).
    Url(String),
    /// A token sent back as a query parameter.
    Token(String),
}

/// A commit that has been prepared (objects staged durably) but not yet finished. After a
/// crash the next run rolls it forward: publishes what is staged, then commits `next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The checkpoint seq this commit builds on.
    pub base_seq: u64,
    /// The checkpoint to commit once every sink has published.
    pub next: Checkpoint,
    /// What each sink must do to publish.
    pub sinks: Vec<SinkIntent>,
}

/// One sink's part of an [`Intent`]; the payload is the sink's own business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkIntent {
    /// Sink name.
    pub sink: String,
    /// What the sink needs to publish (for the lake: staged and final object paths).
    pub payload: serde_json::Value,
}

impl Checkpoint {
    /// Records that an event at `time` with `id` was delivered.
    pub fn observe(&mut self, time: DateTime<Utc>, id: &str, capacity: usize) {
        match self.high_water {
            Some(hw) if time < hw => {}
            Some(hw) if time == hw => {
                if self.high_water_ids.len() < capacity {
                    self.high_water_ids.push(id.to_string());
                }
            }
            _ => {
                self.high_water = Some(time);
                self.high_water_ids.clear();
                self.high_water_ids.push(id.to_string());
            }
        }
        self.delivered += 1;
    }

    /// Whether an event was already delivered: it sits at the high-water time and its id was
    /// seen there. Events before the high-water time are only re-served by overlapping
    /// requests, which the window planner never makes for ascending APIs.
    pub fn already_delivered(&self, time: DateTime<Utc>, id: &str) -> bool {
        self.high_water == Some(time) && self.high_water_ids.iter().any(|seen| seen == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn high_water_tracks_ids_at_the_latest_time_only() {
        let t1 = Utc.timestamp_opt(100, 0).unwrap();
        let t2 = Utc.timestamp_opt(200, 0).unwrap();
        let mut c = Checkpoint::default();
        c.observe(t1, "a", 10);
        c.observe(t2, "b", 10);
        c.observe(t2, "c", 10);
        c.observe(t1, "late", 10);
        assert_eq!(c.high_water, Some(t2));
        assert_eq!(c.high_water_ids, vec!["b", "c"]);
        assert!(c.already_delivered(t2, "c"));
        assert!(!c.already_delivered(t2, "d"));
        assert!(!c.already_delivered(t1, "a"));
        assert_eq!(c.delivered, 4);
    }

    #[test]
    fn ids_at_high_water_are_bounded() {
        let t = Utc.timestamp_opt(100, 0).unwrap();
        let mut c = Checkpoint::default();
        for i in 0..50 {
            c.observe(t, &i.to_string(), 8);
        }
        assert_eq!(c.high_water_ids.len(), 8);
    }
}
