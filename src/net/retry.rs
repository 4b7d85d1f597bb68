//! When to try a request again: the server's `Retry-After`, else exponential backoff with
//! jitter.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// `Retry-After`, in seconds or as an HTTP date (RFC 9110 allows both; proxies and some
/// collectors send the date). A date in the past is no wait.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    chrono::DateTime::parse_from_rfc2822(value).ok().map(|at| {
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    })
}

/// Exponential backoff from `min` (at most `max`) up to `max` per pause, with jitter so that clients that
/// failed together do not retry together, and no limit of its own (callers count attempts).
pub fn backoff(min: Duration, max: Duration) -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(min.min(max))
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let at = (Utc::now() + chrono::TimeDelta::seconds(30)).to_rfc2822();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&at).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_and_stays_within_its_cap() {
        let max = Duration::from_secs(2);
        let pauses: Vec<Duration> = backoff(Duration::from_millis(100), max).take(12).collect();
        assert_eq!(pauses.len(), 12, "no limit of its own");
        // Jitter adds up to one more delay on top of the capped exponential.
        assert!(pauses.iter().all(|p| *p <= max * 2), "{pauses:?}");
        assert!(pauses[11] > pauses[0], "{pauses:?}");
    }
}
