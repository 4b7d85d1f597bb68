//! When an alert fires: each rule reads what a run left behind (its report, the source's
//! run history, its breaker, its silence) as a [`Condition`], and [`step`] turns the condition
//! and the open incident (if any) into what to send. Pure functions, so the state machine is
//! tested without a clock, a store or a network.

use chrono::{DateTime, Utc};

use crate::config::{AlertConfig, AlertRule};
use crate::runtime::{Parked, RunReport};
use crate::state::volume::{hour_name, HourVolume};
use crate::state::{Incident, RunRecord};

/// Whether an alert's condition holds for a source.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// It holds: why, and since when.
    Firing {
        /// What is wrong, in words.
        detail: String,
        /// Since when, as far as known.
        since: DateTime<Utc>,
    },
    /// It does not hold: an open incident closes.
    Clear,
    /// Nothing to judge by (the run was skipped, or failed for another reason than the one
    /// the rule watches): an open incident stays as it is.
    Unknown,
}

/// What one source's latest run and history say, for the rules.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The source.
    pub source: &'a str,
    /// The run just finished, if the check follows a run.
    pub report: Option<&'a RunReport>,
    /// The source's latest runs, newest first.
    pub runs: &'a [RunRecord],
    /// Its breaker, when open.
    pub parked: Option<&'a Parked>,
    /// Its silence: `Some(Some(reason))` silent, `Some(None)` not, `None` not checked.
    pub silence: Option<Option<&'a str>>,
    /// Its active canary, when it has one and the run read it.
    pub canary: Option<&'a crate::runtime::canary::Canary>,
    /// The last complete hour's volume and what is usual for it, if learnt.
    pub volume: Option<HourVolume>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The condition of `alert`'s rule in `seen`.
pub fn condition(alert: &AlertConfig, seen: &Observation<'_>) -> Condition {
    // A run another worker held does nothing and says nothing of the source.
    let report = seen.report.filter(|r| r.skipped.is_none());
    if seen.report.is_some() && report.is_none() {
        return Condition::Unknown;
    }
    match alert.rule {
        AlertRule::Failing => failing(alert, seen),
        AlertRule::BreakerOpen => match seen.parked {
            Some(parked) => Condition::Firing {
                detail: parked.reason(),
                since: seen.runs.first().map_or(seen.now, |r| r.finished_at),
            },
            None => Condition::Clear,
        },
        AlertRule::SinkRefusing => match report {
            None => Condition::Unknown,
            Some(report) => match crate::runtime::refusal_error(seen.source, &report.sinks) {
                Some(error) => Condition::Firing {
                    detail: error.to_string(),
                    since: seen.now,
                },
                None if report.error.is_none() => Condition::Clear,
                None => Condition::Unknown,
            },
        },
        AlertRule::Silence => match seen.silence {
            Some(Some(reason)) => Condition::Firing {
                detail: reason.to_string(),
                since: seen.now,
            },
            Some(None) => Condition::Clear,
            None => Condition::Unknown,
        },
        AlertRule::Canary => match seen.canary {
            Some(canary) if canary.is_bad() => Condition::Firing {
                detail: canary.reason(),
                since: seen.now,
            },
            Some(crate::runtime::canary::Canary::Seen { .. }) => Condition::Clear,
            // Not sent yet, or waiting for the deadline: an open incident stays open until
            // an event is seen again.
            _ => Condition::Unknown,
        },
        AlertRule::LateEvents => match report {
            Some(report) if report.late_events > 0 => Condition::Firing {
                detail: format!(
                    "{} events arrived later than window.settle_delay and were caught only by window.overlap; later ones would be missed (hint: raise the source's window.settle_delay or window.overlap)",
                    report.late_events
                ),
                since: seen.now,
            },
            Some(report) if report.error.is_none() => Condition::Clear,
            _ => Condition::Unknown,
        },
        AlertRule::Lag => lag(alert, report, seen.now),
        AlertRule::VolumeLow => volume_low(alert, seen.volume),
        AlertRule::DlqGrowing => match report {
            Some(report) if report.dead_lettered > 0 => Condition::Firing {
                detail: format!(
                    "the run put {} events in the dead-letter queue (hint: `sluice dlq list --source {}` shows why; fix the sink, then `sluice dlq replay --source {}`)",
                    report.dead_lettered, seen.source, seen.source
                ),
                since: seen.now,
            },
            Some(report) if report.error.is_none() => Condition::Clear,
            _ => Condition::Unknown,
        },
    }
}

