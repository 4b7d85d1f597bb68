//! The checkpoint: a source's durable position, and the intent of a commit in flight.
//!
//! A position has two parts with two lifetimes (see docs/architecture.md): the page reference
//! is fast to resume but may expire; the time anchor (window start, high-water time and the ids
//! delivered near it) never expires.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::trail::PageTrail;
use crate::model::SortOrder;

/// A source's committed position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Commits made so far; every commit adds one. Writes are conditional on it.
    pub seq: u64,
    /// Where the next window starts when none is in progress; `None` before the first run.
    pub anchor: Option<DateTime<Utc>>,
    /// The window being worked, if one is in progress.
    pub window: Option<Window>,
    /// The part of `window` being listed, when narrower than it: after an expired cursor the
    /// window is listed again from its time anchor, minus what was already delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Window>,
    /// The next page of the listing; `None` means its first page.
    pub page: Option<PageRef>,
    /// The latest event time delivered.
    pub high_water: Option<DateTime<Utc>>,
    /// Ids delivered at or after `high_water - overlap` (bounded), so re-served events are
    /// dropped.
    #[serde(default)]
    pub recent: DedupSet,
    /// Newest-first windows: the oldest time delivered so far in the window in progress, and
    /// the ids delivered at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_low: Option<LowWater>,
    /// No window of this key starts before this time. A backfill window starts here; a
    /// source's live tail starts here after its backlog was split into backfill windows, so
    /// its overlap never re-reads what those windows deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<DateTime<Utc>>,
    /// Backfill windows only: where the window ends. It is finished once `anchor` reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Sources only: backlogs split into windows that workers take in parallel, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backfills: Vec<Backfill>,
    /// Where this key's first window started: no window of it lists anything earlier, so a
    /// record dated before it is never delivered (it goes to the dead-letter queue). Unset
    /// for backfill windows (the windows around them list their neighbours) and in
    /// checkpoints written before Sluice kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_from: Option<DateTime<Utc>>,
    /// Digests of the last pages of the listing in progress, so an API that loops back to
    /// one of them is caught, even by the next run.
    #[serde(default, skip_serializing_if = "PageTrail::is_empty")]
    pub trail: PageTrail,
    /// Per lake sink name, the hash of the newest record of this key's manifest ledger
    /// chain (see `sink::lake::ledger`), as of this commit.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ledger: std::collections::BTreeMap<String, String>,
    /// Events delivered over the source's life.
    pub delivered: u64,
    /// When this checkpoint was committed.
    pub committed_at: Option<DateTime<Utc>>,
    /// Events delivered per hour of the week, learnt over weeks (the source's own key only),
    /// for the `volume_low` alert.
    #[serde(
        default,
        skip_serializing_if = "super::volume::VolumeProfile::is_empty"
    )]
    pub volume: super::volume::VolumeProfile,
    /// The source's active canary, if it has one: its last request, the newest matching
    /// event delivered, a failed request. Only the source's own key keeps it.
    #[serde(default, skip_serializing_if = "super::canary::CanaryState::is_empty")]
    pub canary: super::canary::CanaryState,
}

/// A backlog `[from, to)` split into windows of `step` that workers take in parallel. Window
/// `i` is `[from + i·step, min(from + (i+1)·step, to))`; each has its own checkpoint and
/// lease under [`crate::state::window_key`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    /// Names its windows' keys: the commit number of the source's checkpoint that recorded
    /// it, which no later backfill of the source shares.
    #[serde(default)]
    pub id: u64,
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Length of each window: at least [`MIN_BACKFILL_STEP`].
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "stored_step"
    )]
    pub step: std::time::Duration,
    /// Everything before this time is delivered. It advances only over a contiguous run of
    /// finished windows, however many later windows are already done.
    pub frontier: DateTime<Utc>,
    /// Ids the source delivered at the range's start before the split (its dedup set then),
    /// so the first window drops them if the API serves them again.
    #[serde(default, skip_serializing_if = "DedupSet::is_empty")]
    pub seed: DedupSet,
}

/// The shortest backfill window `sluice backfill` makes.
pub const MIN_BACKFILL_STEP: std::time::Duration = std::time::Duration::from_secs(1);

