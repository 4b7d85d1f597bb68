//! The active canary: a source's scheduled run sends the configured request when it is due
//! (the vendor then logs a known event), its pipeline records the newest delivered event that
//! matches, and [`judge`] says whether that event came within the deadline. A request that
//! fails is loud (logged, counted, judged as failing) but never fails the run: the data path
//! does not depend on the canary.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::source::canary::CanaryConfig;
use crate::state::canary::{CanaryFailure, CanaryState};
use crate::timefmt::rfc3339_millis;

/// How much earlier than the request a matching event may be dated and still count: the
/// vendor's clock and this host's differ a little. At most a quarter of `every`, so the
/// previous request's event never counts for the next.
const CLOCK_SKEW: Duration = Duration::from_secs(30);

/// Bytes of a refusing answer quoted in the error.
const EXCERPT: usize = 300;

/// Where a source's canary stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Canary {
    /// No request sent yet.
    NotYet,
    /// The request was sent; its deadline has not passed.
    Waiting {
        /// When it was sent.
        triggered: DateTime<Utc>,
        /// When the event must be delivered by.
        deadline: DateTime<Utc>,
    },
    /// The event of the last request was delivered.
    Seen {
        /// When the request was sent.
        triggered: DateTime<Utc>,
        /// The matching event's time.
        seen: DateTime<Utc>,
    },
    /// The deadline passed and no matching event was delivered.
    Overdue {
        /// When the request was sent.
        triggered: DateTime<Utc>,
        /// When the event was due.
        deadline: DateTime<Utc>,
        /// The newest matching event ever delivered, if any.
        last_seen: Option<DateTime<Utc>>,
    },
    /// The last request failed.
    Failed(CanaryFailure),
}

impl Canary {
    /// The word `status` shows and JSON carries.
    pub fn state(&self) -> &'static str {
        match self {
            Canary::NotYet => "not_yet",
            Canary::Waiting { .. } => "waiting",
            Canary::Seen { .. } => "seen",
            Canary::Overdue { .. } => "overdue",
            Canary::Failed(_) => "request_failed",
        }
    }

    /// Whether it is something to alert on (and exit non-zero for).
    pub fn is_bad(&self) -> bool {
        matches!(self, Canary::Overdue { .. } | Canary::Failed(_))
    }

    /// What it means, in words, with what to do when it is bad.
    pub fn reason(&self) -> String {
        match self {
            Canary::NotYet => "no canary request sent yet: the next scheduled run sends it".into(),
            Canary::Waiting { triggered, deadline } => format!(
                "request sent at {}; its event is due by {}",
                rfc3339_millis(*triggered),
                rfc3339_millis(*deadline)
            ),
            Canary::Seen { triggered, seen } => format!(
                "the event of the request sent at {} was delivered (event time {})",
                rfc3339_millis(*triggered),
                rfc3339_millis(*seen)
            ),
            Canary::Overdue {
                triggered,
                deadline,
                last_seen,
            } => format!(
                "the canary request sent at {} caused no delivered event by {} (last canary event: {}) (hint: check that the request still causes the event (the test account, its credential), that `match` fits the event as the API serves it, and the vendor's status page; `sluice status` shows the source's runs)",
                rfc3339_millis(*triggered),
                rfc3339_millis(*deadline),
                last_seen.map_or_else(|| "none".to_string(), rfc3339_millis)
            ),
            Canary::Failed(failed) => format!(
                "the canary request at {} failed: {} (hint: fix the request's URL or credential; it is sent again at the next run)",
                rfc3339_millis(failed.at),
                failed.error
            ),
        }
    }
}

/// Where `state` stands at `now` under `config`.
pub fn judge(config: &CanaryConfig, state: &CanaryState, now: DateTime<Utc>) -> Canary {
    if let Some(failed) = &state.failed {
        return Canary::Failed(failed.clone());
    }
    let Some(triggered) = state.triggered else {
        return Canary::NotYet;
    };
    let skew = TimeDelta::from_std(CLOCK_SKEW.min(config.every / 4)).unwrap_or_default();
    if let Some(seen) = state.seen.filter(|seen| *seen >= triggered - skew) {
        return Canary::Seen { triggered, seen };
    }
    let deadline = triggered + TimeDelta::from_std(config.within).unwrap_or(TimeDelta::MAX);
    if now > deadline {
        Canary::Overdue {
            triggered,
            deadline,
            last_seen: state.seen,
        }
    } else {
        Canary::Waiting {
            triggered,
            deadline,
        }
    }
}

