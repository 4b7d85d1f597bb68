//! When each source runs: a fixed interval or a cron expression, plus random jitter.
//!
//! A schedule only answers "when is the next start"; the caller runs the source and asks
//! again once the run has finished, so a source's runs never overlap themselves. Starts
//! missed while a run was still going are not made up one by one: the next start is the
//! first one due after the run (at once, for an interval that the run outlasted).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

use serde::Deserialize;

use super::Problem;

/// `schedule`: when a source runs under `sluice serve`: every `every` (the first run at
/// start), or at the times of the `cron` expression; each start is delayed by a random
/// amount up to `jitter`. Exactly one of `every` and `cron` is given; which one is checked
/// when the config is loaded, with the cron expression parsed then too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Time between the starts of two runs.
    #[serde(default, with = "humantime_serde::option")]
    pub every: Option<Duration>,
    /// A cron expression, evaluated in UTC: five fields (minute granularity) or six with
    /// seconds first.
    #[serde(default)]
    pub cron: Option<String>,
    /// The most each start is delayed, at random, so that sources (and processes) sharing
    /// one API do not all call it at the same instant.
    #[serde(default, with = "humantime_serde")]
    pub jitter: Duration,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            every: Some(Duration::from_secs(5 * 60)),
            cron: None,
            jitter: Duration::from_secs(30),
        }
    }
}

/// The shortest interval accepted: shorter ones would make a source hammer its API.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    jitter: Duration,
}

#[derive(Debug, Clone)]
enum Kind {
    Every(Duration),
    // Boxed: a parsed cron pattern is far larger than a duration.
    Cron(Box<croner::Cron>),
}

/// Why a `schedule` table is unusable: the key at fault (`every`, `cron` or `jitter`,
/// relative to the table; empty for the table as a whole), what is wrong and what to do.
fn problem(field: &'static str, message: impl Into<String>, hint: &str) -> Problem {
    Problem::new(field, message, hint)
}

/// Parses a cron expression the way `schedule.cron` is documented: five fields
/// (`minute hour day-of-month month day-of-week`) or six with seconds first, no year field.
fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|err| err.to_string())
}

impl Schedule {
    /// Checks a `schedule` table: exactly one of `every` and `cron`, an interval of at least
    /// [`MIN_EVERY`], a cron expression that parses, and a jitter that is shorter than the
    /// interval (otherwise starts could come in any order and bunch up).
    pub fn from_config(config: &ScheduleConfig) -> Result<Self, Problem> {
        let kind = match (&config.every, &config.cron) {
            (Some(_), Some(_)) => {
                return Err(problem(
                    "",
                    "sets both `every` and `cron`",
                    "keep one: schedule = { every = \"5m\", jitter = \"30s\" } or schedule = { cron = \"0 */5 * * * *\" }",
                ))
            }
            (None, None) => {
                return Err(problem(
                    "",
                    "sets neither `every` nor `cron`",
                    "write schedule = { every = \"5m\", jitter = \"30s\" } or schedule = { cron = \"0 */5 * * * *\" }",
                ))
            }
            (Some(every), None) => {
                if *every < MIN_EVERY {
                    return Err(problem(
                        "every",
                        format!(
                            "{} is shorter than the minimum of {}",
                            humantime::format_duration(*every),
                            humantime::format_duration(MIN_EVERY)
                        ),
                        "a source caught up has nothing to fetch for a while; \"1m\" to \"15m\" is typical",
                    ));
                }
                if config.jitter >= *every {
                    return Err(problem(
                        "jitter",
                        format!(
                            "jitter {} is not shorter than every = {}",
                            humantime::format_duration(config.jitter),
                            humantime::format_duration(*every)
                        ),
                        "keep jitter well below the interval, e.g. a tenth of it",
                    ));
                }
                Kind::Every(*every)
            }
            (None, Some(pattern)) => Kind::Cron(Box::new(parse_cron(pattern).map_err(|err| {
                problem(
                    "cron",
                    format!("`{pattern}` is not a cron expression: {err}"),
                    "five fields `minute hour day-of-month month day-of-week` or six with seconds first, evaluated in UTC, e.g. \"*/5 * * * *\" or \"0 */5 * * * *\"",
                )
            })?)),
        };
        Ok(Schedule {
            kind,
            jitter: config.jitter,
        })
    }

