//! Reading an API's rate-limit signals: `Retry-After`, the remaining-requests and reset
//! headers named in `rate_limit`, and which error answers are rate limits (a 429, or a 403
//! that carries those headers, as GitHub sends).

use std::time::Duration;

use chrono::Utc;
use reqwest::header::{HeaderMap, RETRY_AFTER};

pub(super) use crate::net::retry_after;
use reqwest::StatusCode;

use crate::source::config::{RateLimitConfig, ResetFormat};

/// Whether a rate-limit remaining header (`rate_limit.remaining_headers`) says 0.
pub(super) fn none_remaining(headers: &HeaderMap, rate: &RateLimitConfig) -> bool {
    let remaining = rate.remaining_headers.iter().find_map(|name| {
        headers
            .get(name.as_str())?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    });
    remaining == Some(0)
}

/// Whether an error answer is a rate limit: a 429, or a 403 with `Retry-After` or a remaining
/// count of 0 (GitHub answers a spent rate limit so).
pub(super) fn rate_limited(
    status: StatusCode,
    headers: &HeaderMap,
    rate: &RateLimitConfig,
) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (headers.contains_key(RETRY_AFTER) || none_remaining(headers, rate)))
}

/// Whether a 403's `body` names a rate limit: it contains one of
/// `rate_limit.forbidden_markers` (Google's `userRateLimitExceeded`, which comes without any
/// rate-limit header).
pub(super) fn forbidden_by_quota(status: StatusCode, body: &[u8], rate: &RateLimitConfig) -> bool {
    status == StatusCode::FORBIDDEN
        && !rate.forbidden_markers.is_empty()
        && rate.forbidden_markers.iter().any(|marker| {
            !marker.is_empty() && body.windows(marker.len()).any(|w| w == marker.as_bytes())
        })
}

/// How long the server asked us to wait: `Retry-After` (seconds or HTTP date), else the
/// configured rate-limit reset header.
pub(super) fn server_wait(headers: &HeaderMap, rate: &RateLimitConfig) -> Option<Duration> {
    retry_after(headers).or_else(|| reset_wait(headers, rate))
}

/// Time until the rate limit resets, from the configured reset header.
pub(super) fn reset_wait(headers: &HeaderMap, rate: &RateLimitConfig) -> Option<Duration> {
    let wait_ms = rate.reset_headers.iter().find_map(|name| {
        let text = headers.get(name.as_str())?.to_str().ok()?.trim();
        let now_ms = Utc::now().timestamp_millis() as f64;
        match rate.reset_format {
            ResetFormat::EpochSeconds => Some(text.parse::<f64>().ok()? * 1000.0 - now_ms),
            ResetFormat::EpochMillis => Some(text.parse::<f64>().ok()? - now_ms),
            ResetFormat::DeltaSeconds => Some(text.parse::<f64>().ok()? * 1000.0),
            ResetFormat::Iso8601 => Some(iso8601(text)?.timestamp_millis() as f64 - now_ms),
        }
    })?;
    // A reset in the past still deserves a short pause, not a hot retry.
    Some(Duration::from_millis(wait_ms.clamp(100.0, 1e12) as u64))
}