/// A stored backfill step, refused under [`MIN_BACKFILL_STEP`]: only a damaged or hand-edited
/// checkpoint has one, and a zero step splits the range into endless empty windows.
fn stored_step<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<std::time::Duration, D::Error> {
    let step: std::time::Duration = humantime_serde::deserialize(deserializer)?;
    if step < MIN_BACKFILL_STEP {
        return Err(serde::de::Error::custom(format!(
            "backfill step {} is shorter than {}",
            humantime::format_duration(step),
            humantime::format_duration(MIN_BACKFILL_STEP)
        )));
    }
    Ok(step)
}

/// One window of a [`Backfill`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillWindow {
    /// The [`Backfill::id`] of its backfill.
    pub backfill: u64,
    /// Its position in the backfill.
    pub index: u64,
    /// The time range it covers.
    pub range: Window,
}

impl Backfill {
    /// The backfill's windows, oldest first. Inner bounds are whole seconds: window `i > 0`
    /// starts `i` steps after the second `from` falls in, so every request time format can
    /// write them exactly and no instant falls between two windows.
    pub fn windows(&self) -> impl Iterator<Item = BackfillWindow> + '_ {
        self.windows_from(0)
    }

    /// The windows from window `first` on.
    fn windows_from(&self, first: u64) -> impl Iterator<Item = BackfillWindow> + '_ {
        let (step, base) = self.grid();
        let (from, to, backfill) = (self.from, self.to, self.id);
        let bound = move |index: u64| {
            i32::try_from(index)
                .ok()
                .and_then(|i| step.checked_mul(i))
                .and_then(|offset| base.checked_add_signed(offset))
        };
        (first..).map_while(move |index| {
            let start = if index == 0 { from } else { bound(index)? };
            if start >= to {
                return None;
            }
            let end = bound(index + 1).map_or(to, |end| end.min(to));
            Some(BackfillWindow {
                backfill,
                index,
                range: Window { start, end },
            })
        })
    }

    /// The step and the whole second the inner window bounds count from.
    fn grid(&self) -> (chrono::TimeDelta, DateTime<Utc>) {
        let step = chrono::Duration::from_std(self.step).unwrap_or(chrono::TimeDelta::MAX);
        let base = DateTime::from_timestamp(self.from.timestamp(), 0).unwrap_or(self.from);
        (step, base)
    }

    /// The windows not known to be finished: those from the frontier on. They start from
    /// the window before the frontier's, not from the first: a long range of short steps has
    /// billions of windows before it (the checkpoint property test took minutes on one).
    pub fn open_windows(&self) -> impl Iterator<Item = BackfillWindow> + '_ {
        let frontier = self.frontier;
        let (step, base) = self.grid();
        let steps = match (frontier - base)
            .num_milliseconds()
            .checked_div(step.num_milliseconds())
        {
            Some(steps) if steps > 1 => steps as u64 - 1,
            _ => 0,
        };
        self.windows_from(steps)
            .filter(move |w| w.range.end > frontier)
    }

    /// Moves the frontier over the contiguous run of windows that `finished` accepts.
    /// Returns whether it moved.
    pub fn advance(&mut self, finished: impl Fn(&BackfillWindow) -> bool) -> bool {
        let before = self.frontier;
        let mut frontier = before;
        for window in self.open_windows() {
            if !finished(&window) {
                break;
            }
            frontier = window.range.end;
        }
        self.frontier = frontier;
        frontier != before
    }

    /// Whether every window is finished.
    pub fn is_done(&self) -> bool {
        self.frontier >= self.to
    }
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
    /// A token sent back as `{cursor}`.
    Token(String),
    /// Records already listed, sent as `{offset}`.
    Offset(u64),
    /// Page number, sent as `{page}`.
    Page(u64),
}

/// The oldest event time delivered in a newest-first window, and the ids delivered at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowWater {
    /// Oldest time delivered so far in the window.
    pub time: DateTime<Utc>,
    /// Ids delivered at exactly that time.
    pub ids: Vec<String>,
}

/// A bounded set of delivered ids with their event times. Serialized as a list sorted by time
/// then id, so equal sets always serialize equally.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DedupSet {
    ids: HashMap<String, DateTime<Utc>>,
}