/// `lag`: the newest delivered event (the committed high-water mark, which a failed run
/// leaves where it was) trails the clock by more than `sla`.
fn lag(alert: &AlertConfig, report: Option<&RunReport>, now: DateTime<Utc>) -> Condition {
    let (Some(sla), Some(newest)) = (alert.sla, report.and_then(|r| r.high_water)) else {
        return Condition::Unknown;
    };
    let behind = (now - newest).to_std().unwrap_or_default();
    if behind <= sla {
        return Condition::Clear;
    }
    Condition::Firing {
        detail: format!(
            "the newest delivered event is from {} ({} behind), over the sla of {} (hint: see the source's last errors with `sluice status`; a backlog catches up faster with more workers)",
            crate::timefmt::rfc3339_millis(newest),
            humantime::format_duration(std::time::Duration::from_secs(behind.as_secs())),
            humantime::format_duration(sla)
        ),
        since: newest + chrono::TimeDelta::from_std(sla).unwrap_or_default(),
    }
}

/// Weeks of history an hour of the week needs before `volume_low` judges it.
const VOLUME_WEEKS: u16 = 2;

/// Events an hour of the week must usually see for `volume_low` to judge it: quiet hours
/// (nights, weekends) vary too much to alert on.
const VOLUME_MIN_USUAL: f64 = 20.0;

/// `volume_low`: the last complete hour delivered under `below` times its usual volume.
fn volume_low(alert: &AlertConfig, volume: Option<HourVolume>) -> Condition {
    let Some(HourVolume {
        start,
        events,
        usual: Some(usual),
    }) = volume
    else {
        return Condition::Unknown;
    };
    if usual.weeks < VOLUME_WEEKS || usual.mean < VOLUME_MIN_USUAL {
        return Condition::Unknown;
    }
    let below = alert.below.unwrap_or(crate::config::DEFAULT_VOLUME_BELOW);
    if events as f64 >= below * usual.mean {
        return Condition::Clear;
    }
    Condition::Firing {
        detail: format!(
            "the hour from {} ({}) delivered {events} events, under {:.0}% of the usual {:.0} for that hour of the week over the last {} weeks (hint: a credential that lost a scope, a filter, or the vendor's outage; `sluice status` shows the last runs)",
            crate::timefmt::rfc3339_millis(start),
            hour_name(start),
            below * 100.0,
            usual.mean,
            usual.weeks
        ),
        since: start + chrono::TimeDelta::hours(1),
    }
}

/// `failing`: the runs failed in a row, newest first, reach `runs`, or the streak is older
/// than `for`.
fn failing(alert: &AlertConfig, seen: &Observation<'_>) -> Condition {
    let streak: Vec<&RunRecord> = seen.runs.iter().take_while(|r| r.error.is_some()).collect();
    let (Some(newest), Some(oldest)) = (streak.first(), streak.last()) else {
        return if seen.runs.is_empty() {
            Condition::Unknown
        } else {
            Condition::Clear
        };
    };
    let by_runs = alert
        .failing_runs()
        .is_some_and(|runs| streak.len() >= runs as usize);
    let by_time = alert.for_duration.is_some_and(|d| {
        (seen.now - oldest.started_at)
            .to_std()
            .is_ok_and(|failing_for| failing_for >= d)
    });
    if !(by_runs || by_time) {
        // Failing, but not long enough to alert: an open incident (of an earlier streak that
        // somehow was not closed) stays as it is.
        return Condition::Unknown;
    }
    Condition::Firing {
        detail: format!(
            "{} runs failed in a row; the last one: {}",
            streak.len(),
            newest.error.as_deref().unwrap_or_default()
        ),
        since: oldest.started_at,
    }
}