/// An ISO 8601 UTC time with or without seconds (`2026-03-26T16:00Z`).
fn iso8601(text: &str) -> Option<chrono::DateTime<Utc>> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    chrono::NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_wins_over_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("1"));
        assert_eq!(
            server_wait(&headers, &RateLimitConfig::default()),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn rate_limit_reset_is_an_epoch_time() {
        let mut headers = HeaderMap::new();
        let reset = (Utc::now().timestamp() + 3).to_string();
        headers.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = server_wait(&headers, &RateLimitConfig::default()).unwrap();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
    }

    #[test]
    fn a_server_error_waits_for_retry_after_but_not_for_the_rate_limit_reset() {
        let mut headers = HeaderMap::new();
        let reset = (Utc::now().timestamp() + 50).to_string();
        headers.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
        assert_eq!(retry_after(&headers), None, "a 5xx falls back to backoff");
        assert!(
            server_wait(&headers, &RateLimitConfig::default()).unwrap() > Duration::from_secs(40),
            "a 429 waits for the reset"
        );
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_reset_can_be_an_iso_time_with_or_without_seconds() {
        let rate = RateLimitConfig {
            reset_headers: vec!["x-ratelimit-reset".into()],
            reset_format: ResetFormat::Iso8601,
            ..RateLimitConfig::default()
        };
        let soon = Utc::now() + chrono::TimeDelta::seconds(90);
        for text in [
            soon.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            soon.format("%Y-%m-%dT%H:%MZ").to_string(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-ratelimit-reset", HeaderValue::from_str(&text).unwrap());
            let wait = server_wait(&headers, &rate).unwrap();
            assert!(
                wait > Duration::from_secs(25) && wait <= Duration::from_secs(90),
                "{text}: {wait:?}"
            );
        }
    }

    #[test]
    fn a_reset_can_be_an_epoch_time_in_milliseconds() {
        // LaunchDarkly: "the time at which the current rate limit window resets in epoch
        // milliseconds". Read as seconds it would be a wait of millennia.
        let rate = RateLimitConfig {
            reset_headers: vec!["x-ratelimit-reset".into()],
            reset_format: ResetFormat::EpochMillis,
            ..RateLimitConfig::default()
        };
        let mut headers = HeaderMap::new();
        let reset = (Utc::now().timestamp_millis() + 2_500).to_string();
        headers.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = server_wait(&headers, &rate).unwrap();
        assert!(
            wait > Duration::from_millis(1_500) && wait <= Duration::from_millis(2_500),
            "{wait:?}"
        );
    }

    #[test]
    fn reset_header_names_and_formats_are_configurable() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-reset", HeaderValue::from_static("2"));
        let rate = RateLimitConfig {
            reset_headers: vec!["ratelimit-reset".into()],
            reset_format: ResetFormat::DeltaSeconds,
            ..RateLimitConfig::default()
        };
        assert_eq!(server_wait(&headers, &rate), Some(Duration::from_secs(2)));
        assert_eq!(server_wait(&headers, &RateLimitConfig::default()), None);
    }

    #[test]
    fn a_403_with_rate_limit_headers_is_a_rate_limit_and_waits_for_the_reset() {
        let rate = RateLimitConfig::default();
        let forbidden = StatusCode::FORBIDDEN;
        assert!(!rate_limited(forbidden, &HeaderMap::new(), &rate));
        let mut github = HeaderMap::new();
        github.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (Utc::now().timestamp() + 30).to_string();
        github.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        assert!(rate_limited(forbidden, &github, &rate));
        let wait = server_wait(&github, &rate).unwrap();
        assert!(wait > Duration::from_secs(20), "{wait:?}");
        let mut secondary = HeaderMap::new();
        secondary.insert("retry-after", HeaderValue::from_static("60"));
        assert!(rate_limited(forbidden, &secondary, &rate));
        // Requests left: a plain permission problem.
        let mut left = HeaderMap::new();
        left.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        assert!(!rate_limited(forbidden, &left, &rate));
        // The header names come from rate_limit.remaining_headers.
        let mut custom = HeaderMap::new();
        custom.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(!rate_limited(forbidden, &custom, &rate));
        let named = RateLimitConfig {
            remaining_headers: vec!["ratelimit-remaining".into()],
            ..RateLimitConfig::default()
        };
        assert!(rate_limited(forbidden, &custom, &named));
        // Other statuses are not read for rate limits, apart from 429.
        assert!(!rate_limited(StatusCode::UNAUTHORIZED, &github, &rate));
        assert!(rate_limited(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            &rate
        ));
    }

    #[test]
    fn a_403_whose_body_names_a_quota_marker_is_a_rate_limit() {
        let google = br#"{"error":{"code":403,"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#;
        let denied = br#"{"error":{"code":403,"errors":[{"reason":"forbidden"}]}}"#;
        let rate = RateLimitConfig {
            forbidden_markers: vec!["rateLimitExceeded".into(), "userRateLimitExceeded".into()],
            ..RateLimitConfig::default()
        };
        assert!(forbidden_by_quota(StatusCode::FORBIDDEN, google, &rate));
        assert!(!forbidden_by_quota(StatusCode::FORBIDDEN, denied, &rate));
        // Only a 403, and only when markers are configured.
        assert!(!forbidden_by_quota(StatusCode::BAD_REQUEST, google, &rate));
        let none = RateLimitConfig::default();
        assert!(!forbidden_by_quota(StatusCode::FORBIDDEN, google, &none));
    }
}
