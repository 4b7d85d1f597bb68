//! A source's volume per hour over the last day, from its recorded runs: the status page's
//! chart. The stores keep a bounded history per source (the last 100 runs), so with a short
//! schedule the day is only partly known; the hours before the oldest kept run are marked
//! unknown rather than shown as empty, which would look like an outage.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::state::{RunRecord, StateError, StateStore};

/// Hours shown: the current clock hour and the 23 before it.
pub const HOURS: usize = 24;

/// Runs read per source. The stores keep 100 per source, so asking for more would change
/// nothing; a history of exactly this many may be cut short.
const RUNS_READ: usize = 100;

/// One clock hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Hour {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Events delivered by the runs that ended in it.
    pub events: u64,
    /// Runs that ended in it.
    pub runs: u32,
    /// Of those, runs that failed.
    pub failed: u32,
    /// Whether the kept history reaches back over the whole hour; `false` when runs of it
    /// may have been pruned (then `events` counts only the runs still kept).
    pub known: bool,
}

/// The last [`HOURS`] clock hours, oldest first; the last one is the current (partial) hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Hourly {
    /// The hours.
    pub hours: Vec<Hour>,
    /// Where the kept history starts, when older runs may have been pruned.
    pub history_from: Option<DateTime<Utc>>,
}

impl Hourly {
    /// The largest hour's count.
    pub fn peak(&self) -> u64 {
        self.hours.iter().map(|h| h.events).max().unwrap_or(0)
    }

    /// Events in all the hours shown.
    pub fn total(&self) -> u64 {
        self.hours.iter().map(|h| h.events).sum()
    }
}

/// Reads `source`'s recorded runs from `store` and counts them per hour up to `now`.
pub async fn events_per_hour(
    store: &dyn StateStore,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Hourly, StateError> {
    let runs = store.recent_runs(source, RUNS_READ).await?;
    Ok(hourly(&runs, runs.len() >= RUNS_READ, now))
}

/// Counts `runs` (any order) per clock hour of the day before `now`, each run in the hour it
/// ended in (when its events were committed). `truncated`: older runs may have been pruned.
pub fn hourly(runs: &[RunRecord], truncated: bool, now: DateTime<Utc>) -> Hourly {
    let hour = TimeDelta::hours(1);
    // Rounding down to the hour only fails for times near the ends of chrono's range.
    let current = now.duration_trunc(hour).unwrap_or(now);
    let first = current - hour * (HOURS as i32 - 1);
    let history_from = truncated
        .then(|| runs.iter().map(|r| r.started_at).min())
        .flatten();
    let mut hours: Vec<Hour> = (0..HOURS as i32)
        .map(|i| {
            let start = first + hour * i;
            Hour {
                start,
                events: 0,
                runs: 0,
                failed: 0,
                known: history_from.is_none_or(|from| from <= start),
            }
        })
        .collect();
    for run in runs {
        if run.finished_at < first || run.finished_at >= current + hour {
            continue;
        }
        let index = ((run.finished_at - first).num_seconds() / 3600) as usize;
        let Some(slot) = hours.get_mut(index) else {
            continue;
        };
        slot.events += run.events;
        slot.runs += 1;
        if run.error.is_some() {
            slot.failed += 1;
        }
    }
    Hourly {
        hours,
        history_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn run(finished: &str, events: u64, failed: bool) -> RunRecord {
        let finished_at = at(finished);
        RunRecord {
            kind: None,
            source: "okta".into(),
            started_at: finished_at - TimeDelta::seconds(30),
            finished_at,
            error: failed.then(|| "HTTP 500".to_string()),
            events,
            pages: 1,
        }
    }

    #[test]
    fn runs_count_in_the_clock_hour_they_ended_in() {
        let now = at("2026-03-02T10:20:00Z");
        let runs = [
            run("2026-03-02T10:05:00Z", 7, false),
            run("2026-03-02T09:59:59Z", 5, false),
            run("2026-03-02T09:00:00Z", 3, true),
            // The first hour shown starts at 11:00 the day before; this is before it.
            run("2026-03-01T10:59:59Z", 1000, false),
            run("2026-03-01T11:00:00Z", 2, false),
        ];
        let day = hourly(&runs, false, now);
        assert_eq!(day.hours.len(), HOURS);
        assert_eq!(day.hours[0].start, at("2026-03-01T11:00:00Z"));
        assert_eq!(day.hours[0].events, 2);
        let last = &day.hours[HOURS - 1];
        assert_eq!(
            (last.start, last.events, last.runs),
            (at("2026-03-02T10:00:00Z"), 7, 1)
        );
        let before = &day.hours[HOURS - 2];
        assert_eq!((before.events, before.runs, before.failed), (8, 2, 1));
        assert_eq!(day.total(), 17);
        assert_eq!(day.peak(), 8);
        assert!(day.hours.iter().all(|h| h.known));
    }

    #[test]
    fn hours_before_a_pruned_history_are_unknown_not_empty() {
        let now = at("2026-03-02T10:20:00Z");
        let runs = [run("2026-03-02T08:10:00Z", 4, false)];
        let day = hourly(&runs, true, now);
        assert_eq!(day.history_from, Some(at("2026-03-02T08:09:30Z")));
        let known: Vec<bool> = day.hours.iter().map(|h| h.known).collect();
        // 08:00 started before the history did: runs of it may be gone.
        assert_eq!(known.iter().filter(|k| **k).count(), 2, "{known:?}");
        assert!(day.hours[HOURS - 1].known && day.hours[HOURS - 2].known);
        assert!(!day.hours[HOURS - 3].known);
        assert_eq!(hourly(&[], false, now).peak(), 0);
    }
}