    /// The nominal time of the first start, for a schedule taking effect at `now`: at once
    /// for an interval, the next matching time for a cron expression.
    pub fn first(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(_) => Some(now),
            Kind::Cron(cron) => cron.find_next_occurrence(&now, false).ok(),
        }
    }

    /// The nominal time of the start after the one at `previous`, for a run that finished
    /// at `now`: one interval after `previous` (at once if the run outlasted it), or the
    /// next matching cron time after both. `None` when there is no later time: a cron
    /// expression that matches none, or an interval that reaches past the calendar's end.
    pub fn after(&self, previous: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(every) => {
                // Past the calendar's end (`every = "300000y"`): there is no next start.
                let step = TimeDelta::from_std(*every).ok()?;
                Some(previous.checked_add_signed(step)?.max(now))
            }
            Kind::Cron(cron) => cron.find_next_occurrence(&previous.max(now), false).ok(),
        }
    }

    /// The time between two runs: `every`, or for a cron schedule the gap between its next
    /// two starts after `now` (zero when it has none).
    pub fn period(&self, now: DateTime<Utc>) -> Duration {
        match &self.kind {
            Kind::Every(every) => *every,
            Kind::Cron(cron) => {
                let next = cron.find_next_occurrence(&now, false).ok();
                let after = next.and_then(|n| cron.find_next_occurrence(&n, false).ok());
                match (next, after) {
                    (Some(next), Some(after)) => (after - next).to_std().unwrap_or_default(),
                    _ => Duration::ZERO,
                }
            }
        }
    }

    /// The longest delay [`Schedule::jitter`] adds.
    pub fn max_jitter(&self) -> Duration {
        self.jitter
    }

    /// A random delay in `[0, jitter]` to add to a nominal start.
    pub fn jitter(&self, rng: &mut impl Rng) -> Duration {
        if self.jitter.is_zero() {
            return Duration::ZERO;
        }
        let max = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=max))
    }
}

impl FromStr for Schedule {
    type Err = Problem;

