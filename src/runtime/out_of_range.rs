//! Records dated where no window of the source will ever list them.
//!
//! A record outside the window being listed is normally left for the window that lists its
//! time (an API that answers a little beyond the requested range). Two kinds of record have no
//! such window: one dated before the source's first window (`Checkpoint::listed_from`: the
//! first run's `window.lookback`, or the start of a `sluice backfill`), since windows only
//! move forward from there; and one dated more than [`FUTURE_TOLERANCE`] after the clock when
//! it was read, which no window reaches before the API has long stopped serving it. Both go
//! to the dead-letter queue with the reason (when one is configured), are counted as
//! `out_of_range`, and the run summary warns about them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::sink::{dead_letter, Rejected};
use crate::source::Record;
use crate::transform::Envelope;

/// How far ahead of the clock an event time may be and still be listed by a later window.
pub const FUTURE_TOLERANCE: Duration = Duration::days(1);

/// The name dead letters of out-of-range records carry as their sink: no sink refused them,
/// the source's windows cannot list them (`sluice dlq replay --sink NAME` sends them on).
pub const SINK: &str = "source";

/// Why no window will list a record dated `time`, read at `now`, of a source whose first
/// window started at `listed_from`; `None` when a later (or earlier) window may list it.
pub fn reason(
    time: DateTime<Utc>,
    listed_from: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let show = crate::timefmt::rfc3339_millis;
    if time > now + FUTURE_TOLERANCE {
        return Some(format!(
            "event time {} is more than 1 day after the time it was read ({}); no window lists it",
            show(time),
            show(now)
        ));
    }
    match listed_from {
        Some(from) if time < from => Some(format!(
            "event time {} is before {}, where the source's first window started (window.lookback or a backfill's start); no window lists it",
            show(time),
            show(from)
        )),
        _ => None,
    }
}

/// The dead letter of an out-of-range record.
pub fn letter(
    record: Record,
    source: &Arc<str>,
    reason: String,
    parse_time: DateTime<Utc>,
    commit: u64,
) -> Envelope {
    let event = Envelope::wrap(record, source, parse_time);
    dead_letter::wrap(
        Rejected {
            event,
            error: reason,
        },
        SINK,
        commit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn only_records_no_window_lists_have_a_reason() {
        let now = t(0);
        let from = Some(t(-7 * 86_400));
        // Inside what windows list, before or after the one being listed: left for them.
        assert_eq!(reason(t(-3600), from, now), None);
        assert_eq!(reason(t(3600), from, now), None);
        assert_eq!(reason(t(86_400), from, now), None, "exactly one day ahead");
        let future = reason(t(86_401), from, now).unwrap();
        assert!(future.contains("more than 1 day after"), "{future}");
        let old = reason(t(-8 * 86_400), from, now).unwrap();
        assert!(old.contains("first window started"), "{old}");
        // Unknown start (an older checkpoint, a backfill window): only the future bound.
        assert_eq!(reason(t(-8 * 86_400), None, now), None);
    }

    #[test]
    fn a_letter_keeps_the_record_and_the_reason() {
        let record = Record {
            time: t(10 * 86_400),
            id: "e1".into(),
            data: serde_json::json!({"k": 1}).into(),
        };
        let letter = letter(record, &Arc::from("okta"), "why".into(), t(0), 4);
        assert_eq!(letter.event_id, "e1");
        let data = letter.data.to_value().unwrap();
        assert_eq!(data["error"], "why");
        assert_eq!(data["sink"], SINK);
        assert_eq!(data["event"], serde_json::json!({"k": 1}));
    }
}
