//! How a source is judged, for `sluice status` and the daemon's status page: parked,
//! failing, silent, stale or healthy, and why.

use chrono::{DateTime, Utc};

use crate::config::{Config, SourceConfig};
use crate::model::schedule::Schedule;
use crate::runtime::canary::{judge as judge_canary, Canary};
use crate::runtime::silence::{silence, Silence};
use crate::runtime::Parked;
use crate::state::{SourceStatus, StateStore};
use crate::timefmt::rfc3339_millis;

/// Scheduled runs that may pass without a run before a source counts as stale.
pub const MISSED_RUNS: usize = 3;

/// A source's health.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// Its last run succeeded, recently enough for its schedule.
    Healthy,
    /// It has not run yet.
    NeverRan,
    /// Its last run failed.
    Failing {
        /// The last run's error.
        error: String,
    },
    /// Its circuit breaker skips its runs.
    Parked(Parked),
    /// Its newest delivered event is older than its `max_silence` allows.
    Silent(Silence),
    /// Its active canary's event is overdue, or the canary request fails.
    CanaryMissed(Canary),
    /// It has not run for [`MISSED_RUNS`] of its scheduled runs.
    Stale {
        /// When it last ran.
        last_run: DateTime<Utc>,
        /// When the last of the missed runs was due.
        due: DateTime<Utc>,
    },
}

impl Health {
    /// The word `status` shows and JSON carries.
    pub fn state(&self) -> &'static str {
        match self {
            Health::Healthy => "ok",
            Health::NeverRan => "never_ran",
            Health::Failing { .. } => "failing",
            Health::Parked(_) => "parked",
            Health::Silent(_) => "silent",
            Health::CanaryMissed(_) => "canary_missed",
            Health::Stale { .. } => "stale",
        }
    }

    /// Whether `status` should exit non-zero for it.
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            Health::Failing { .. }
                | Health::Parked(_)
                | Health::Silent(_)
                | Health::CanaryMissed(_)
                | Health::Stale { .. }
        )
    }

    /// Why, in words, with what to do.
    pub fn reason(&self) -> Option<String> {
        match self {
            Health::Healthy => None,
            Health::NeverRan => Some("no run recorded yet".into()),
            Health::Failing { error } => Some(format!("the last run failed: {error}")),
            Health::Parked(parked) => Some(parked.reason()),
            Health::Silent(silence) => Some(silence.reason(Utc::now())),
            Health::CanaryMissed(canary) => Some(canary.reason()),
            Health::Stale { last_run, due } => Some(format!(
                "no run since {}, though {MISSED_RUNS} scheduled runs were due by {} (hint: is `sluice serve` or the cron job running? the schedule is the source's `schedule`, else [serve] schedule)",
                rfc3339_millis(*last_run),
                rfc3339_millis(*due)
            )),
        }
    }
}

/// The health of `source` (configured as `config`) at `now`.
pub async fn judge(
    config: &Config,
    source: &SourceConfig,
    status: &SourceStatus,
    store: &dyn StateStore,
    now: DateTime<Utc>,
) -> Health {
    match crate::runtime::parked(source, store).await {
        Ok(Some(parked)) => return Health::Parked(parked),
        Ok(None) => {}
        // The run history is shown below anyway; judge from what `status` read.
        Err(err) => {
            tracing::warn!(source = %source.name, error = %err, "cannot read run history for the circuit breaker")
        }
    }
    let Some(run) = &status.last_run else {
        return Health::NeverRan;
    };
    if let Some(error) = &run.error {
        return Health::Failing {
            error: error.clone(),
        };
    }
    // A schedule that does not parse fails at load; nothing to judge by here.
    let Ok(schedule) = Schedule::from_config(config.schedule_of(source)) else {
        return Health::Healthy;
    };
    if let Some(due) = missed_due(&schedule, run.finished_at, now) {
        return Health::Stale {
            last_run: run.finished_at,
            due,
        };
    }
    if let Some(silent) = silence(
        source,
        schedule.period(now),
        status.checkpoint.high_water,
        now,
    ) {
        return Health::Silent(silent);
    }
    match source
        .canary
        .as_ref()
        .map(|canary| judge_canary(canary, &status.checkpoint.canary, now))
    {
        Some(canary) if canary.is_bad() => Health::CanaryMissed(canary),
        _ => Health::Healthy,
    }
}

/// When the last of [`MISSED_RUNS`] scheduled runs after `last` was due, if that is before
/// `now` (so they were all missed).
fn missed_due(
    schedule: &Schedule,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut due = last;
    for _ in 0..MISSED_RUNS {
        due = schedule.after(due, due)?;
    }
    // Jitter may delay each run a little; allow it once.
    let due = due + chrono::TimeDelta::from_std(schedule.max_jitter()).ok()?;
    (due < now).then_some(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScheduleConfig;

    fn every(text: &str) -> Schedule {
        let config: ScheduleConfig = toml::from_str(&format!("every = \"{text}\"")).unwrap();
        Schedule::from_config(&config).unwrap()
    }

    #[test]
    fn three_missed_runs_make_a_source_stale() {
        let schedule = every("5m");
        let last = Utc::now() - chrono::TimeDelta::minutes(16);
        assert!(missed_due(&schedule, last, Utc::now()).is_some());
        let recent = Utc::now() - chrono::TimeDelta::minutes(14);
        assert_eq!(missed_due(&schedule, recent, Utc::now()), None);
    }
}
