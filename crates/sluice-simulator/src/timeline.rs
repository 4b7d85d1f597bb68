//! Vendor-agnostic mapping between an event's index and its timestamp.
//!
//! The simulator never materialises its event list: any event is recomputed from
//! `(seed, index)`. This module supplies the one piece that needs a global view — when
//! each index happened — in closed form, plus the inverse (first index at or after a
//! time) by binary search, so `since=T` costs `O(log n)` for any dataset size.
//!
//! # Shape of the timeline
//!
//! Events come in *groups* of 1–4 consecutive indices sharing one millisecond; this is
//! what exercises a client's dedup/tie-breaking logic. Group ends are decided per index
//! from a hash, with every index `≡ 1 (mod 4)` forced to end a group so no group can
//! exceed four events. The forced phase is deliberately not aligned with the common page
//! sizes (multiples of 4 like 100 or 1000 end *after* an index `≡ 3`), so ties regularly
//! straddle page boundaries.
//!
//! A group's time is a linear function of the index of its last member, which spreads
//! events evenly over `[anchor - span, anchor]` and puts the final event exactly at
//! `anchor`. When events are denser than one per millisecond, neighbouring groups can
//! also round to the same millisecond, producing longer runs of equal timestamps.

use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

use super::late::{LateEvents, Lateness};
use super::rng::{domain, hash3};

/// Chance that an index not forced to end a group ends one anyway.
const GROUP_END_PERCENT: u64 = 45;
const GROUP_PERIOD: u64 = 4;
const FORCED_END_PHASE: u64 = 1;

/// When each event index happened, for one simulator configuration.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    seed: u64,
    events: u64,
    start_ms: i64,
    span_ms: i64,
    /// Which events are published late (none unless [`Timeline::with_late`]).
    late: Lateness,
    /// How long after its time every event is published, in nanoseconds.
    publication_delay_ns: u64,
}

impl Timeline {
    /// `anchor` is truncated to whole milliseconds; `span` is clamped so the start stays
    /// within chrono's representable range (no arithmetic below can overflow).
    pub(crate) fn new(seed: u64, events: u64, anchor: DateTime<Utc>, span: Duration) -> Self {
        let anchor_ms = anchor.timestamp_millis();
        let earliest_ms = DateTime::<Utc>::MIN_UTC.timestamp_millis();
        let requested_ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        let start_ms = anchor_ms.saturating_sub(requested_ms).max(earliest_ms);
        Self {
            seed,
            events,
            start_ms,
            span_ms: anchor_ms - start_ms,
            late: Lateness::default(),
            publication_delay_ns: 0,
        }
    }

    /// The same timeline with every event published `delay` after its time (an API's
    /// documented buffer), besides any late ones' own delay.
    pub(crate) fn with_publication_delay(mut self, delay: Duration) -> Self {
        self.publication_delay_ns = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self
    }

    /// The same timeline with `late`'s share of events published late.
    pub(crate) fn with_late(mut self, late: &LateEvents) -> Self {
        self.late = Lateness::new(self.seed, late);
        self
    }

    /// Which events are late, and by how much.
    pub(crate) fn lateness(&self) -> &Lateness {
        &self.late
    }

    /// When event `index` becomes visible, in nanoseconds since the epoch: its time plus
    /// its delay.
    pub(crate) fn visible_at_ns(&self, index: u64) -> i128 {
        i128::from(self.published_ms(index)) * 1_000_000
            + i128::from(self.publication_delay_ns)
            + i128::from(self.late.delay_ns(index))
    }

    /// The earliest event `index` can become visible, in nanoseconds since the epoch: its
    /// time plus the publication delay, before any late delay of its own.
    pub(crate) fn earliest_visible_ns(&self, index: u64) -> i128 {
        i128::from(self.published_ms(index)) * 1_000_000 + i128::from(self.publication_delay_ns)
    }

    /// How much later than [`Timeline::earliest_visible_ns`] any event can become visible,
    /// in nanoseconds (the longest late delay; 0 without late events).
    pub(crate) fn max_late_ns(&self) -> u64 {
        self.late.max_delay_ns()
    }

    /// Whether event `index` is visible at `now_ns`: its time has come and it is not
    /// still held back as a late event.
    pub(crate) fn is_visible(&self, index: u64, now_ns: i128) -> bool {
        self.visible_at_ns(index) <= now_ns
    }

    pub(crate) fn len(&self) -> u64 {
        self.events
    }

    fn is_group_end(&self, index: u64) -> bool {
        index.saturating_add(1) >= self.events
            || index % GROUP_PERIOD == FORCED_END_PHASE
            || hash3(self.seed, domain::GROUP_END, index) % 100 < GROUP_END_PERCENT
    }

    /// Index of the last member of `index`'s group (at most 3 steps ahead, thanks to
    /// the forced group ends).
    fn group_end(&self, index: u64) -> u64 {
        let mut end = index;
        while !self.is_group_end(end) {
            end += 1;
        }
        end
    }

