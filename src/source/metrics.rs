//! What the source's HTTP client counts, per source: requests by status, retries, time spent
//! waiting on rate limits, and bytes read. Recorded through the `metrics` facade (free when no
//! recorder is installed); `sluice serve` renders them at `/metrics`.

use std::time::Duration;

/// Requests sent to the API, by `status` (the HTTP status code, or `error` when no answer
/// came: a refused connection, a timeout).
pub const REQUESTS: &str = "sluice_http_requests_total";
/// Requests sent again after a failed attempt.
pub const RETRIES: &str = "sluice_http_retries_total";
/// Waits on rate limits, in seconds (a histogram: its `_sum` is the time spent waiting): the
/// configured budget, and pauses the API asked for.
pub const RATE_LIMIT_WAIT: &str = "sluice_rate_limit_wait_seconds";
/// Bytes of response bodies read.
pub const RESPONSE_BYTES: &str = "sluice_http_response_bytes_total";

/// Registers the help text of each metric with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        REQUESTS,
        "Requests sent to the source's API, by HTTP status (error: no answer)."
    );
    describe_counter!(
        RETRIES,
        "Requests to the source's API sent again after a failed attempt."
    );
    describe_histogram!(
        RATE_LIMIT_WAIT,
        Unit::Seconds,
        "Seconds spent waiting on the source's rate limit (its budget, and pauses the API asked for)."
    );
    describe_counter!(
        RESPONSE_BYTES,
        Unit::Bytes,
        "Bytes of response bodies read from the source's API."
    );
}

/// Registers the source's counters at zero, so they exist from the start.
pub fn register(source: &str) {
    for name in [RETRIES, RESPONSE_BYTES] {
        metrics::counter!(name, "source" => source.to_string()).increment(0);
    }
}

/// Records one answer (`Some(status)`) or one request that got none (`None`).
pub fn request(source: &str, status: Option<u16>) {
    let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    metrics::counter!(REQUESTS, "source" => source.to_string(), "status" => status).increment(1);
}

/// Records one retry.
pub fn retry(source: &str) {
    metrics::counter!(RETRIES, "source" => source.to_string()).increment(1);
}

/// Records one wait on a rate limit (waits under a millisecond are not worth a sample).
pub fn rate_limit_wait(source: &str, waited: Duration) {
    if waited < Duration::from_millis(1) {
        return;
    }
    metrics::histogram!(RATE_LIMIT_WAIT, "source" => source.to_string())
        .record(waited.as_secs_f64());
}

/// Records bytes of a response body.
pub fn response_bytes(source: &str, bytes: usize) {
    metrics::counter!(RESPONSE_BYTES, "source" => source.to_string()).increment(bytes as u64);
}
