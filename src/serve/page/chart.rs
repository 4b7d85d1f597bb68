//! The events-per-hour chart of a card: 24 bars in inline SVG, scaled to the busiest hour.
//! An hour with a failed run has a red bar (a red tick when it delivered nothing); an hour
//! the kept run history does not reach is hatched grey, not drawn as zero. Each bar has a
//! tooltip (`<title>`) with its hour, events and runs.

use maud::{html, Markup};

use super::count;
use crate::runtime::status::hourly::Hourly;
use crate::timefmt::rfc3339_millis;

/// Width of one hour's slot, in SVG units.
const SLOT: u32 = 10;
/// Height of the bars' area.
const HEIGHT: u32 = 40;
/// Height of a failed hour's tick when it has no bar.
const TICK: u32 = 3;

/// The chart of `hourly`.
pub fn render(hourly: &Hourly) -> Markup {
    let width = SLOT * hourly.hours.len() as u32;
    let peak = hourly.peak();
    // Bars scale to the busiest hour; with no event at all, nothing is drawn anyway.
    let scale = peak.max(1) as f64;
    let label = format!(
        "events per hour over the last day: {} in all, at most {} in one hour",
        hourly.total(),
        peak
    );
    html! {
        svg class="chart" viewBox=(format!("0 0 {width} {HEIGHT}")) width=(width) height=(HEIGHT)
            role="img" aria-label=(label) preserveAspectRatio="none" {
            defs {
                pattern id="unknown" width="4" height="4" patternUnits="userSpaceOnUse" {
                    path d="M0,4 L4,0" class="hatch" {}
                }
            }
            line class="base" x1="0" y1=(HEIGHT) x2=(width) y2=(HEIGHT) {}
            @for (i, hour) in hourly.hours.iter().enumerate() {
                @let x = SLOT * i as u32 + 1;
                @let tip = format!(
                    "{}: {}",
                    rfc3339_millis(hour.start),
                    if hour.known {
                        format!("{} in {} ({} failed)", count(hour.events, "event"), count(u64::from(hour.runs), "run"), hour.failed)
                    } else {
                        format!("{} in the {} still kept; older runs of this hour are pruned", count(hour.events, "event"), count(u64::from(hour.runs), "run"))
                    }
                );
                @if !hour.known {
                    rect class="unknown" x=(x) y="0" width=(SLOT - 2) height=(HEIGHT) { title { (tip) } }
                } @else if hour.events > 0 {
                    // At least one unit, so that a small hour beside a busy one still shows.
                    @let h = ((hour.events as f64 / scale) * f64::from(HEIGHT)).ceil().max(1.0) as u32;
                    rect class=(if hour.failed > 0 { "bar failed" } else { "bar" })
                        x=(x) y=(HEIGHT - h) width=(SLOT - 2) height=(h) { title { (tip) } }
                } @else if hour.failed > 0 {
                    rect class="bar failed" x=(x) y=(HEIGHT - TICK) width=(SLOT - 2) height=(TICK) { title { (tip) } }
                } @else {
                    // An empty slot still answers a hover.
                    rect class="empty" x=(x) y="0" width=(SLOT - 2) height=(HEIGHT) { title { (tip) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::status::hourly::{hourly, HOURS};
    use crate::state::RunRecord;
    use chrono::{DateTime, TimeDelta, Utc};

    fn run(finished_at: DateTime<Utc>, events: u64, failed: bool) -> RunRecord {
        RunRecord {
            kind: None,
            source: "okta".into(),
            started_at: finished_at - TimeDelta::seconds(1),
            finished_at,
            error: failed.then(|| "HTTP 500".into()),
            events,
            pages: 1,
        }
    }

    #[test]
    fn bars_scale_to_the_busiest_hour_and_failed_hours_are_red() {
        let now: DateTime<Utc> = "2026-03-02T10:20:00Z".parse().unwrap();
        let runs = [
            run(now, 100, false),
            run(now - TimeDelta::hours(1), 50, false),
            run(now - TimeDelta::hours(2), 1, false),
            run(now - TimeDelta::hours(3), 0, true),
        ];
        let svg = render(&hourly(&runs, false, now)).into_string();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3, "{svg}");
        assert!(
            svg.contains("height=\"40\"><title>2026-03-02T10:00:00.000Z: 100 events in 1 run"),
            "{svg}"
        );
        assert!(
            svg.contains("y=\"20\" width=\"8\" height=\"20\""),
            "half the peak is half the height: {svg}"
        );
        assert!(
            svg.contains("y=\"39\" width=\"8\" height=\"1\""),
            "a tiny hour still shows: {svg}"
        );
        assert_eq!(svg.matches("class=\"bar failed\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"empty\"").count(), 20, "{svg}");
        assert!(!svg.contains("class=\"unknown\""), "{svg}");
    }

    #[test]
    fn hours_beyond_a_pruned_history_are_hatched() {
        let now: DateTime<Utc> = "2026-03-02T10:20:00Z".parse().unwrap();
        let svg = render(&hourly(&[run(now, 5, false)], true, now)).into_string();
        assert_eq!(svg.matches("class=\"unknown\"").count(), HOURS, "{svg}");
        assert!(svg.contains("older runs of this hour are pruned"), "{svg}");
    }
}