    /// Publication time of event `index` in epoch milliseconds.
    ///
    /// Non-decreasing in `index`. Indices past the end are clamped to the last event, so
    /// the function is total.
    pub(crate) fn published_ms(&self, index: u64) -> i64 {
        if self.events <= 1 {
            return self.start_ms + self.span_ms;
        }
        let last = self.events - 1;
        let end = self.group_end(index.min(last));
        // span_ms < 2^55 and end < 2^64, so the product fits in u128, and the quotient is
        // at most span_ms, so it fits back into i64.
        let offset = u128::from(self.span_ms as u64) * u128::from(end) / u128::from(last);
        self.start_ms + offset as i64
    }

    /// The smallest index whose time is `>= ms` (or `len()` if there is none).
    pub(crate) fn first_at_or_after(&self, ms: i64) -> u64 {
        let (mut lo, mut hi) = (0u64, self.events);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.published_ms(mid) < ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// The smallest whole millisecond not earlier than `t`.
///
/// Event times are whole milliseconds, so comparing them against `ceil_millis(t)` is
/// exact even when a client sends sub-millisecond precision.
pub(crate) fn ceil_millis(t: &DateTime<Utc>) -> i64 {
    let floor = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        floor
    } else {
        floor.saturating_add(1)
    }
}

/// RFC 3339 UTC with exactly three fractional digits, e.g. `2026-11-23T10:00:00.123Z`.
pub(crate) fn format_millis(ms: i64) -> String {
    // Timeline times always lie between a valid anchor and a clamped start, so the
    // fallback is unreachable in practice; it only keeps the function total.
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn timeline(events: u64) -> Timeline {
        Timeline::new(42, events, anchor(), Duration::from_secs(6 * 3600))
    }

    #[test]
    fn times_are_non_decreasing_and_bounded() {
        let t = timeline(10_000);
        let anchor_ms = anchor().timestamp_millis();
        let start_ms = anchor_ms - 6 * 3600 * 1000;
        let mut prev = i64::MIN;
        for i in 0..t.len() {
            let ms = t.published_ms(i);
            assert!(ms >= prev, "index {i} went back in time");
            assert!((start_ms..=anchor_ms).contains(&ms));
            prev = ms;
        }
        assert_eq!(t.published_ms(t.len() - 1), anchor_ms);
    }

    #[test]
    fn groups_of_one_to_four_share_a_millisecond() {
        let t = timeline(10_000);
        let mut sizes = [0usize; 5];
        let mut i = 0;
        while i < t.len() {
            let ms = t.published_ms(i);
            let mut j = i;
            while j < t.len() && t.published_ms(j) == ms {
                j += 1;
            }
            let size = (j - i) as usize;
            assert!((1..=4).contains(&size), "run of {size} at {i}");
            sizes[size] += 1;
            i = j;
        }
        assert!(sizes[1..].iter().all(|n| *n > 100), "{sizes:?}");
    }

    #[test]
    fn ties_straddle_hundred_event_pages() {
        let t = timeline(100_000);
        let straddling = (1..1000)
            .filter(|p| t.published_ms(p * 100 - 1) == t.published_ms(p * 100))
            .count();
        assert!(
            straddling > 100,
            "only {straddling} page boundaries split a tie"
        );
    }

    #[test]
    fn first_at_or_after_matches_a_linear_scan() {
        let t = timeline(500);
        let times: Vec<i64> = (0..t.len()).map(|i| t.published_ms(i)).collect();
        for probe in times.iter().flat_map(|ms| [ms - 1, *ms, ms + 1]) {
            let expected = times.iter().position(|ms| *ms >= probe).unwrap_or(500) as u64;
            assert_eq!(t.first_at_or_after(probe), expected);
        }
        assert_eq!(t.first_at_or_after(i64::MIN), 0);
        assert_eq!(t.first_at_or_after(i64::MAX), 500);
    }

    #[test]
    fn tiny_and_huge_timelines_are_well_defined() {
        assert_eq!(timeline(0).first_at_or_after(0), 0);
        let one = timeline(1);
        assert_eq!(one.published_ms(0), anchor().timestamp_millis());
        let big = Timeline::new(1, 10_000_000, anchor(), Duration::from_secs(3600));
        assert!(big.published_ms(9_999_998) <= big.published_ms(9_999_999));
        let mid = big.first_at_or_after(big.published_ms(5_000_000));
        assert!(mid <= 5_000_000 && 5_000_000 - mid < 8);
        let absurd = Timeline::new(1, 10, anchor(), Duration::MAX);
        assert!(absurd.published_ms(0) >= DateTime::<Utc>::MIN_UTC.timestamp_millis());
        assert_eq!(absurd.published_ms(9), anchor().timestamp_millis());
    }

    #[test]
    fn ceil_millis_rounds_sub_millisecond_up() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.1231Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ceil_millis(&t), t.timestamp_millis() + 1);
        assert_eq!(
            format_millis(anchor().timestamp_millis()),
            "2026-11-23T10:00:00.123Z"
        );
    }
}