    /// A cron schedule without jitter, for tests and examples.
    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Schedule::from_config(&ScheduleConfig {
            every: None,
            cron: Some(pattern.to_string()),
            jitter: Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn every(every: &str, jitter: &str) -> ScheduleConfig {
        ScheduleConfig {
            every: Some(humantime::parse_duration(every).unwrap()),
            cron: None,
            jitter: humantime::parse_duration(jitter).unwrap(),
        }
    }

    #[test]
    fn jitter_stays_within_its_bound_and_varies() {
        let schedule = Schedule::from_config(&every("5m", "30s")).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..2_000).map(|_| schedule.jitter(&mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        let min = delays.iter().min().unwrap();
        let max = delays.iter().max().unwrap();
        // Uniform over 30 s: 2000 draws cover nearly all of it.
        assert!(*min < Duration::from_secs(1), "min {min:?}");
        assert!(*max > Duration::from_secs(29), "max {max:?}");

        let none = Schedule::from_config(&every("5m", "0s")).unwrap();
        assert_eq!(none.jitter(&mut rng), Duration::ZERO);
    }

    #[test]
    fn intervals_start_at_once_then_every_interval_and_skip_what_a_long_run_missed() {
        let schedule = Schedule::from_config(&every("5m", "0s")).unwrap();
        let start = at("2026-11-23T10:00:00Z");
        assert_eq!(schedule.first(start), Some(start));
        // A 1-minute run: the next start is 5 minutes after the previous one.
        assert_eq!(
            schedule.after(start, at("2026-11-23T10:01:00Z")),
            Some(at("2026-11-23T10:05:00Z"))
        );
        // A 12-minute run: no burst of missed starts, one start at once.
        assert_eq!(
            schedule.after(start, at("2026-11-23T10:12:00Z")),
            Some(at("2026-11-23T10:12:00Z"))
        );
    }

    /// Found by the config property test: `every = "300000y"` loaded, then planning the
    /// second run panicked ("`DateTime + TimeDelta` overflowed").
    #[test]
    fn an_interval_past_the_calendar_has_no_next_start() {
        let schedule = Schedule::from_config(&every("300000y", "0s")).unwrap();
        let start = at("2026-11-23T10:00:00Z");
        assert_eq!(schedule.first(start), Some(start));
        assert_eq!(schedule.after(start, start), None);
    }

    #[test]
    fn cron_gives_the_next_matching_times_with_or_without_seconds() {
        let six: Schedule = "0 */5 * * * *".parse().unwrap();
        let now = at("2026-11-23T10:02:30Z");
        let first = six.first(now).unwrap();
        assert_eq!(first, at("2026-11-23T10:05:00Z"));
        assert_eq!(six.after(first, first), Some(at("2026-11-23T10:10:00Z")));
        // A run that lasted past the next time: the following matching time, once.
        assert_eq!(
            six.after(first, at("2026-11-23T10:17:00Z")),
            Some(at("2026-11-23T10:20:00Z"))
        );

        let five: Schedule = "30 2 * * 1".parse().unwrap();
        // 2026-11-23 is a Monday; 02:30 has passed, so next Monday.
        assert_eq!(five.first(now), Some(at("2026-11-30T02:30:00Z")));
    }

    #[test]
    fn the_cron_syntax_docs_configuration_md_describes_parses() {
        let now = at("2026-11-23T10:02:30Z"); // a Monday
        let cases = [
            ("*/5 * * * *", "2026-11-23T10:05:00Z"),
            ("0 */5 * * * *", "2026-11-23T10:05:00Z"),
            ("0 9,18 * * *", "2026-11-23T18:00:00Z"),
            ("10-40/10 * * * *", "2026-11-23T10:10:00Z"),
            ("0 0 * JAN MON", "2027-01-04T00:00:00Z"),
            ("0 0 * * 7", "2026-11-29T00:00:00Z"),
            ("0 0 * * 0", "2026-11-29T00:00:00Z"),
            ("0 0 L * *", "2026-11-30T00:00:00Z"),
            ("0 0 15W * *", "2026-12-15T00:00:00Z"),
            ("0 0 * * 5#2", "2026-12-11T00:00:00Z"),
            ("0 0 * * 5#L", "2026-11-27T00:00:00Z"),
            ("@hourly", "2026-11-23T11:00:00Z"),
            ("@daily", "2026-11-24T00:00:00Z"),
            // Either day field matches: the 1st of the month or a Wednesday.
            ("0 0 1 * 3", "2026-11-25T00:00:00Z"),
        ];
        for (pattern, next) in cases {
            let schedule: Schedule = pattern
                .parse()
                .unwrap_or_else(|e: Problem| panic!("{pattern}: {}", e.message));
            assert_eq!(schedule.first(now), Some(at(next)), "{pattern}");
        }
    }

    #[test]
    fn bad_schedules_name_the_key_and_give_a_hint() {
        let cases = [
            (every("5m", "5m"), "jitter", "not shorter"),
            (every("500ms", "0s"), "every", "minimum"),
            (
                ScheduleConfig {
                    every: None,
                    cron: Some("61 * * * *".into()),
                    jitter: Duration::ZERO,
                },
                "cron",
                "`61 * * * *`",
            ),
            (
                ScheduleConfig {
                    every: None,
                    cron: Some("0 0 * * * * 2030".into()),
                    jitter: Duration::ZERO,
                },
                "cron",
                "not a cron expression",
            ),
            (
                ScheduleConfig {
                    every: Some(Duration::from_secs(60)),
                    cron: Some("* * * * *".into()),
                    jitter: Duration::ZERO,
                },
                "",
                "both",
            ),
            (
                ScheduleConfig {
                    every: None,
                    cron: None,
                    jitter: Duration::ZERO,
                },
                "",
                "neither",
            ),
        ];
        for (config, field, needle) in cases {
            let err = Schedule::from_config(&config).unwrap_err();
            assert_eq!(err.path, field, "{config:?}: {err:?}");
            assert!(err.message.contains(needle), "{config:?}: {err:?}");
            assert!(!err.hint.is_empty());
        }
    }
}
