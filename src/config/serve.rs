//! `[serve]`: settings of the `sluice serve` daemon (a source's `schedule` is
//! [`ScheduleConfig`]).

use std::time::Duration;

use serde::Deserialize;

use crate::model::schedule::ScheduleConfig;
use crate::model::Secret;

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
    /// The most connections served at once on `listen`; more wait in the kernel's queue,
    /// using no file descriptor of the process, so that idle clients cannot take the
    /// descriptors that runs need.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, counted from when it
    /// opens or its previous answer was sent: a client sending half a request, or holding an
    /// idle keep-alive connection, is disconnected after this.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// At a stop, how long requests being answered may take to finish once the runs have
    /// committed; connections still open then are closed.
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// The bearer token that `/`, `/status.json` and `/metrics` require (`/healthz` and
    /// `/readyz` stay open to probes). Required when `listen` is not a loopback address, so
    /// that a daemon reachable from other hosts never shows its sources to anyone who asks.
    #[serde(default)]
    pub token: Option<Secret>,
    /// How often the daemon applies every source's `retain` to its lake sinks (as `sluice
    /// lake retain --apply` does), e.g. `"24h"`; the first time one interval after start.
    /// Unset: retention runs only when asked.
    #[serde(default, with = "humantime_serde::option")]
    pub retain_every: Option<Duration>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: default_listen(),
            schedule: ScheduleConfig::default(),
            max_connections: default_max_connections(),
            idle_timeout: default_idle_timeout(),
            shutdown_timeout: default_shutdown_timeout(),
            token: None,
            retain_every: None,
        }
    }
}

fn default_max_connections() -> usize {
    64
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_listen() -> String {
    "127.0.0.1:9464".to_string()
}