/// What to do about one (alert, source).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Open this incident and send it.
    Open(Incident),
    /// Send the open incident again, now recorded as this.
    Renotify(Incident),
    /// Close this incident and send its recovery.
    Resolve(Incident),
    /// Nothing to send.
    Nothing,
}

/// The step for `alert` on `source` given its `condition` and the `open` incident.
pub fn step(
    alert: &AlertConfig,
    source: &str,
    open: Option<&Incident>,
    condition: &Condition,
    now: DateTime<Utc>,
) -> Step {
    match (condition, open) {
        (Condition::Firing { detail, .. }, None) => Step::Open(Incident {
            alert: alert.name().to_string(),
            source: source.to_string(),
            opened_at: now,
            notified_at: now,
            notifications: 1,
            detail: crate::redact::scrub(detail).into_owned(),
        }),
        (Condition::Firing { detail, .. }, Some(open)) => {
            let due = (now - open.notified_at)
                .to_std()
                .is_ok_and(|quiet| quiet >= alert.renotify);
            if !due {
                return Step::Nothing;
            }
            Step::Renotify(Incident {
                notified_at: now,
                notifications: open.notifications.saturating_add(1),
                detail: crate::redact::scrub(detail).into_owned(),
                ..open.clone()
            })
        }
        (Condition::Clear, Some(open)) => Step::Resolve(open.clone()),
        (Condition::Clear | Condition::Unknown, None) | (Condition::Unknown, Some(_)) => {
            Step::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn alert(extra: &str) -> AlertConfig {
        toml::from_str(&format!("notify = [\"slack\"]\n{extra}")).unwrap()
    }

    fn run(minute: i64, error: Option<&str>) -> RunRecord {
        let at = t0() + TimeDelta::minutes(minute);
        RunRecord {
            kind: None,
            source: "okta".into(),
            started_at: at,
            finished_at: at,
            error: error.map(str::to_string),
            events: 0,
            pages: 0,
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn seen<'a>(runs: &'a [RunRecord], now: DateTime<Utc>) -> Observation<'a> {
        Observation {
            source: "okta",
            report: None,
            runs,
            parked: None,
            silence: None,
            canary: None,
            volume: None,
            now,
        }
    }

    /// Runs newest first, as the store gives them.
    fn history(errors: &[Option<&str>]) -> Vec<RunRecord> {
        let mut runs: Vec<RunRecord> = errors
            .iter()
            .enumerate()
            .map(|(i, e)| run(i as i64 * 5, *e))
            .collect();
        runs.reverse();
        runs
    }

    #[test]
    fn failing_fires_at_n_runs_in_a_row_and_clears_on_a_success() {
        let rule = alert("rule = \"failing\"\nruns = 3");
        let now = t0() + TimeDelta::hours(1);
        let two = history(&[None, Some("503"), Some("503")]);
        assert_eq!(condition(&rule, &seen(&two, now)), Condition::Unknown);
        let three = history(&[None, Some("503"), Some("503"), Some("HTTP 503")]);
        match condition(&rule, &seen(&three, now)) {
            Condition::Firing { detail, since } => {
                assert!(detail.contains("3 runs failed in a row"), "{detail}");
                assert!(detail.contains("HTTP 503"), "{detail}");
                assert_eq!(since, t0() + TimeDelta::minutes(5));
            }
            other => panic!("{other:?}"),
        }
        let recovered = history(&[Some("503"), Some("503"), Some("503"), None]);
        assert_eq!(condition(&rule, &seen(&recovered, now)), Condition::Clear);
    }

    #[test]
    fn failing_for_a_duration_counts_from_the_first_failure_of_the_streak() {
        let rule = alert("rule = \"failing\"\nfor = \"30m\"");
        let runs = history(&[None, Some("x"), Some("x")]);
        // The streak began at minute 5.
        let at = |m| t0() + TimeDelta::minutes(m);
        assert_eq!(condition(&rule, &seen(&runs, at(34))), Condition::Unknown);
        assert!(matches!(
            condition(&rule, &seen(&runs, at(35))),
            Condition::Firing { .. }
        ));
    }

    #[test]
    fn an_incident_opens_once_renotifies_after_the_interval_and_resolves_once() {
        let rule = alert("rule = \"failing\"\nrenotify = \"1h\"");
        let firing = Condition::Firing {
            detail: "boom".into(),
            since: t0(),
        };
        let Step::Open(open) = step(&rule, "okta", None, &firing, t0()) else {
            panic!("opens")
        };
        assert_eq!((open.alert.as_str(), open.notifications), ("failing", 1));
        // Still firing inside the interval: suppressed.
        let later = t0() + TimeDelta::minutes(59);
        assert_eq!(
            step(&rule, "okta", Some(&open), &firing, later),
            Step::Nothing
        );
        let due = t0() + TimeDelta::minutes(60);
        let Step::Renotify(again) = step(&rule, "okta", Some(&open), &firing, due) else {
            panic!("renotifies")
        };
        assert_eq!((again.notifications, again.notified_at), (2, due));
        assert_eq!(again.opened_at, open.opened_at, "same incident");
        // Unknown keeps it open; clear resolves it; clear with nothing open does nothing.
        assert_eq!(
            step(&rule, "okta", Some(&again), &Condition::Unknown, due),
            Step::Nothing
        );
        assert_eq!(
            step(&rule, "okta", Some(&again), &Condition::Clear, due),
            Step::Resolve(again.clone())
        );
        assert_eq!(
            step(&rule, "okta", None, &Condition::Clear, due),
            Step::Nothing
        );
    }

    #[test]
    fn refusal_silence_and_late_events_read_the_run() {
        let now = t0();
        let mut report = RunReport {
            source: "okta".into(),
            late_events: 4,
            ..RunReport::default()
        };
        let late = alert("rule = \"late_events\"");
        let observe = |report: &RunReport| {
            condition(
                &late,
                &Observation {
                    report: Some(report),
                    ..seen(&[], now)
                },
            )
        };
        assert!(matches!(observe(&report), Condition::Firing { .. }));
        report.late_events = 0;
        assert_eq!(observe(&report), Condition::Clear);
        report.skipped = Some("held by another worker".into());
        assert_eq!(observe(&report), Condition::Unknown);

        let dlq = alert("rule = \"dlq_growing\"");
        let grew = RunReport {
            dead_lettered: 3,
            ..RunReport::default()
        };
        let observe = |report: &RunReport| {
            condition(
                &dlq,
                &Observation {
                    report: Some(report),
                    ..seen(&[], now)
                },
            )
        };
        assert!(
            matches!(observe(&grew), Condition::Firing { detail, .. } if detail.contains("3 events"))
        );
        assert_eq!(observe(&RunReport::default()), Condition::Clear);

        let refusing = alert("rule = \"sink_refusing\"");
        let mut failed = RunReport {
            source: "okta".into(),
            error: Some(crate::runtime::RunError::new(
                crate::runtime::FailureKind::Server,
                "HTTP 500 from the API",
            )),
            ..RunReport::default()
        };
        let observe = |report: &RunReport| {
            condition(
                &refusing,
                &Observation {
                    report: Some(report),
                    ..seen(&[], now)
                },
            )
        };
        assert_eq!(observe(&failed), Condition::Unknown, "another failure");
        failed.sinks = vec![crate::runtime::SinkTally {
            sink: "siem".into(),
            offered: 10,
            refused: 10,
            first_refusal: Some("HTTP 404".into()),
            fail_when_refused: "100%".parse().unwrap(),
        }];
        assert!(
            matches!(observe(&failed), Condition::Firing { detail, .. } if detail.contains("sink `siem`"))
        );

        let sla = alert("rule = \"lag\"\nsla = \"2h\"");
        let mut ran = RunReport {
            high_water: Some(now - TimeDelta::minutes(121)),
            ..RunReport::default()
        };
        let observe = |report: &RunReport| {
            condition(
                &sla,
                &Observation {
                    report: Some(report),
                    ..seen(&[], now)
                },
            )
        };
        assert!(
            matches!(observe(&ran), Condition::Firing { detail, .. } if detail.contains("2h 1m behind"))
        );
        ran.high_water = Some(now - TimeDelta::minutes(119));
        assert_eq!(observe(&ran), Condition::Clear);
        ran.high_water = None;
        assert_eq!(observe(&ran), Condition::Unknown, "nothing delivered yet");

        let silence = alert("rule = \"silence\"");
        let quiet = Observation {
            silence: Some(Some("quiet for 7h")),
            ..seen(&[], now)
        };
        assert!(matches!(
            condition(&silence, &quiet),
            Condition::Firing { .. }
        ));
        let heard = Observation {
            silence: Some(None),
            ..seen(&[], now)
        };
        assert_eq!(condition(&silence, &heard), Condition::Clear);
    }

    #[test]
    fn canary_fires_when_overdue_or_failing_and_clears_only_when_seen() {
        use crate::runtime::canary::Canary;
        let now = t0();
        let rule = alert("rule = \"canary\"");
        let judged = |canary: &Canary| {
            condition(
                &rule,
                &Observation {
                    canary: Some(canary),
                    ..seen(&[], now)
                },
            )
        };
        let overdue = Canary::Overdue {
            triggered: now - TimeDelta::minutes(20),
            deadline: now - TimeDelta::minutes(5),
            last_seen: None,
        };
        assert!(
            matches!(judged(&overdue), Condition::Firing { detail, .. } if detail.contains("caused no delivered event"))
        );
        let failed = Canary::Failed(crate::state::canary::CanaryFailure {
            at: now,
            error: "POST https://acme.example.com/x: answered HTTP 500".into(),
        });
        assert!(
            matches!(judged(&failed), Condition::Firing { detail, .. } if detail.contains("HTTP 500"))
        );
        let waiting = Canary::Waiting {
            triggered: now,
            deadline: now + TimeDelta::minutes(15),
        };
        assert_eq!(
            judged(&waiting),
            Condition::Unknown,
            "an open incident stays open"
        );
        let seen_again = Canary::Seen {
            triggered: now,
            seen: now,
        };
        assert_eq!(judged(&seen_again), Condition::Clear);
        assert_eq!(condition(&rule, &seen(&[], now)), Condition::Unknown);
    }

    #[test]
    fn volume_low_fires_on_an_hour_far_under_its_usual_and_waits_for_history() {
        use crate::state::volume::{HourVolume, Usual};
        let now = t0();
        let rule = alert("rule = \"volume_low\"\nbelow = 0.5");
        let hour = |events: u64, mean: f64, weeks: u16| Observation {
            volume: Some(HourVolume {
                start: now - TimeDelta::hours(1),
                events,
                usual: Some(Usual { mean, weeks }),
            }),
            ..seen(&[], now)
        };
        let low = condition(&rule, &hour(100, 1_000.0, 4));
        assert!(
            matches!(&low, Condition::Firing { detail, .. } if detail.contains("100 events") && detail.contains("1000")),
            "{low:?}"
        );
        assert_eq!(condition(&rule, &hour(600, 1_000.0, 4)), Condition::Clear);
        // One week of history, or an hour that is usually quiet: nothing to judge by.
        assert_eq!(condition(&rule, &hour(0, 1_000.0, 1)), Condition::Unknown);
        assert_eq!(condition(&rule, &hour(0, 5.0, 4)), Condition::Unknown);
        assert_eq!(condition(&rule, &seen(&[], now)), Condition::Unknown);
        // The default share is a quarter.
        let default = alert("rule = \"volume_low\"");
        assert_eq!(
            condition(&default, &hour(300, 1_000.0, 4)),
            Condition::Clear
        );
        assert!(matches!(
            condition(&default, &hour(200, 1_000.0, 4)),
            Condition::Firing { .. }
        ));
    }
}
