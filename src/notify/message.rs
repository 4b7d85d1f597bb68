//! What an alert says, and how each notifier puts it on the wire: a Slack Block Kit message,
//! a signed JSON body, a PagerDuty Events API v2 event.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::AlertRule;

/// Which moment of an incident a message announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It opened.
    Opened,
    /// It is still open (sent every `renotify`).
    Reminder,
    /// It closed.
    Resolved,
}

impl Kind {
    /// The word receivers see in `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Opened => "opened",
            Kind::Reminder => "reminder",
            Kind::Resolved => "resolved",
        }
    }
}

/// One alert message, the same for every notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Opened, reminder or resolved.
    pub kind: Kind,
    /// The alert's name.
    pub alert: String,
    /// Its rule.
    pub rule: AlertRule,
    /// The source.
    pub source: String,
    /// Why (scrubbed of secrets).
    pub detail: String,
    /// When the incident opened.
    pub opened_at: DateTime<Utc>,
    /// When this message was made.
    pub at: DateTime<Utc>,
    /// Stable for the whole incident: PagerDuty's `dedup_key`, the webhook's `incident`.
    pub dedup_key: String,
}

/// The longest detail put in a message (Slack refuses section texts over 3000 characters).
const MAX_DETAIL: usize = 2500;

impl Message {
    fn detail(&self) -> String {
        if self.detail.chars().count() <= MAX_DETAIL {
            return self.detail.clone();
        }
        let cut: String = self.detail.chars().take(MAX_DETAIL).collect();
        format!("{cut}…")
    }

    /// One line: what happened to which source.
    pub fn summary(&self) -> String {
        let what = match self.rule {
            AlertRule::Failing => "is failing",
            AlertRule::BreakerOpen => "has its circuit breaker open",
            AlertRule::SinkRefusing => "has a sink refusing its events",
            AlertRule::Silence => "is silent",
            AlertRule::Canary => "missed its canary",
            AlertRule::LateEvents => "sees late events",
            AlertRule::Lag => "lags behind its SLA",
            AlertRule::DlqGrowing => "is filling the dead-letter queue",
            AlertRule::VolumeLow => "delivers far fewer events than usual",
        };
        match self.kind {
            Kind::Opened => format!("sluice: source `{}` {what}", self.source),
            Kind::Reminder => format!("sluice: source `{}` still {what}", self.source),
            Kind::Resolved => format!(
                "sluice: source `{}` recovered ({} cleared)",
                self.source,
                self.rule.as_str()
            ),
        }
    }

    /// A Slack incoming webhook body: a header, the facts as fields, the error, and how to
    /// look closer. `text` is the fallback for notifications.
    pub fn slack(&self) -> Value {
        let since = crate::timefmt::rfc3339_millis(self.opened_at);
        let error = match self.kind {
            Kind::Resolved => format!("*Was*\n```{}```", self.detail()),
            _ => format!("*Error*\n```{}```", self.detail()),
        };
        json!({
            "text": self.summary(),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": truncate(&self.summary(), 150)}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Source*\n`{}`", self.source)},
                    {"type": "mrkdwn", "text": format!("*Rule*\n{} (alert `{}`)", self.rule.as_str(), self.alert)},
                    {"type": "mrkdwn", "text": format!("*Since*\n{since}")},
                    {"type": "mrkdwn", "text": format!("*State*\n{}", self.kind.as_str())},
                ]},
                {"type": "section", "text": {"type": "mrkdwn", "text": error}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("Look closer: `sluice status` (runs, errors, breaker of `{}`), the daemon's page and `/metrics`; `sluice dlq list --source {}` for refused events", self.source, self.source)},
                ]},
            ],
        })
    }

    /// The generic webhook body.
    pub fn webhook(&self) -> Value {
        json!({
            "version": 1,
            "event": self.kind.as_str(),
            "incident": self.dedup_key,
            "alert": self.alert,
            "rule": self.rule.as_str(),
            "source": self.source,
            "summary": self.summary(),
            "detail": self.detail(),
            "opened_at": crate::timefmt::rfc3339_millis(self.opened_at),
            "at": crate::timefmt::rfc3339_millis(self.at),
        })
    }

    /// A PagerDuty Events API v2 event: `trigger` (opened and reminders, which PagerDuty
    /// folds into the same alert by `dedup_key`) or `resolve`.
    pub fn pagerduty(&self, routing_key: &str) -> Value {
        let action = match self.kind {
            Kind::Opened | Kind::Reminder => "trigger",
            Kind::Resolved => "resolve",
        };
        json!({
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": self.dedup_key,
            "payload": {
                "summary": truncate(&self.summary(), 1024),
                "source": format!("sluice/{}", self.source),
                "severity": "error",
                "timestamp": crate::timefmt::rfc3339_millis(self.at),
                "component": self.source,
                "class": self.rule.as_str(),
                "custom_details": {"alert": self.alert, "detail": self.detail(), "opened_at": crate::timefmt::rfc3339_millis(self.opened_at)},
            },
        })
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The webhook signature of `body` sent at `timestamp` (Unix seconds): HMAC-SHA256 with `key`
/// over `"<timestamp>.<body>"`, hex, as `X-Sluice-Signature: sha256=<hex>`. The timestamp is
/// signed too, so a receiver that refuses old timestamps cannot be sent a replay.
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // The digest array formats itself as lowercase hex.
    format!("sha256={:x}", mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature(b"key", 1_700_000_000, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, signature(b"other", 1_700_000_000, b"{}"));
        assert_ne!(a, signature(b"key", 1_700_000_001, b"{}"));
        assert_ne!(a, signature(b"key", 1_700_000_000, b"{ }"));
    }
}
