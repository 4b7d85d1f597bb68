//! Window planning: which time range to request next, from the checkpoint alone.
//!
//! Windows start at the checkpoint's anchor, which is the last delivered event's time (never
//! the wall clock), so a late or skipped schedule never opens a gap. They end at the run's
//! horizon (`now - settle_delay`, fixed when the run starts) or after `max_window`.

use chrono::{DateTime, Utc};

use crate::model::TimeFormat;
use crate::source::config::WindowConfig;
use crate::state::{Checkpoint, Window};
use crate::timemath::{minus, plus};

/// The window to work next: the one in progress, else a new one from the anchor. `None` when
/// the source is caught up to `horizon`.
pub fn next_window(
    checkpoint: &Checkpoint,
    config: &WindowConfig,
    horizon: DateTime<Utc>,
) -> Option<Window> {
    if let Some(window) = checkpoint.window {
        return Some(window);
    }
    let start = match checkpoint.anchor {
        Some(anchor) => minus(anchor, config.overlap),
        // Cut to what the request format can write, like the end: an API told "from 10"
        // (seconds) serves [10.0, 10.5) too, which would then lie before the source's first
        // window and be dead-lettered as out of range.
        None => crate::timefmt::truncate(minus(horizon, config.lookback), &config.format),
    };
    let start = checkpoint.floor.map_or(start, |floor| start.max(floor));
    // The end is cut to what the request format can write: an API told "until 10" (seconds)
    // would leave out [10.0, 10.5) while Sluice believed it had listed up to 10.5.
    let end = crate::timefmt::truncate(horizon.min(plus(start, config.max_window)), &config.format);
    (end > start).then_some(Window { start, end })
}

/// Where the next window starts once `window` has been listed completely; `anchor` is where
/// it was planned from (the window starts `overlap` before it).
///
/// At the high-water time when the window delivered events after its anchor: events that
/// share that millisecond may still arrive, and the ids kept at the high-water time drop the
/// ones already delivered. Otherwise at the window's end: a high-water time inside the
/// overlap is the old anchor, and staying there would plan the same window forever. Either
/// way the anchor moves forward, so planning always progresses.
pub fn anchor_after(
    window: &Window,
    high_water: Option<DateTime<Utc>>,
    anchor: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let new_from = anchor.map_or(window.start, |a| a.max(window.start));
    match high_water {
        Some(hw) if hw > new_from && hw < window.end => hw,
        _ => window.end,
    }
}

/// As [`anchor_after`], for a window listed in `format`. An API that takes dates cannot be
/// asked for part of a day, so a (settled) window of whole days is complete and the next one
/// starts at its end: starting at the high-water time instead, the request would round back
/// to that day's start and list the whole day again on every run until the next midnight.
pub fn anchor_after_listing(
    window: &Window,
    high_water: Option<DateTime<Utc>>,
    anchor: Option<DateTime<Utc>>,
    format: &TimeFormat,
) -> DateTime<Utc> {
    if crate::timefmt::precision(format) >= chrono::Duration::days(1) {
        window.end
    } else {
        anchor_after(window, high_water, anchor)
    }
}

/// The first half of `window`, for an API without pagination that answered it with a full
/// page (there is no way to ask for the rest): the window is listed again in halves until
/// each answers a short page. What is halved is the part after `anchor` (the overlap before
/// it stays in), so each half moves the anchor on; the split point is cut to what the
/// request format can write. `None` when that part is too short to split.
pub fn first_half(
    window: &Window,
    anchor: Option<DateTime<Utc>>,
    format: &TimeFormat,
) -> Option<Window> {
    first_part(window, anchor, format, None)
}

