//! `[[notifiers]]` (where alerts go) and `[[alerts]]` (when to send them). The settings live
//! here, below the runtime, because the loader checks them with the rest of the file; the
//! `notify` module above the runtime evaluates and sends.

use std::time::Duration;

use serde::Deserialize;

use crate::model::Secret;

/// The PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One `[[notifiers]]` entry; `kind` says which.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotifierConfig {
    /// A Slack incoming webhook: a Block Kit message per alert.
    Slack(SlackConfig),
    /// A JSON body POSTed to any URL, signed with HMAC-SHA256.
    Webhook(WebhookConfig),
    /// PagerDuty Events API v2: `trigger` and `resolve` with a dedup key per incident.
    Pagerduty(PagerDutyConfig),
    /// Email over SMTP.
    Email(EmailConfig),
}

impl NotifierConfig {
    /// The name alerts refer to.
    pub fn name(&self) -> &str {
        match self {
            NotifierConfig::Slack(c) => &c.name,
            NotifierConfig::Webhook(c) => &c.name,
            NotifierConfig::Pagerduty(c) => &c.name,
            NotifierConfig::Email(c) => &c.name,
        }
    }

    /// Time allowed for one request.
    pub fn timeout(&self) -> Duration {
        match self {
            NotifierConfig::Slack(c) => c.timeout,
            NotifierConfig::Webhook(c) => c.timeout,
            NotifierConfig::Pagerduty(c) => c.timeout,
            NotifierConfig::Email(c) => c.timeout,
        }
    }

    /// Attempts per message (transport errors, 429 and 5xx are tried again).
    pub fn attempts(&self) -> u32 {
        match self {
            NotifierConfig::Slack(c) => c.attempts,
            NotifierConfig::Webhook(c) => c.attempts,
            NotifierConfig::Pagerduty(c) => c.attempts,
            NotifierConfig::Email(c) => c.attempts,
        }
    }
}

/// `kind = "slack"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Unique name that alerts refer to.
    pub name: String,
    /// The incoming webhook URL (`https://hooks.slack.com/services/…`): a secret, since
    /// whoever has it can post to the channel.
    pub webhook_url: Secret,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per message.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

/// `kind = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique name that alerts refer to.
    pub name: String,
    /// Where the JSON body is POSTed (a secret: such URLs often carry a token).
    pub url: Secret,
    /// The HMAC-SHA256 key the body is signed with (`X-Sluice-Signature`).
    pub secret: Secret,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per message.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

/// `kind = "pagerduty"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Unique name that alerts refer to.
    pub name: String,
    /// The integration's routing key (Events API v2).
    pub routing_key: Secret,
    /// The Events API endpoint (the EU service region, or a test receiver).
    #[serde(default = "default_pagerduty_url")]
    pub url: String,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per message.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

/// How an email notifier's SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a relay on the loopback interface.
    None,
}

/// `kind = "email"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Unique name that alerts refer to.
    pub name: String,
    /// The SMTP server (relay) to send through.
    pub host: String,
    /// Its port: by default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is protected.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The SMTP user, if the server wants a login.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The sender address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// Time allowed for one delivery.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per message.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_attempts() -> u32 {
    4
}

fn default_pagerduty_url() -> String {
    PAGERDUTY_EVENTS_URL.to_string()
}

/// What an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// The source failed `runs` runs in a row, or has failed for `for` (either opens it).
    Failing,
    /// The source's circuit breaker is open: its runs are being skipped.
    BreakerOpen,
    /// A run failed because a sink refused too many events (`fail_when_refused`).
    SinkRefusing,
    /// The source is silent past its `max_silence`.
    Silence,
    /// The source's active canary request caused no delivered event within its deadline,
    /// or the request failed.
    Canary,
    /// A run delivered events later than `window.settle_delay` (caught by the overlap).
    LateEvents,
    /// After a run, the newest delivered event is older than `sla`.
    Lag,
    /// A run put events in the dead-letter queue.
    DlqGrowing,
    /// The last complete hour delivered far fewer events than usual for that hour of the
    /// week (below `below` times its mean over the last weeks).
    VolumeLow,
}

impl AlertRule {
    /// The rule's name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::Failing => "failing",
            AlertRule::BreakerOpen => "breaker_open",
            AlertRule::SinkRefusing => "sink_refusing",
            AlertRule::Silence => "silence",
            AlertRule::Canary => "canary",
            AlertRule::LateEvents => "late_events",
            AlertRule::Lag => "lag",
            AlertRule::DlqGrowing => "dlq_growing",
            AlertRule::VolumeLow => "volume_low",
        }
    }
}

/// One `[[alerts]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The alert's name (unique; incidents are kept under it). Default: the rule's name.
    #[serde(default)]
    pub name: Option<String>,
    /// What it watches.
    pub rule: AlertRule,
    /// The sources it watches; every source when empty or left out.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The notifiers it sends to, by name.
    pub notify: Vec<String>,
    /// `failing`: failed runs in a row that open an incident (default 3 unless `for` is set).
    #[serde(default)]
    pub runs: Option<u32>,
    /// `failing`: how long the source must have failed (since the first failure of the
    /// streak) to open an incident.
    #[serde(default, rename = "for", with = "humantime_serde::option")]
    pub for_duration: Option<Duration>,
    /// `lag`: the most the newest delivered event may trail the clock.
    #[serde(default, with = "humantime_serde::option")]
    pub sla: Option<Duration>,
    /// `volume_low`: the share of the usual volume under which an hour alerts (default
    /// [`DEFAULT_VOLUME_BELOW`]).
    #[serde(default)]
    pub below: Option<f64>,
    /// While an incident stays open, it is sent again this often.
    #[serde(default = "default_renotify", with = "humantime_serde")]
    pub renotify: Duration,
    /// Whether a closed incident sends a recovery message.
    #[serde(default = "default_true")]
    pub recovery: bool,
}

/// `volume_low`'s default `below`: an hour with under a quarter of its usual volume.
pub const DEFAULT_VOLUME_BELOW: f64 = 0.25;

impl AlertConfig {
    /// The name incidents are kept under.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.rule.as_str())
    }

    /// Whether the alert watches `source`.
    pub fn watches(&self, source: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == source)
    }

    /// `failing`: the run count that opens an incident, if counted by runs.
    pub fn failing_runs(&self) -> Option<u32> {
        match (self.runs, self.for_duration) {
            (Some(runs), _) => Some(runs),
            (None, Some(_)) => None,
            (None, None) => Some(3),
        }
    }
}

fn default_renotify() -> Duration {
    Duration::from_secs(4 * 3600)
}

fn default_true() -> bool {
    true
}
