//! `[serve]` and `schedule`: settings of the `sluice serve` daemon.

use std::time::Duration;

use serde::Deserialize;

/// `[serve]`: where the daemon listens and the schedule of sources that name none.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address of the HTTP endpoints (`/healthz`, `/readyz`, `/metrics`, `/`);
    /// `--listen` overrides it.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The schedule of every source without its own `schedule`.
    #[serde(default)]
    pub schedule: ScheduleConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: default_listen(),
            schedule: ScheduleConfig::default(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:9464".to_string()
}

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
