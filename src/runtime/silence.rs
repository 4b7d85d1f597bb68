//! Canaries: a source that has gone quiet. An API that stops serving events (a revoked scope
//! that still answers 200 with nothing, a vendor outage, a tenant migration) fails no run, so
//! only the absence of events tells. Each source may set `max_silence`; a source whose newest
//! delivered event is older than that (plus what its schedule and settle delay hold back in
//! any case) is silent.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::SourceConfig;

/// A source silent past its `max_silence`.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Its newest delivered event.
    pub newest: DateTime<Utc>,
    /// How old the newest event may be: `max_silence`, plus the source's settle delay and one
    /// period of its schedule (events that recent cannot have been delivered yet).
    pub allowed: Duration,
}

impl Silence {
    /// Why, in words, with what to do.
    pub fn reason(&self, now: DateTime<Utc>) -> String {
        let age = (now - self.newest).to_std().unwrap_or_default();
        format!(
            "the newest delivered event is from {} ({} ago), older than the {} allowed (max_silence plus settle delay and one scheduled interval) (hint: check that the API still serves events to this credential, e.g. its scopes or the vendor's status page)",
            crate::timefmt::rfc3339_millis(self.newest),
            humantime::format_duration(round_seconds(age)),
            humantime::format_duration(self.allowed)
        )
    }
}

fn round_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// Whether `source`, whose newest delivered event is `high_water` and which runs every
/// `period`, is silent at `now`. `None` when it sets no `max_silence` or has delivered nothing
/// yet (its silence is counted from its first event).
pub fn silence(
    source: &SourceConfig,
    period: Duration,
    high_water: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Silence> {
    let max_silence = source.max_silence?;
    let newest = high_water?;
    let allowed = max_silence
        .saturating_add(source.window.settle_delay)
        .saturating_add(period);
    let age = (now - newest).to_std().unwrap_or_default();
    (age > allowed).then_some(Silence { newest, allowed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(max_silence: Option<&str>) -> SourceConfig {
        let text = format!(
            r#"
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
query = {{ since = "{{start}}", until = "{{end}}" }}
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
sinks = ["lake"]
window = {{ settle_delay = "1m" }}
{}
"#,
            max_silence.map_or(String::new(), |m| format!("max_silence = \"{m}\""))
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn silence_counts_the_settle_delay_and_one_schedule_period() {
        let now = Utc::now();
        let source = source(Some("1h"));
        let period = Duration::from_secs(300);
        // 1h + 1m settle + 5m schedule = 66 minutes allowed.
        let quiet = |minutes| {
            silence(
                &source,
                period,
                Some(now - chrono::TimeDelta::minutes(minutes)),
                now,
            )
        };
        assert_eq!(quiet(65), None);
        let silent = quiet(67).expect("silent past 66 minutes");
        assert_eq!(silent.allowed, Duration::from_secs(66 * 60));
        assert!(
            silent.reason(now).contains("1h 7m ago"),
            "{}",
            silent.reason(now)
        );
        assert_eq!(
            silence(&source, period, None, now),
            None,
            "nothing delivered yet"
        );
        let unwatched = self::source(None);
        assert_eq!(
            silence(
                &unwatched,
                period,
                Some(now - chrono::TimeDelta::days(30)),
                now
            ),
            None
        );
    }
}