impl DedupSet {
    /// Whether `id` was delivered.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// Remembers a delivered id.
    pub fn insert(&mut self, id: &str, time: DateTime<Utc>) {
        self.ids.insert(id.to_string(), time);
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Forgets ids before `cutoff`, then the oldest ones beyond `capacity`. Returns how many
    /// ids at or after the cutoff had to be forgotten for capacity (each may be delivered
    /// again if re-served).
    pub fn prune(&mut self, cutoff: DateTime<Utc>, capacity: usize) -> usize {
        self.prune_protecting(cutoff, capacity, |_| false)
    }

    /// As [`DedupSet::prune`], but ids whose time `protect` accepts are forgotten for
    /// capacity only after all others.
    pub fn prune_protecting(
        &mut self,
        cutoff: DateTime<Utc>,
        capacity: usize,
        protect: impl Fn(DateTime<Utc>) -> bool,
    ) -> usize {
        self.ids.retain(|_, time| *time >= cutoff);
        if self.ids.len() <= capacity {
            return 0;
        }
        let excess = self.ids.len() - capacity;
        let mut entries: Vec<_> = self
            .ids
            .iter()
            .map(|(id, t)| (protect(*t), *t, id.clone()))
            .collect();
        entries.sort_unstable();
        let entries = entries.into_iter().map(|(_, t, id)| (t, id));
        for (_, id) in entries.into_iter().take(excess) {
            self.ids.remove(&id);
        }
        excess
    }

    fn sorted(&self) -> Vec<(DateTime<Utc>, &str)> {
        let mut entries: Vec<_> = self.ids.iter().map(|(id, t)| (*t, id.as_str())).collect();
        entries.sort_unstable();
        entries
    }
}

impl Serialize for DedupSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries: Vec<(&str, DateTime<Utc>)> =
            self.sorted().into_iter().map(|(t, id)| (id, t)).collect();
        entries.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DedupSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries: Vec<(String, DateTime<Utc>)> = Vec::deserialize(deserializer)?;
        Ok(DedupSet {
            ids: entries.into_iter().collect(),
        })
    }
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
    pub fn observe(&mut self, time: DateTime<Utc>, id: &str, order: SortOrder) {
        if self.high_water.is_none_or(|hw| time > hw) {
            self.high_water = Some(time);
        }
        self.recent.insert(id, time);
        if order == SortOrder::NewestFirst {
            match &mut self.window_low {
                Some(low) if time == low.time => low.ids.push(id.to_string()),
                Some(low) if time > low.time => {}
                _ => {
                    self.window_low = Some(LowWater {
                        time,
                        ids: vec![id.to_string()],
                    });
                }
            }
        }
        self.delivered += 1;
    }

    /// Whether an event was already delivered: its id is among the recent ones, or it sits at
    /// the low-water time of a newest-first window with an id seen there.
    pub fn already_delivered(&self, time: DateTime<Utc>, id: &str) -> bool {
        self.recent.contains(id)
            || self
                .window_low
                .as_ref()
                .is_some_and(|low| low.time == time && low.ids.iter().any(|seen| seen == id))
    }

    /// Forgets recent ids that no new window can re-serve: those before
    /// `high_water - overlap`. Returns how many had to be dropped for capacity.
    ///
    /// A newest-first window re-serves its bottom edge (`listing_start` up to the previous
    /// high-water time, `listing_start + overlap`) only on its last page, long after its first
    /// page raised the high-water time; the ids there are kept until the window is done.
    pub fn prune_recent(
        &mut self,
        overlap: std::time::Duration,
        capacity: usize,
        order: SortOrder,
        listing_start: DateTime<Utc>,
    ) -> usize {
        let Some(hw) = self.high_water else { return 0 };
        let top = crate::timemath::minus(hw, overlap);
        match order {
            SortOrder::Ascending => self.recent.prune(top, capacity),
            SortOrder::NewestFirst => {
                let bottom_end = crate::timemath::plus(listing_start, overlap);
                self.recent
                    .prune_protecting(listing_start.min(top), capacity, |t| {
                        t <= bottom_end || t >= top
                    })
            }
        }
    }

    /// Backfill windows: whether the window's whole range is delivered.
    pub fn is_finished_window(&self) -> bool {
        self.until
            .is_some_and(|until| self.window.is_none() && self.anchor.is_some_and(|a| a >= until))
    }

    /// Where everything before is delivered: the oldest backfill frontier, else the anchor.
    pub fn frontier(&self) -> Option<DateTime<Utc>> {
        self.backfills
            .iter()
            .filter(|b| !b.is_done())
            .map(|b| b.frontier)
            .min()
            .or(self.anchor)
    }

    /// The range the next request lists: the narrowed listing if any, else the window.
    pub fn listing(&self) -> Option<Window> {
        self.listing.or(self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn recent_ids_cover_the_overlap_and_are_pruned_behind_it() {
        let mut c = Checkpoint::default();
        c.observe(t(100), "a", SortOrder::Ascending);
        c.observe(t(200), "b", SortOrder::Ascending);
        c.observe(t(200), "c", SortOrder::Ascending);
        c.observe(t(150), "late", SortOrder::Ascending);
        assert_eq!(c.high_water, Some(t(200)));
        assert!(c.already_delivered(t(100), "a"));
        c.prune_recent(Duration::from_secs(60), 100, SortOrder::Ascending, t(0));
        assert!(
            !c.already_delivered(t(100), "a"),
            "behind the overlap: forgotten"
        );
        assert!(c.already_delivered(t(150), "late"));
        assert!(c.already_delivered(t(200), "c"));
        assert_eq!(c.delivered, 4);
    }

    #[test]
    fn capacity_drops_the_oldest_ids() {
        let mut c = Checkpoint::default();
        for i in 0..50 {
            c.observe(t(i), &i.to_string(), SortOrder::Ascending);
        }
        assert_eq!(
            c.prune_recent(Duration::from_secs(1000), 8, SortOrder::Ascending, t(0)),
            42
        );
        assert_eq!(c.recent.len(), 8);
        assert!(c.already_delivered(t(49), "49"));
        assert!(!c.already_delivered(t(41), "41"));
    }

    #[test]
    fn newest_first_tracks_the_low_water_ids() {
        let mut c = Checkpoint::default();
        for (s, id) in [(300, "x"), (200, "y"), (200, "z")] {
            c.observe(t(s), id, SortOrder::NewestFirst);
        }
        assert_eq!(
            c.window_low,
            Some(LowWater {
                time: t(200),
                ids: vec!["y".into(), "z".into()]
            })
        );
        c.recent = DedupSet::default();
        assert!(c.already_delivered(t(200), "z"));
        assert!(!c.already_delivered(t(200), "w"));
    }

    #[test]
    fn newest_first_keeps_the_window_bottom_edge_until_the_window_is_done() {
        let mut c = Checkpoint::default();
        // The previous window ended with events at t(100); the new window starts there.
        c.observe(t(100), "edge", SortOrder::Ascending);
        for (s, id) in [(500, "n1"), (400, "n2"), (300, "n3")] {
            c.observe(t(s), id, SortOrder::NewestFirst);
            c.prune_recent(Duration::ZERO, 100, SortOrder::NewestFirst, t(100));
        }
        assert!(
            c.already_delivered(t(100), "edge"),
            "re-served on the window's last page"
        );
        // Under capacity pressure the middle goes first, both edges stay.
        c.prune_recent(Duration::ZERO, 2, SortOrder::NewestFirst, t(100));
        assert!(c.already_delivered(t(100), "edge"));
        assert!(c.already_delivered(t(500), "n1"));
        assert!(!c.recent.contains("n2"));
    }

    /// Found by the checkpoint property test: a high-water time or listing start near the
    /// calendar's ends (a damaged checkpoint), or an overlap longer than the calendar
    /// (`max_window = "300000y"` and `overlap = "200000y"` load), panicked while pruning.
    #[test]
    fn pruning_at_the_ends_of_the_calendar_does_not_panic() {
        let eons = Duration::from_secs(300_000 * 366 * 86_400);
        for order in [SortOrder::Ascending, SortOrder::NewestFirst] {
            let mut c = Checkpoint::default();
            c.observe(t(100), "a", order);
            assert_eq!(c.prune_recent(eons, 10, order, t(0)), 0);
            assert!(c.already_delivered(t(100), "a"));
            c.observe(DateTime::<Utc>::MIN_UTC, "min", order);
            c.prune_recent(Duration::from_secs(60), 10, order, DateTime::<Utc>::MAX_UTC);
            let mut edge = Checkpoint::default();
            edge.observe(DateTime::<Utc>::MAX_UTC, "max", order);
            edge.prune_recent(Duration::from_secs(60), 10, order, DateTime::<Utc>::MAX_UTC);
            assert!(edge.already_delivered(DateTime::<Utc>::MAX_UTC, "max"));
        }
    }

    fn backfill(from: i64, to: i64, step: u64) -> Backfill {
        Backfill {
            id: 1,
            from: t(from),
            to: t(to),
            step: Duration::from_secs(step),
            frontier: t(from),
            seed: DedupSet::default(),
        }
    }

    #[test]
    fn backfill_windows_tile_the_range_and_the_last_is_cut_at_its_end() {
        let b = backfill(0, 250, 100);
        let ranges: Vec<_> = b
            .windows()
            .map(|w| (w.index, w.range.start, w.range.end))
            .collect();
        assert_eq!(
            ranges,
            vec![(0, t(0), t(100)), (1, t(100), t(200)), (2, t(200), t(250))]
        );
    }

    #[test]
    fn backfill_windows_after_the_first_start_on_whole_seconds() {
        let mut b = backfill(0, 250, 100);
        b.from = t(0) + chrono::Duration::milliseconds(300);
        let ranges: Vec<_> = b.windows().map(|w| (w.range.start, w.range.end)).collect();
        assert_eq!(ranges[0], (b.from, t(100)));
        assert_eq!(ranges[1], (t(100), t(200)));
    }

    /// Found by the checkpoint property test: a stored backfill with a zero step (damaged or
    /// hand-edited; `sluice backfill` never makes one) split its range into endless empty
    /// windows, and `sluice status` or a run walking them never returned.
    #[test]
    fn a_stored_backfill_step_under_a_second_is_refused() {
        let mut stored = serde_json::to_value(backfill(0, 250, 100)).unwrap();
        for step in ["0s", "999ms"] {
            stored["step"] = step.into();
            let err = serde_json::from_value::<Backfill>(stored.clone()).unwrap_err();
            assert!(err.to_string().contains("step"), "{err}");
        }
        stored["step"] = "1s".into();
        let one = serde_json::from_value::<Backfill>(stored).unwrap();
        assert_eq!(one.windows().count(), 250);
    }

    #[test]
    fn open_windows_start_at_the_frontier_whatever_its_offset() {
        let mut b = backfill(0, 1000, 7);
        b.from = t(0) + chrono::Duration::milliseconds(300);
        for frontier in [0, 1, 6, 7, 8, 13, 14, 500, 993, 994, 999, 1000] {
            b.frontier = t(frontier);
            let walked: Vec<_> = b.windows().filter(|w| w.range.end > b.frontier).collect();
            assert_eq!(
                b.open_windows().collect::<Vec<_>>(),
                walked,
                "frontier {frontier}"
            );
        }
        // Two billion one-second windows before the frontier: found at once.
        let mut long = backfill(0, 1 << 31, 1);
        long.frontier = t((1 << 31) - 2);
        assert_eq!(long.open_windows().count(), 2);
    }

    #[test]
    fn frontier_moves_only_over_contiguous_finished_windows() {
        let mut b = backfill(0, 400, 100);
        // Windows 1 and 2 finished first: the frontier cannot pass unfinished window 0.
        let done = |starts: &'static [i64]| {
            move |w: &BackfillWindow| starts.iter().any(|x| t(*x) == w.range.start)
        };
        assert!(!b.advance(done(&[100, 200])));
        assert_eq!(b.frontier, t(0));
        assert!(b.advance(done(&[0, 100, 200])));
        assert_eq!(b.frontier, t(300));
        assert_eq!(b.open_windows().count(), 1);
        assert!(!b.is_done());
        assert!(b.advance(done(&[300])));
        assert!(b.is_done());
    }

    #[test]
    fn source_frontier_is_the_oldest_unfinished_backfill() {
        let mut c = Checkpoint {
            anchor: Some(t(1000)),
            ..Checkpoint::default()
        };
        assert_eq!(c.frontier(), Some(t(1000)));
        let mut b = backfill(0, 400, 100);
        b.frontier = t(200);
        c.backfills.push(b);
        assert_eq!(c.frontier(), Some(t(200)));
        c.backfills[0].frontier = t(400);
        assert_eq!(
            c.frontier(),
            Some(t(1000)),
            "a finished backfill no longer holds it back"
        );
    }

    #[test]
    fn dedup_set_serializes_canonically() {
        let mut a = DedupSet::default();
        let mut b = DedupSet::default();
        for (id, s) in [("b", 2), ("a", 1), ("c", 2)] {
            a.insert(id, t(s));
        }
        for (id, s) in [("c", 2), ("b", 2), ("a", 1)] {
            b.insert(id, t(s));
        }
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(text, serde_json::to_string(&b).unwrap());
        assert_eq!(serde_json::from_str::<DedupSet>(&text).unwrap(), a);
    }
}