/// As [`first_half`], but ending at `complete_until` (cut to what the request format can
/// write) when that lies inside the part to split: an API that lists oldest first and cut its
/// answer holds every record before the latest one it served, so the window is split there
/// and that first part is complete; the middle otherwise.
pub fn first_part(
    window: &Window,
    anchor: Option<DateTime<Utc>>,
    format: &TimeFormat,
    complete_until: Option<DateTime<Utc>>,
) -> Option<Window> {
    let new_from = anchor
        .filter(|a| *a > window.start && *a < window.end)
        .unwrap_or(window.start);
    let middle = crate::timefmt::truncate(new_from + (window.end - new_from) / 2, format);
    let cut = complete_until.map(|t| crate::timefmt::truncate(t, format));
    // In whole seconds (or days) the middle of a short window may fall back onto its start;
    // the next whole step may still lie inside it.
    cut.into_iter()
        .chain([middle, middle + crate::timefmt::precision(format)])
        .find(|end| *end > new_from && *end < window.end)
        .map(|end| Window {
            start: window.start,
            end,
        })
}

/// The horizon of a run that starts at `now`, at the precision the request format writes
/// (whole milliseconds at best: APIs rarely accept finer window bounds). The last window ends
/// exactly there, which is how a run knows it is caught up: a horizon finer than the windows'
/// ends would never be reached, and each window would plan the next from the overlap before
/// its end, re-listing it for as long as the run lasts.
pub fn horizon(now: DateTime<Utc>, config: &WindowConfig) -> DateTime<Utc> {
    let horizon = minus(now, config.settle_delay);
    let millis = DateTime::from_timestamp_millis(horizon.timestamp_millis()).unwrap_or(horizon);
    crate::timefmt::truncate(millis, &config.format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    fn cfg() -> WindowConfig {
        WindowConfig {
            lookback: Duration::from_secs(1000),
            max_window: Duration::from_secs(300),
            ..WindowConfig::default()
        }
    }

    #[test]
    fn a_cut_oldest_first_answer_splits_at_its_latest_record() {
        let w = Window {
            start: t(100),
            end: t(200),
        };
        let seconds = TimeFormat::EpochSeconds;
        // Cut to the second the format writes; the first part ends there.
        let at = t(130) + chrono::Duration::milliseconds(700);
        assert_eq!(
            first_part(&w, None, &seconds, Some(at)).unwrap().end,
            t(130)
        );
        // At the start (every record in its first second) or past the end: the middle.
        assert_eq!(
            first_part(&w, None, &seconds, Some(t(100))).unwrap().end,
            t(150)
        );
        assert_eq!(
            first_part(&w, None, &seconds, Some(t(250))).unwrap().end,
            t(150)
        );
        assert_eq!(
            first_part(&w, None, &seconds, None),
            first_half(&w, None, &seconds)
        );
    }

    #[test]
    fn windows_of_whole_days_are_aligned_and_move_on_from_their_end() {
        let days = TimeFormat::Strftime("%Y-%m-%d".into());
        let day = 86_400;
        let config = WindowConfig {
            format: days.clone(),
            lookback: Duration::from_secs(7 * day as u64),
            max_window: Duration::from_secs(2 * day as u64),
            settle_delay: Duration::from_secs(3600),
            ..WindowConfig::default()
        };
        // 10:00 on day 20: the horizon is the start of day 20 (09:00 is settled).
        let now = t(20 * day + 10 * 3600);
        let settled = horizon(now, &config);
        assert_eq!(settled, t(20 * day));
        let first = next_window(&Checkpoint::default(), &config, settled).unwrap();
        assert_eq!(
            first,
            Window {
                start: t(13 * day),
                end: t(15 * day)
            }
        );
        // Its last event at 18:00 on day 14: the next window still starts at midnight.
        let high = t(14 * day + 18 * 3600);
        let hw = Some(high);
        assert_eq!(anchor_after_listing(&first, hw, None, &days), t(15 * day));
        // Other formats keep the high-water time.
        let millis = TimeFormat::Rfc3339;
        assert_eq!(anchor_after_listing(&first, hw, None, &millis), high);
        // A day that ended less than settle_delay ago is not listed yet.
        let early = horizon(t(20 * day + 1800), &config);
        assert_eq!(early, t(19 * day));
        let caught_up = Checkpoint {
            anchor: Some(t(19 * day)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&caught_up, &config, early), None);
    }

    #[test]
    fn first_window_starts_a_lookback_ago_and_is_capped() {
        let w = next_window(&Checkpoint::default(), &cfg(), t(10_000)).unwrap();
        assert_eq!(
            w,
            Window {
                start: t(9_000),
                end: t(9_300)
            }
        );
    }

    #[test]
    fn later_windows_start_at_the_anchor_not_the_clock() {
        let c = Checkpoint {
            anchor: Some(t(9_950)),
            ..Checkpoint::default()
        };
        let w = next_window(&c, &cfg(), t(10_000)).unwrap();
        assert_eq!(
            w,
            Window {
                start: t(9_950),
                end: t(10_000)
            }
        );
        let caught_up = Checkpoint {
            anchor: Some(t(10_000)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&caught_up, &cfg(), t(10_000)), None);
    }

    #[test]
    fn overlap_starts_the_next_window_before_the_anchor() {
        let config = WindowConfig {
            overlap: Duration::from_secs(30),
            ..cfg()
        };
        let c = Checkpoint {
            anchor: Some(t(9_950)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&c, &config, t(10_000)).unwrap().start, t(9_920));
    }

    #[test]
    fn window_ends_are_cut_to_the_request_format() {
        let config = WindowConfig {
            format: crate::model::TimeFormat::EpochSeconds,
            ..cfg()
        };
        let horizon = t(10_000) + chrono::Duration::milliseconds(750);
        let c = Checkpoint {
            anchor: Some(t(9_950)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&c, &config, horizon).unwrap().end, t(10_000));
    }

    #[test]
    fn the_horizon_is_what_the_request_format_can_write() {
        let config = WindowConfig {
            format: crate::model::TimeFormat::EpochSeconds,
            settle_delay: Duration::from_secs(60),
            ..cfg()
        };
        let now = t(10_060) + chrono::Duration::milliseconds(750);
        let horizon = horizon(now, &config);
        assert_eq!(horizon, t(10_000));
        // So the last window of a run ends at the horizon, and the run knows it is done.
        let c = Checkpoint {
            anchor: Some(t(9_950)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&c, &config, horizon).unwrap().end, horizon);
    }

    #[test]
    fn a_first_window_starts_where_the_request_format_can_write() {
        // Written in whole seconds, a start at 9000.750 would be asked as 9000, and the
        // events of [9000.0, 9000.750) would lie before the source's first window.
        let config = WindowConfig {
            format: crate::model::TimeFormat::EpochSeconds,
            ..cfg()
        };
        let horizon = t(10_000) + chrono::Duration::milliseconds(750);
        let first = next_window(&Checkpoint::default(), &config, horizon).unwrap();
        assert_eq!(first.start, t(9_000));
    }

    #[test]
    fn a_window_in_progress_is_resumed_as_saved() {
        let w = Window {
            start: t(1),
            end: t(2),
        };
        let c = Checkpoint {
            window: Some(w),
            anchor: Some(t(500)),
            ..Checkpoint::default()
        };
        assert_eq!(next_window(&c, &cfg(), t(10_000)), Some(w));
    }

    #[test]
    fn windows_split_in_halves_down_to_what_the_format_can_write() {
        let w = Window {
            start: t(100),
            end: t(200),
        };
        let millis = TimeFormat::EpochMillis;
        assert_eq!(
            first_half(&w, None, &millis),
            Some(Window {
                start: t(100),
                end: t(150)
            })
        );
        let ms = |n| t(100) + chrono::Duration::milliseconds(n);
        let tiny = Window {
            start: t(100),
            end: ms(3),
        };
        assert_eq!(first_half(&tiny, None, &millis).unwrap().end, ms(1));
        let one = Window {
            start: t(100),
            end: ms(1),
        };
        assert_eq!(first_half(&one, None, &millis), None);
        // Whole seconds: a 1.5 s window splits at its whole second, a 1 s window not at all.
        let seconds = TimeFormat::EpochSeconds;
        let odd = Window {
            start: t(100),
            end: t(101) + chrono::Duration::milliseconds(500),
        };
        assert_eq!(first_half(&odd, None, &seconds).unwrap().end, t(101));
        let second = Window {
            start: t(100),
            end: t(101),
        };
        assert_eq!(first_half(&second, None, &seconds), None);
        let two = Window {
            start: t(100),
            end: t(102),
        };
        assert_eq!(first_half(&two, None, &seconds).unwrap().end, t(101));
        // The overlap before the anchor stays in; what follows the anchor is halved.
        let overlapping = Window {
            start: t(100),
            end: t(200),
        };
        assert_eq!(
            first_half(&overlapping, Some(t(180)), &millis),
            Some(Window {
                start: t(100),
                end: t(190)
            })
        );
        let at_end = Window {
            start: t(100),
            end: t(180) + chrono::Duration::milliseconds(1),
        };
        assert_eq!(first_half(&at_end, Some(t(180)), &millis), None);
    }

    #[test]
    fn anchor_moves_to_high_water_or_window_end_and_always_forward() {
        let w = Window {
            start: t(100),
            end: t(200),
        };
        assert_eq!(anchor_after(&w, Some(t(150)), None), t(150));
        assert_eq!(anchor_after(&w, None, None), t(200));
        assert_eq!(anchor_after(&w, Some(t(50)), None), t(200));
        // All events at the window start: nothing else is in the window, move past it.
        assert_eq!(anchor_after(&w, Some(t(100)), None), t(200));
        // A window planned from anchor 130 (overlap 30) that delivered nothing new: its
        // high-water time is still the anchor, and the anchor must move past the window.
        assert_eq!(anchor_after(&w, Some(t(130)), Some(t(130))), t(200));
        assert_eq!(anchor_after(&w, Some(t(150)), Some(t(130))), t(150));
    }

    #[test]
    fn quiet_windows_after_an_overlap_still_move_the_anchor() {
        let config = WindowConfig {
            overlap: Duration::from_secs(30),
            ..cfg()
        };
        // Events up to 9_000 were delivered; nothing happened since. Each window must end
        // further on than the one before, until the horizon.
        let mut checkpoint = Checkpoint {
            anchor: Some(t(9_000)),
            high_water: Some(t(9_000)),
            ..Checkpoint::default()
        };
        // (A run stops after the window that reaches the horizon.)
        let mut ends = Vec::new();
        while ends.last() != Some(&t(10_000)) {
            let w = next_window(&checkpoint, &config, t(10_000)).unwrap();
            assert!(ends.last().is_none_or(|e| w.end > *e), "stuck at {w:?}");
            ends.push(w.end);
            checkpoint.anchor = Some(anchor_after(&w, checkpoint.high_water, checkpoint.anchor));
            assert!(ends.len() < 10, "{ends:?}");
        }
    }

    /// Found by the config property test: `lookback = "300000y"` loaded, then the first
    /// window panicked ("`DateTime - TimeDelta` overflowed"). Durations past the calendar now
    /// stop at its ends.
    #[test]
    fn durations_past_the_calendar_stop_at_its_ends() {
        let eons = Duration::from_secs(300_000 * 366 * 86_400);
        let config = WindowConfig {
            lookback: eons,
            max_window: eons,
            ..cfg()
        };
        let first = next_window(&Checkpoint::default(), &config, t(10_000)).unwrap();
        assert_eq!(
            (first.start, first.end),
            (DateTime::<Utc>::MIN_UTC, t(10_000))
        );
        let config = WindowConfig {
            overlap: eons,
            ..config
        };
        let c = Checkpoint {
            anchor: Some(t(9_950)),
            ..Checkpoint::default()
        };
        assert_eq!(
            next_window(&c, &config, t(10_000)).unwrap().start,
            DateTime::<Utc>::MIN_UTC
        );
        let settle = WindowConfig {
            settle_delay: eons,
            ..cfg()
        };
        assert_eq!(horizon(t(10_000), &settle), DateTime::<Utc>::MIN_UTC);
    }
}
