//! Window planning: which time range to request next, from the checkpoint alone.
//!
//! Windows start at the checkpoint's anchor, which is the last delivered event's time (never
//! the wall clock), so a late or skipped schedule never opens a gap. They end at the run's
//! horizon (`now - settle_delay`, fixed when the run starts) or after `max_window`.

use chrono::{DateTime, Utc};

use crate::config::WindowConfig;
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
        None => minus(horizon, config.lookback),
    };
    let start = checkpoint.floor.map_or(start, |floor| start.max(floor));
    // The end is cut to what the request format can write: an API told "until 10" (seconds)
    // would leave out [10.0, 10.5) while Sluice believed it had listed up to 10.5.
    let end = crate::timefmt::truncate(horizon.min(plus(start, config.max_window)), &config.format);
    (end > start).then_some(Window { start, end })
}

/// Where the next window starts once `window` has been listed completely.
///
/// At the high-water time when the window delivered events after its start: events that share
/// that millisecond may still arrive, and the ids kept at the high-water time drop the ones
/// already delivered. Otherwise at the window's end. Either way the anchor moves forward, so
/// planning always progresses.
pub fn anchor_after(window: &Window, high_water: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match high_water {
        Some(hw) if hw > window.start && hw < window.end => hw,
        _ => window.end,
    }
}

/// The horizon of a run that starts at `now`, in whole milliseconds (APIs rarely accept
/// finer window bounds).
pub fn horizon(now: DateTime<Utc>, config: &WindowConfig) -> DateTime<Utc> {
    let horizon = minus(now, config.settle_delay);
    DateTime::from_timestamp_millis(horizon.timestamp_millis()).unwrap_or(horizon)
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
            format: crate::config::TimeFormat::EpochSeconds,
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
    fn anchor_moves_to_high_water_or_window_end_and_always_forward() {
        let w = Window {
            start: t(100),
            end: t(200),
        };
        assert_eq!(anchor_after(&w, Some(t(150))), t(150));
        assert_eq!(anchor_after(&w, None), t(200));
        assert_eq!(anchor_after(&w, Some(t(50))), t(200));
        // All events at the window start: nothing else is in the window, move past it.
        assert_eq!(anchor_after(&w, Some(t(100))), t(200));
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
