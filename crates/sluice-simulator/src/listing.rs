//! Pages of a vendor listing: which events one request serves, and where the next page
//! starts.
//!
//! Profiles differ in how they write positions (cursors, offsets, links) and in their
//! order, but all walk the same timeline and serve only what is visible at the time of the
//! request (see [`super::late`]): an event still held back as late is skipped, and a
//! listing that has moved past it never returns to it, just as a real API's cursor does
//! not. A client finds such events only by listing their window again, later.

use std::ops::Range;

use super::late::now_ns;
use super::timeline::Timeline;

/// The order a listing walks the timeline in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Oldest first: a position is the next index to look at.
    Ascending,
    /// Newest first: a position is the exclusive upper end of what is left.
    Descending,
}

/// One page: the indices served, in order, and the position of the next page when visible
/// events of the listing remain.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) indices: Vec<u64>,
    pub(crate) next: Option<u64>,
}

/// A listing of the events in `range` (timeline indices), as seen at `now_ns`.
pub(crate) struct Listing<'a> {
    timeline: &'a Timeline,
    range: Range<u64>,
    direction: Direction,
    now_ns: i128,
}

impl<'a> Listing<'a> {
    /// A listing of `range` as visible now.
    pub(crate) fn new(timeline: &'a Timeline, range: Range<u64>, direction: Direction) -> Self {
        Self::at(timeline, range, direction, now_ns())
    }

    /// A listing of `range` as visible at `now_ns` (nanoseconds since the epoch).
    pub(crate) fn at(
        timeline: &'a Timeline,
        range: Range<u64>,
        direction: Direction,
        now_ns: i128,
    ) -> Self {
        let range = range.start..range.end.max(range.start);
        Self {
            timeline,
            range,
            direction,
            now_ns,
        }
    }

    /// Where a listing starts.
    pub(crate) fn first_position(&self) -> u64 {
        match self.direction {
            Direction::Ascending => self.range.start,
            Direction::Descending => self.range.end,
        }
    }

    /// At most `limit` visible indices that `admit` accepts, from `position` on, and the
    /// next position if any such index remains after them.
    pub(crate) fn page(&self, position: u64, limit: usize, admit: impl Fn(u64) -> bool) -> Page {
        let wanted = |i: u64| admit(i) && self.timeline.is_visible(i, self.now_ns);
        let Range { start: lo, end: hi } = self.range;
        let mut indices = Vec::with_capacity(limit.min(1024));
        match self.direction {
            Direction::Ascending => {
                let mut position = position.clamp(lo, hi);
                while position < hi && indices.len() < limit {
                    if wanted(position) {
                        indices.push(position);
                    }
                    position += 1;
                }
                let more = (position..hi).any(wanted);
                Page {
                    indices,
                    next: more.then_some(position),
                }
            }
            Direction::Descending => {
                let mut position = position.clamp(lo, hi);
                while position > lo && indices.len() < limit {
                    position -= 1;
                    if wanted(position) {
                        indices.push(position);
                    }
                }
                let more = (lo..position).rev().any(wanted);
                Page {
                    indices,
                    next: more.then_some(position),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::LateEvents;

    fn timeline(late: f64) -> Timeline {
        let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Timeline::new(3, 1_000, anchor, Duration::from_secs(1_000)).with_late(&LateEvents {
            fraction: late,
            max_delay: Duration::from_secs(30),
        })
    }

    fn all_pages(listing: &Listing<'_>, limit: usize) -> Vec<u64> {
        let mut seen = Vec::new();
        let mut position = Some(listing.first_position());
        while let Some(at) = position {
            let page = listing.page(at, limit, |_| true);
            assert!(page.indices.len() <= limit);
            seen.extend(page.indices);
            position = page.next;
        }
        seen
    }

    #[test]
    fn both_directions_serve_the_range_once_in_order() {
        let timeline = timeline(0.0);
        let far_future = i128::MAX;
        let up = Listing::at(&timeline, 10..500, Direction::Ascending, far_future);
        assert_eq!(all_pages(&up, 7), (10..500).collect::<Vec<_>>());
        let down = Listing::at(&timeline, 10..500, Direction::Descending, far_future);
        assert_eq!(all_pages(&down, 7), (10..500).rev().collect::<Vec<_>>());
        let empty = Listing::at(&timeline, 5..5, Direction::Ascending, far_future);
        assert_eq!(
            empty.page(5, 10, |_| true),
            Page {
                indices: vec![],
                next: None
            }
        );
    }

    #[test]
    fn events_not_yet_visible_are_skipped_and_future_ones_end_the_listing() {
        let timeline = timeline(0.3);
        // Halfway through the timeline: later events are in the future, and some of the
        // earlier ones are still held back.
        let now = i128::from(timeline.published_ms(500)) * 1_000_000;
        let listing = Listing::at(&timeline, 0..1_000, Direction::Ascending, now);
        let served = all_pages(&listing, 50);
        let visible: Vec<u64> = (0..1_000)
            .filter(|i| timeline.is_visible(*i, now))
            .collect();
        assert_eq!(served, visible);
        let due = (0..1_000)
            .filter(|i| i128::from(timeline.published_ms(*i)) * 1_000_000 <= now)
            .count();
        assert!(served.len() < due, "late events near now are held back");
        assert!(served.iter().all(|i| *i <= 500), "nothing from the future");
    }
}