/// Whether a scheduled run at `now` sends the request: none sent yet, the last one failed, or
/// `every` has passed since the last one.
pub fn due(config: &CanaryConfig, state: &CanaryState, now: DateTime<Utc>) -> bool {
    match (state.triggered, &state.failed) {
        (_, Some(_)) | (None, None) => true,
        (Some(triggered), None) => (now - triggered)
            .to_std()
            .is_ok_and(|since| since >= config.every),
    }
}

/// A canary request that failed: its method and URL (credentials left out) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryError {
    /// `POST https://...`, without credentials.
    pub request: String,
    /// The answer or the transport failure, scrubbed of secrets.
    pub detail: String,
}

impl std::fmt::Display for CanaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.request, self.detail)
    }
}

impl std::error::Error for CanaryError {}

/// The request as logs show it: method and URL, without credentials.
pub fn shown(config: &CanaryConfig) -> String {
    let url = match url::Url::parse(&config.request.url) {
        Ok(url) => crate::net::display_url(&url),
        // The loader refuses such a URL; show it scrubbed anyway.
        Err(_) => config.request.url.clone(),
    };
    format!(
        "{} {}",
        config.request.method.as_str(),
        crate::redact::scrub(&url)
    )
}

/// Sends the canary request; a 2xx answer is success.
pub async fn trigger(config: &CanaryConfig) -> Result<(), CanaryError> {
    let request = &config.request;
    let fail = |detail: String| CanaryError {
        request: shown(config),
        detail: crate::redact::scrub(&detail).into_owned(),
    };
    let client = crate::net::ClientOptions::new(request.timeout)
        .build()
        .map_err(|err| fail(err.to_string()))?;
    let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
        // A fixed list of standard methods, each a valid token.
        .map_err(|err| fail(err.to_string()))?;
    let mut builder = client.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.expose());
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.expose().to_string());
    }
    let mut response = builder
        .send()
        .await
        .map_err(|err| fail(crate::net::describe(&err)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let excerpt = crate::net::read_excerpt(&mut response, EXCERPT)
        .await
        .map(|body| String::from_utf8_lossy(&body).trim().to_string())
        .unwrap_or_default();
    Err(fail(if excerpt.is_empty() {
        format!("answered HTTP {}", status.as_u16())
    } else {
        format!("answered HTTP {}: {excerpt}", status.as_u16())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CanaryConfig {
        toml::from_str(
            r#"
every = "1h"
within = "15m"
request = { url = "https://user:pw@acme.example.com/api/v1/authn" }
match = { path = "actor.alternateId", equals = "canary@example.com" }
"#,
        )
        .unwrap()
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::minutes(minutes)
    }

    #[test]
    fn an_event_after_the_request_is_seen_and_none_by_the_deadline_is_overdue() {
        let config = config();
        let mut state = CanaryState::default();
        assert_eq!(judge(&config, &state, t(0)), Canary::NotYet);
        state.triggered = Some(t(0));
        assert!(matches!(
            judge(&config, &state, t(15)),
            Canary::Waiting { .. }
        ));
        let overdue = judge(&config, &state, t(16));
        assert!(overdue.is_bad(), "{overdue:?}");
        assert!(
            overdue.reason().contains("caused no delivered event"),
            "{}",
            overdue.reason()
        );
        // The event of an earlier request does not count for this one...
        state.seen = Some(t(-60));
        assert!(matches!(
            judge(&config, &state, t(16)),
            Canary::Overdue { .. }
        ));
        // ...one dated a few seconds before it does (clocks differ), and clears it.
        state.seen = Some(t(0) - TimeDelta::seconds(10));
        assert!(matches!(judge(&config, &state, t(16)), Canary::Seen { .. }));
        // A failed request is what counts until one succeeds.
        state.failed = Some(CanaryFailure {
            at: t(60),
            error: "POST https://acme.example.com/api/v1/authn: answered HTTP 500".into(),
        });
        let failed = judge(&config, &state, t(61));
        assert_eq!(failed.state(), "request_failed");
        assert!(failed.is_bad());
    }

    #[test]
    fn the_request_is_due_first_after_every_and_again_after_a_failure() {
        let config = config();
        let mut state = CanaryState::default();
        assert!(due(&config, &state, t(0)));
        state.triggered = Some(t(0));
        assert!(!due(&config, &state, t(59)));
        assert!(due(&config, &state, t(60)));
        state.failed = Some(CanaryFailure {
            at: t(1),
            error: "x".into(),
        });
        assert!(due(&config, &state, t(2)));
    }

    #[test]
    fn the_request_is_shown_without_its_credentials() {
        assert_eq!(
            shown(&config()),
            "POST https://acme.example.com/api/v1/authn"
        );
    }
}
